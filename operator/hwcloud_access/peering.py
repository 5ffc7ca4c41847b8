"""High availability: replicas on one kopf peering, exactly one of them acting.

kopf's peering (kopf/_core/engines/peering.py) keeps each replica's entry (priority, lifetime,
lastseen) in the status of a ClusterKopfPeering, or of a KopfPeering in each watched namespace,
and refreshes it every `lifetime` minus 5 to 10 s. A replica pauses (its watch streams close,
so no handler starts) while it sees a live entry with a higher priority, or with its own
priority (then every replica pauses). With `--peering` it starts paused and decides on its
first read of the peering object. What kopf leaves open, this module adds:

- Failover: an entry counts as dead `lifetime` after its last refresh. LIFETIME is 10 s, so a
  standby acts at most about 10 s after the active replica died without a word (kopf's default
  is 60 s); each replica then refreshes its entry every 1 to 5 s, 22 writes a minute on
  average. On a clean exit kopf removes the entry at once.
- Starting together: two replicas that both read the peering object before either has written
  to it both see nobody and both act. Here a replica writes its entry before kopf starts, and
  kopf decides SETTLE_SECONDS later: two replicas whose entries are written less than that
  apart see each other when they decide and agree which one acts; one written later finds the
  earlier one, which has the higher priority, and stands by (if the nodes' clocks agree within
  a few seconds, as kopf's lifetimes need too).
- Priorities are distinct and follow the order of registration, the earliest highest: a
  replica that starts while another acts stands by, and never takes over from it in the middle
  of its work (a priority drawn from the pod's name would let half the new pods of a rolling
  update do that). Registrations in the same millisecond are ordered by a hash of the
  replica's identity; should a tie show all the same, the replica registers again. A given
  priority (--priority) that a live replica holds stops this one at start (kopf would pause
  both, and every other replica, for as long as both live).
- Background loops: kopf pauses its watches and handlers, nothing else, and keeps its pause
  state to itself. The drift sweep and the Secret poll ask `Replica.acting` before each
  round, which applies kopf's rule to a fresh read of the peering objects.
- Leaving (SIGTERM, SIGINT): kopf would remove the entry while its handlers still finish (for
  up to 2 s), and the standby would act meanwhile. Instead a "leaving" entry one above the
  replica's own pauses every replica, itself included; kopf stops, and the clean-up, which
  runs once kopf's handlers are gone, removes it: the next replica acts at once.
"""

from __future__ import annotations

import asyncio
import functools
import getpass
import hashlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import kopf
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from .reconcile.acting import Acting, always_acting

LIFETIME = 10  # seconds an entry counts as alive after its last refresh
SETTLE_SECONDS = 5.0  # from writing the entry at start to kopf's first decision
LEAVING_SUFFIX = "/leaving"  # the identity of a leaving replica's pausing entry
PRIORITY_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z
RANK_MS = 1 << 40  # the milliseconds after the epoch that priorities tell apart (into 2058)
TIEBREAK_BITS = 20
# What kopf takes for a namespace pattern rather than a name (select_specific_namespaces).
PATTERN_CHARS = "*?!,"
GROUP, VERSION = "kopf.dev", "v1"
log = logging.getLogger(__name__)


def replica_identity(env: Mapping[str, str] = os.environ) -> str:
    """The pod's name (POD_ID, which kopf reads too), else user@host/pid for a local run."""
    return env.get("POD_ID") or f"{getpass.getuser()}@{socket.gethostname()}/{os.getpid()}"


def derived_priority(identity: str, registered: float) -> int:
    """Higher for an earlier registration (`registered`: epoch seconds); within the same
    millisecond the identity's hash decides. Always below 2**60."""
    rank = RANK_MS - round((registered - PRIORITY_EPOCH) * 1000)
    digest = int.from_bytes(hashlib.sha256(identity.encode()).digest()[:4], "big")
    return rank << TIEBREAK_BITS | digest >> (32 - TIEBREAK_BITS)


def live_priorities(status: Mapping[str, Any], now: datetime) -> dict[str, int]:
    """The entries of a peering object's status that kopf counts as alive: identity ->
    priority (malformed entries are left out)."""
    live = {}
    for identity, entry in status.items():
        try:
            lastseen = datetime.fromisoformat(entry["lastseen"])
            lifetime = timedelta(seconds=int(entry.get("lifetime", 60)))
            priority = int(entry.get("priority", 0))
        except (KeyError, TypeError, ValueError):
            continue
        if lastseen + lifetime > now:
            live[identity] = priority
    return live


