"""Which cloud session a resource uses: its `accountRef` (a HuaweiCloudAccount and its
credentials Secret) or the operator's default account from the environment (HW_*).

A HuaweiCloudAccount's Secret is watched (SecretRefs): a change, deletion or creation wakes
the account, whose handler re-reads it (`Accounts.check`). The account's Ready condition
says whether it can be used: the cloud accepted its credentials (CloudSession.verify). When
that changes the handler wakes the resources naming it, which wait (woken, not retried)
while it cannot.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pydantic import SecretStr, ValidationError

from ..api import HUAWEI_CLOUD_ACCOUNT
from ..api.account import HuaweiCloudAccountSpec
from ..api.base import AllowedNamespaces
from ..cloud import AccountConfig, AuthError, CloudError, CloudSession
from .kube import Kube, SecretData
from .outcome import (
    AccountNotAllowed,
    AuthFailed,
    CloudBusy,
    DependencyNotReady,
    InvalidInput,
    Next,
    Outcome,
    Reason,
    ReconcileProblem,
)
from .registry import BackgroundWakes, ObjectKey
from .secret_refs import SecretRefs
from .tenancy import ALL, NamespaceLabels, admits

log = logging.getLogger(__name__)

DEFAULT = ""  # cache key of the default account
AKSK_KEYS = ("accessKey", "secretKey")
IAM_KEYS = ("domain", "user", "password")
# An account in use is looked at again after 1, 2, 4, 8 s, then every 15 s: kopf runs a
# handler that asked to be retried only once its delay is over, whatever wakes it.
IN_USE_MAX_DELAY = 15.0
MakeSession = Callable[[AccountConfig, Callable[[], None] | None], CloudSession]


def account_key(name: str) -> ObjectKey:
    """How the operator's tables (SecretRefs) name a HuaweiCloudAccount."""
    return ObjectKey(HUAWEI_CLOUD_ACCOUNT.kind, "", name)


def default_account_from_env(env: Mapping[str, str] = os.environ) -> AccountConfig | None:
    """HW_REGION_NAME, HW_PROJECT_ID, HW_ACCESS_KEY, HW_SECRET_KEY (+ HW_*_ENDPOINT)."""
    if not env.get("HW_REGION_NAME"):
        return None
    missing = [k for k in ("HW_PROJECT_ID", "HW_ACCESS_KEY", "HW_SECRET_KEY") if not env.get(k)]
    if missing:
        raise ValueError(f"default account: HW_REGION_NAME is set but {', '.join(missing)} not")
    return AccountConfig(
        region=env["HW_REGION_NAME"], project_id=env["HW_PROJECT_ID"],
        access_key=SecretStr(env["HW_ACCESS_KEY"]), secret_key=SecretStr(env["HW_SECRET_KEY"]),
        vpn_endpoint=env.get("HW_VPN_ENDPOINT") or None,
        dms_endpoint=env.get("HW_DMS_ENDPOINT") or None,
        iam_endpoint=env.get("HW_IAM_ENDPOINT") or None,
    )


def account_config(spec: HuaweiCloudAccountSpec, secret: SecretData | None) -> AccountConfig:
    """The client configuration of an account resource, from its Secret as read. The
    problems are `woken`: the Secret's watch wakes the account, and the account its users."""
    ref = spec.credentials_secret_ref
    if secret is None:
        raise DependencyNotReady(f"credentials Secret {ref.namespace}/{ref.name} not found",
                                 woken=True)
    keys = AKSK_KEYS if spec.auth_type == "AKSK" else IAM_KEYS
    missing = [k for k in keys if not secret.data.get(k)]
    if missing:
        raise InvalidInput(f"credentials Secret {ref.namespace}/{ref.name} lacks "
                           f"{', '.join(missing)} (needed for authType {spec.auth_type})",
                           woken=True)
    common = {"region": spec.region, "project_id": spec.project_id,
              "vpn_endpoint": spec.endpoints.vpn, "dms_endpoint": spec.endpoints.dms,
              "iam_endpoint": spec.endpoints.iam}
    if spec.auth_type == "AKSK":
        return AccountConfig(**common, access_key=SecretStr(secret.data["accessKey"]),
                             secret_key=SecretStr(secret.data["secretKey"]))
    return AccountConfig(**common, iam_domain=secret.data["domain"], iam_user=secret.data["user"],
                         iam_password=SecretStr(secret.data["password"]))


def deletion_outcome(users: int, attempt: int) -> Outcome:
    """A deleted account waits while `users` resources name it in spec.accountRef (how many,
    not which: tenants must not learn each other's names), then goes. Never terminal: kopf
    would release the finalizer."""
    if users:
        return Outcome(ready=False, reason=Reason.IN_USE,
                       message=f"{users} resource(s) still name this account in "
                       "spec.accountRef; it is deleted once none does",
                       next=Next.REQUEUE, delay=min(2.0 ** attempt, IN_USE_MAX_DELAY),
                       synced=False, synced_reason=Reason.IN_USE)
    return Outcome(ready=False, reason=Reason.DELETING, message="no resource uses it")


