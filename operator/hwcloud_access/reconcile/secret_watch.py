"""How the operator learns that a Secret it uses changed, appeared or went away.

kopf lists and watches only the Secrets labelled CREDENTIALS_LABEL=true (a label selector in
the requests: the API server sends it no other Secret), and `seen` handles what that watch
shows at once. A Secret in use without the label (or not there yet) is not in that watch:
`poll` reads each such Secret again every resync interval and handles a new version the
same way, so a change of it takes effect at the next resync and a cached copy of it is never
older than that.
"""

from __future__ import annotations

import asyncio
import logging

from kubernetes.client.exceptions import ApiException

from .acting import Acting, always_acting
from .kube import CREDENTIALS_SELECTOR, Kube
from .registry import Wake
from .secret_refs import SecretRefs

log = logging.getLogger(__name__)

WATCHED = "credentials Secret changed"
POLLED = f"credentials Secret changed (found at the resync: it lacks {CREDENTIALS_SELECTOR})"


class SecretWatch:
    def __init__(self, kube: Kube, refs: SecretRefs, wake: Wake, interval: float,
                 acting: Acting = always_acting) -> None:
        self.kube = kube
        self.refs = refs
        self.wake = wake
        self.interval = interval
        self.acting = acting

    async def seen(self, namespace: str, name: str, resource_version: str,
                   why: str = WATCHED) -> None:
        """This version of the Secret is current ("": there is none): a cached other one is
        dropped, and the resources and accounts using it are woken if it is new to them."""
        self.kube.forget_secret(namespace, name, resource_version)
        woken = self.refs.changed(namespace, name, resource_version)
        await asyncio.gather(*(self.wake(key, why) for key in woken))

    async def poll(self) -> None:
        """Reads again every Secret in use that the watch does not show; nothing while
        another replica acts (kopf's peering pauses this one)."""
        unseen = [secret for secret in self.refs.secrets() if not self.kube.labelled(*secret)]
        if not unseen or not await self.acting():
            return
        results = await asyncio.gather(*(self._read_again(*secret) for secret in unseen),
                                       return_exceptions=True)
        failed = [result for result in results if isinstance(result, Exception)]
        if failed:
            first = failed[0]
            why = f"HTTP {first.status}" if isinstance(first, ApiException) else repr(first)
            log.warning("re-reading %d unlabelled Secret(s) failed (%s); tried again at the "
                        "next resync", len(failed), why)

    async def _read_again(self, namespace: str, name: str) -> None:
        secret = await self.kube.read_secret(namespace, name)
        await self.seen(namespace, name, secret.resource_version if secret else "", POLLED)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.poll()