class PeeringObjectMissing(LookupError):
    """A peering object deleted after the start."""


class PeeringObject:
    """One ClusterKopfPeering (namespace None) or KopfPeering, through the kubernetes client
    (kopf's own API calls are not available before its start-up handlers have finished)."""

    def __init__(self, api: client.CustomObjectsApi, name: str, namespace: str | None) -> None:
        self.api = api
        self.name = name
        self.namespace = namespace

    def __str__(self) -> str:
        if self.namespace is None:
            return f"ClusterKopfPeering {self.name}"
        return f"KopfPeering {self.namespace}/{self.name}"

    async def _call(self, verb: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if self.namespace is None:
            call = functools.partial(getattr(self.api, f"{verb}_cluster_custom_object"),
                                     GROUP, VERSION, "clusterkopfpeerings", *args, **kwargs)
        else:
            call = functools.partial(getattr(self.api, f"{verb}_namespaced_custom_object"),
                                     GROUP, VERSION, self.namespace, "kopfpeerings", *args,
                                     **kwargs)
        try:
            return await asyncio.to_thread(call)
        except ApiException as error:
            if error.status == 404:
                raise kopf.TemporaryError(f"{self} not found: this replica waits for it (the "
                                          "chart creates it; see the README)", delay=5) from None
            raise

    async def write(self, identity: str, priority: int | None) -> None:
        """Sets the entry of `identity` as kopf writes its own (None: removes it)."""
        entry = None if priority is None else {
            "priority": priority, "lifetime": LIFETIME,
            "lastseen": datetime.now(UTC).isoformat()}
        await self._call("patch", self.name, {"status": {identity: entry}})

    async def live(self) -> dict[str, int]:
        """The live entries, read as kopf reads them: by a list (kopf's RBAC has no get)."""
        listing = await self._call("list", field_selector=f"metadata.name={self.name}")
        if not listing["items"]:
            raise PeeringObjectMissing(f"{self} not found")
        return live_priorities(listing["items"][0].get("status") or {}, datetime.now(UTC))


def _custom_objects_api() -> client.CustomObjectsApi:
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.CustomObjectsApi()


class Replica:
    """This operator's part in a peering: kopf's options, the registration before kopf
    starts (a start-up handler) and the leaving (SIGTERM/SIGINT, then a clean-up handler)."""

    def __init__(self, name: str, namespaces: Sequence[str], priority: int | None,
                 identity: str) -> None:
        self.name = name
        self.namespaces = list(namespaces)
        self.given_priority = priority
        self.identity = identity
        self.priority = priority or 0
        self.stop_flag = asyncio.Event()  # kopf stops when it is set
        self._objects: list[PeeringObject] = []
        self._leaving: asyncio.Task[None] | None = None
        self._marked = False
        self._acted = False  # what `acting` found last

    def kopf_options(self) -> dict[str, Any]:
        return {"standalone": False, "peering_name": self.name, "identity": self.identity,
                "priority": self.given_priority, "stop_flag": self.stop_flag}

    async def _write(self, identity: str, priority: int | None) -> None:
        await asyncio.gather(*(obj.write(identity, priority) for obj in self._objects))

    async def _others(self) -> list[tuple[str, int]]:
        """The other live entries of all the peering objects: (identity, priority)."""
        found = await asyncio.gather(*(obj.live() for obj in self._objects))
        return [(identity, priority) for live in found for identity, priority in live.items()
                if identity != self.identity]

    async def _tied(self) -> set[str]:
        """Other live replicas with this one's priority, in any of the peering objects (not
        a leaving entry: it is gone within seconds)."""
        return {identity for identity, priority in await self._others()
                if priority == self.priority and not identity.endswith(LEAVING_SUFFIX)}

    def _stop_if_held(self, tied: set[str]) -> None:
        """A given priority that live replicas hold too stops this one (SystemExit: kopf
        would only log it, and pause every replica)."""
        if tied:
            raise SystemExit(f"hwcloud-access run: --priority {self.priority} is held by the "
                             f"live replica(s) {', '.join(sorted(tied))} on peering "
                             f"{self.name!r}: kopf would pause all of them; give each "
                             "replica a priority of its own, or none (then the registration "
                             "order decides)")

    async def acting(self) -> bool:
        """Whether kopf lets this replica act now, by kopf's own rule (its
        process_peering_event) on a fresh read: no other live entry has this replica's
        priority or a higher one. False before the registration, and when the peering
        objects cannot be read. A peering object deleted after the start leaves kopf with
        its last decision (its keep-alives find nothing, no event changes it): this too."""
        if not self._objects:
            return False
        try:
            others = await self._others()
        except PeeringObjectMissing as missing:
            log.warning("%s: this replica keeps its last decision (%s), as kopf does", missing,
                        "acting" if self._acted else "paused")
            return self._acted
        except Exception as error:
            why = f"HTTP {error.status}" if isinstance(error, ApiException) else error
            log.warning("Cannot tell whether this replica acts (%s): the drift sweep and the "
                        "Secret poll wait for their next round", why)
            return False
        self._acted = all(priority < self.priority for _, priority in others)
        return self._acted

    async def register(self, settings: kopf.OperatorSettings, logger: Any, **_: Any) -> None:
        """Before kopf's peering starts: kopf's settings, then this replica's entry, written
        SETTLE_SECONDS before kopf first decides whether to act."""
        settings.peering.lifetime = LIFETIME
        settings.peering.stealth = True  # no log line for each keep-alive
        api = await asyncio.to_thread(_custom_objects_api)
        self._objects = [PeeringObject(api, self.name, namespace)
                         for namespace in self.namespaces or [None]]
        while True:
            if self.given_priority is None:
                self.priority = derived_priority(self.identity, time.time())
            else:  # before writing: a replica acting with this priority goes on acting
                self._stop_if_held(await self._tied())
            await self._write(self.identity, self.priority)
            await asyncio.sleep(SETTLE_SECONDS)
            tied = await self._tied()
            if not tied:
                break
            if self.given_priority is not None:  # registered together: none stays
                await self._write(self.identity, None)
                self._stop_if_held(tied)
            logger.warning(f"{sorted(tied)} registered with the same priority: registering "
                           "again")
        settings.peering.priority = self.priority
        if threading.current_thread() is threading.main_thread():  # where kopf sets its own
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):  # in place of kopf's
                loop.add_signal_handler(signum, self._signalled, logger)
        logger.info(f"In peering {self.name!r} as {self.identity!r} with priority "
                    f"{self.priority}: the replica with the highest live priority acts.")

    def _signalled(self, logger: Any) -> None:
        """The first SIGTERM/SIGINT pauses every replica, then stops kopf; a second one
        stops kopf at once."""
        if self._leaving is None:
            self._leaving = asyncio.create_task(self._leave(logger))
        else:
            self.stop_flag.set()

    async def _leave(self, logger: Any) -> None:
        try:
            await self._write(self.identity + LEAVING_SUFFIX, self.priority + 1)
            self._marked = True
            logger.info("Leaving: every replica pauses until this one has stopped.")
        except Exception as error:  # stop all the same: the standby takes over as in kopf
            logger.warning(f"Leaving without pausing the other replicas: {error}")
        self.stop_flag.set()

    async def unregister(self, **_: Any) -> None:
        """After kopf's handlers are gone: the next replica may act."""
        if self._marked:
            await self._write(self.identity + LEAVING_SUFFIX, None)


class Membership(NamedTuple):
    kopf_options: dict[str, Any]  # kopf.run's peering options
    acting: Acting  # whether this replica acts now


def join(name: str | None, priority: int | None, namespaces: Sequence[str]) -> Membership:
    """kopf.run's peering options and this replica's `acting`; with a peering, its
    registration and leaving are set up as kopf handlers."""
    if name is None:
        return Membership({"standalone": True}, always_acting)
    patterns = [namespace for namespace in namespaces
                if any(char in namespace for char in PATTERN_CHARS)]
    if patterns:
        raise SystemExit(f"hwcloud-access run: --peering needs namespaces by name, not "
                         f"patterns ({', '.join(patterns)}): each replica registers in the "
                         "KopfPeering of each namespace before it starts")
    replica = Replica(name, namespaces, priority, replica_identity())
    kopf.on.startup(id="peering")(replica.register)
    kopf.on.cleanup(id="peering")(replica.unregister)
    return Membership(replica.kopf_options(), replica.acting)