@dataclass(frozen=True)
class _Usable:
    """An account its resources may use: its session, and where its credentials came from
    (for messages)."""

    session: CloudSession
    source: str


@dataclass
class _Entry:
    """One account as last read."""

    generation: int = -1  # the account's `forget` count when it was read
    checked_at: float = float("-inf")
    # The session of the configuration last read, and that configuration; kept while the
    # account cannot be used: it may come back as it was.
    config: AccountConfig | None = None
    session: CloudSession | None = None
    # What a resource gets: the session, or why the account cannot be used.
    state: _Usable | ReconcileProblem = field(
        default_factory=lambda: DependencyNotReady("the account has not been read yet"))
    # Which namespaces may use it: read from the account before its Secret, so that a
    # namespace it does not admit learns nothing of the rest.
    allowed: AllowedNamespaces | None = None


class Accounts:
    """Cloud sessions by account name, re-read at most every `ttl` seconds, and at once after
    `forget` (the account or its Secret changed), so that a change takes effect without a
    restart. While an account cannot be used, that is remembered as long and every pass on
    it gets the same problem without reading it again."""

    def __init__(self, kube: Kube, default: AccountConfig | None, make_session: MakeSession,
                 secret_refs: SecretRefs, namespaces: NamespaceLabels,
                 default_allowed: AllowedNamespaces = ALL, ttl: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kube = kube
        self.default = default
        self.default_allowed = default_allowed
        self.namespaces = namespaces
        self.make_session = make_session
        self.secret_refs = secret_refs
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._generations: defaultdict[str, int] = defaultdict(int)
        self._locks: dict[str, asyncio.Lock] = {}
        self._rechecks: dict[str, asyncio.TimerHandle] = {}
        self._wakes = BackgroundWakes(lambda key, why: self.kube.wake(key, why))

    async def session(self, account_name: str | None, namespace: str, *,
                      deleting: bool = False) -> CloudSession:
        """The account's session for a resource in `namespace`: AccountNotAllowed first when
        the account does not admit it. A named account's credentials are proven first (one
        IAM login or AK/SK check shared by all its passes, and remembered, a refusal too):
        while the cloud refuses them, passes end AuthFailed and wait for the account to wake
        them, instead of each trying.

        `deleting`: a deletion whose account (read, and admitting `namespace`) has lost its
        credentials Secret, typically deleted with the namespace the resource is in, gets
        the session of the credentials this process read last: the cloud object is deleted
        with the credentials that made it instead of waiting for the Secret to come back."""
        try:
            usable = await self._entry(account_name, namespace)
        except (DependencyNotReady, InvalidInput):
            last = self._last_session(account_name) if deleting else None
            if last is None:
                raise
            return last
        if account_name:
            await self._verify(account_name, usable)
        return usable.session

    async def check(self, name: str) -> str:
        """For the account's handler: reads the account and its Secret afresh, and returns
        its Ready message or raises why it cannot be used. Ready means the cloud accepted the
        credentials; it is asked only when that is not known already (new credentials, or
        none of their calls answered lately: see AkSkCheck and AuthStatus), so that wake-ups
        of the account cost no calls. A refusal wakes the account again when the cloud may
        be asked again."""
        self.forget(name)
        self._recheck(name, None)
        usable = await self._entry(name, None)
        try:
            await self._verify(name, usable)
        except AuthFailed:
            self._recheck(name, usable.session.auth_status.remembered_for())
            raise
        except CloudError as error:
            what = f"the check of HuaweiCloudAccount {name}'s credentials"
            if error.retryable:
                raise CloudBusy(f"the cloud did not answer {what}: {error}") from None
            raise InvalidInput(f"the cloud refused {what} as a request: {error}",
                               woken=True) from None
        auth_type = "AKSK" if usable.session.token_provider is None else "IAMPassword"
        return f"{auth_type} credentials in {usable.source}: the cloud accepted them"

    def forget(self, account_name: str) -> None:
        """The account or its Secret changed: the next use re-reads it (replacing the session
        if its configuration changed). A read under way now counts as stale."""
        self._generations[account_name] += 1

    async def remove(self, name: str) -> None:
        """The account is deleted: its session is closed, its Secret no longer watched."""
        self.forget(name)
        self._recheck(name, None)
        self.secret_refs.forget(account_key(name))
        entry = self._entries.pop(name, None)
        if entry is not None and entry.session is not None:
            await entry.session.aclose()

    def _fresh(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None or entry.generation != self._generations[key] or \
                self.clock() - entry.checked_at >= self.ttl:
            return None
        return entry

    def _last_session(self, account_name: str | None) -> CloudSession | None:
        """The session of the credentials last read for a named account whose spec (and its
        allowedNamespaces, checked by `_entry`) was read this time: none after a restart,
        nor when the account itself is gone."""
        entry = self._entries.get(account_name or DEFAULT)
        if not account_name or entry is None or entry.allowed is None:
            return None
        return entry.session

    def restricted(self, account_name: str | None) -> bool:
        """Whether the account (as last read) admits only some namespaces."""
        entry = self._entries.get(account_name or DEFAULT)
        allowed = self.default_allowed if not account_name else entry and entry.allowed
        return allowed is not None and allowed.from_ != "All"

    async def _entry(self, account_name: str | None, namespace: str | None) -> _Usable:
        """The account as read (at most `ttl` ago); raises why it cannot be used.
        `namespace`: the namespace of the resource that asks, refused with AccountNotAllowed
        when not admitted."""
        key = account_name or DEFAULT
        entry = self._fresh(key)
        if entry is None:
            # One load at a time per account: concurrent passes share the session it makes
            # (and its token, pacer and listings) instead of each making their own.
            async with self._locks.setdefault(key, asyncio.Lock()):
                entry = self._fresh(key) or await self._refresh(key, account_name)
        if namespace is not None and entry.allowed is not None and \
                not admits(entry.allowed, self.namespaces.get(namespace)):
            account = f"HuaweiCloudAccount {account_name}" if account_name else \
                "the operator's default account"
            raise AccountNotAllowed(f"{account} does not admit namespace {namespace} (its "
                                    "allowedNamespaces); no cloud call is made")
        if isinstance(entry.state, ReconcileProblem):
            raise copy.copy(entry.state)  # a copy each: callers' tracebacks stay their own
        return entry.state

    async def _refresh(self, key: str, account_name: str | None) -> _Entry:
        generation = self._generations[key]
        entry = self._entries.setdefault(key, _Entry())
        entry.allowed = self.default_allowed if account_name is None else None
        try:
            config, source = await self._load(account_name, entry)
        except ReconcileProblem as problem:
            entry.state = problem
        else:
            session = entry.session
            if session is None or config != entry.config:
                if session is not None:
                    await session.aclose()
                on_auth_change = None if account_name is None else functools.partial(
                    self._wakes.soon, account_key(account_name),
                    "the cloud's answer to its credentials changed")
                session = self.make_session(config, on_auth_change)
                entry.config, entry.session = config, session
            entry.state = _Usable(session, source)
        entry.generation, entry.checked_at = generation, self.clock()
        return entry

    async def _load(self, account_name: str | None, entry: _Entry) -> tuple[AccountConfig, str]:
        """The account's configuration, and where its credentials come from."""
        if not account_name:
            if self.default is None:
                raise DependencyNotReady(
                    "no accountRef and the operator has no default account (HW_REGION_NAME, "
                    "HW_PROJECT_ID, HW_ACCESS_KEY, HW_SECRET_KEY)")
            return self.default, "the operator's environment"
        body = await self.kube.get_object(HUAWEI_CLOUD_ACCOUNT, account_name)
        if body is None:  # its creation wakes the resources naming it
            raise DependencyNotReady(f"HuaweiCloudAccount {account_name} not found", woken=True)
        try:
            spec = HuaweiCloudAccountSpec.model_validate(body.get("spec") or {})
        except ValidationError as error:
            raise InvalidInput(f"HuaweiCloudAccount {account_name}: {error}",
                               woken=True) from None
        entry.allowed = spec.allowed_namespaces
        ref = spec.credentials_secret_ref
        secret = await self.kube.read_secret(ref.namespace, ref.name)
        self.secret_refs.track(account_key(account_name), ref.name,
                               secret.resource_version if secret else "", namespace=ref.namespace)
        return account_config(spec, secret), f"Secret {ref.namespace}/{ref.name}"

    @staticmethod
    async def _verify(name: str, usable: _Usable) -> None:
        """The one way an account's credentials are proven (CloudSession.verify); a refusal
        names the account and the cloud's answer, never the credentials."""
        session = usable.session
        try:
            await session.verify()
        except AuthError as refused:
            who = f"HuaweiCloudAccount {name}"
            message = f"IAM refused the login of {who}" if session.token_provider else \
                f"the cloud refused the AK/SK of {who} from {usable.source}"
            raise AuthFailed(f"{message}: {refused}", woken=True) from None

    def _recheck(self, name: str, delay: float | None) -> None:
        """Wakes the account after `delay` seconds (None: no more), replacing any earlier."""
        pending = self._rechecks.pop(name, None)
        if pending is not None:
            pending.cancel()
        if delay is not None:
            self._rechecks[name] = self._wakes.later(delay, account_key(name),
                                                     "the cloud may be asked again")

    def pacer_snapshots(self) -> list[tuple[str, str, dict[str, float]]]:
        """(account, pacer key, its state) of every session's per-server pacers; the
        operator's default account shows as "(default)", which no account can be named."""
        return [(account or "(default)", key, limiter.snapshot())
                for account, entry in list(self._entries.items()) if entry.session is not None
                for key, limiter in entry.session.limiters.items()]

    async def aclose(self) -> None:
        for pending in self._rechecks.values():
            pending.cancel()
        self._wakes.cancel()
        entries, self._entries = self._entries, {}
        for entry in entries.values():
            if entry.session is not None:
                await entry.session.aclose()
