"""Which cloud session a resource uses: its `accountRef` (a HuaweiCloudAccount and its
credentials Secret) or the operator's default account from the environment (HW_*)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic import SecretStr, ValidationError

from ..api import HUAWEI_CLOUD_ACCOUNT
from ..api.account import HuaweiCloudAccountSpec
from ..cloud import AccountConfig, CloudSession
from .kube import Kube
from .outcome import DependencyNotReady, InvalidInput

DEFAULT = ""  # cache key of the default account
AKSK_KEYS = ("accessKey", "secretKey")
IAM_KEYS = ("domain", "user", "password")


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


async def account_config(kube: Kube, spec: HuaweiCloudAccountSpec) -> AccountConfig:
    """The client configuration of an account resource, read from its Secret."""
    ref = spec.credentials_secret_ref
    secret = await kube.read_secret(ref.namespace, ref.name)
    if secret is None:
        raise DependencyNotReady(f"credentials Secret {ref.namespace}/{ref.name} not found")
    keys = AKSK_KEYS if spec.auth_type == "AKSK" else IAM_KEYS
    missing = [k for k in keys if not secret.data.get(k)]
    if missing:
        raise InvalidInput(f"credentials Secret {ref.namespace}/{ref.name} lacks "
                           f"{', '.join(missing)} (needed for authType {spec.auth_type})")
    common = {"region": spec.region, "project_id": spec.project_id,
              "vpn_endpoint": spec.endpoints.vpn, "dms_endpoint": spec.endpoints.dms,
              "iam_endpoint": spec.endpoints.iam}
    if spec.auth_type == "AKSK":
        return AccountConfig(**common, access_key=SecretStr(secret.data["accessKey"]),
                             secret_key=SecretStr(secret.data["secretKey"]))
    return AccountConfig(**common, iam_domain=secret.data["domain"], iam_user=secret.data["user"],
                         iam_password=SecretStr(secret.data["password"]))


@dataclass
class _Entry:
    config: AccountConfig
    session: CloudSession
    checked_at: float


class Accounts:
    """Cloud sessions by account name, re-read at most every `ttl` seconds so that a changed
    account or credentials Secret takes effect without a restart."""

    def __init__(self, kube: Kube, default: AccountConfig | None,
                 make_session: Callable[[AccountConfig], CloudSession], ttl: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kube = kube
        self.default = default
        self.make_session = make_session
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def session(self, account_name: str | None) -> CloudSession:
        key = account_name or DEFAULT
        entry = self._entries.get(key)
        if entry and self.clock() - entry.checked_at < self.ttl:
            return entry.session
        # One load at a time per account: concurrent passes share the session it makes
        # (and its token, pacer and listings) instead of each making their own.
        async with self._locks.setdefault(key, asyncio.Lock()):
            entry = self._entries.get(key)
            if entry and self.clock() - entry.checked_at < self.ttl:
                return entry.session
            return await self._refresh(key, account_name, entry)

    async def _refresh(self, key: str, account_name: str | None,
                       entry: _Entry | None) -> CloudSession:
        config = await self._load(account_name)
        if entry and entry.config == config:
            entry.checked_at = self.clock()
            return entry.session
        if entry:
            await entry.session.aclose()
        session = self.make_session(config)
        self._entries[key] = _Entry(config, session, self.clock())
        return session

    async def _load(self, account_name: str | None) -> AccountConfig:
        if not account_name:
            if self.default is None:
                raise DependencyNotReady(
                    "no accountRef and the operator has no default account (HW_REGION_NAME, "
                    "HW_PROJECT_ID, HW_ACCESS_KEY, HW_SECRET_KEY)")
            return self.default
        body = await self.kube.get_object(HUAWEI_CLOUD_ACCOUNT, account_name)
        if body is None:
            raise DependencyNotReady(f"HuaweiCloudAccount {account_name} not found")
        try:
            spec = HuaweiCloudAccountSpec.model_validate(body.get("spec") or {})
        except ValidationError as error:
            raise InvalidInput(f"HuaweiCloudAccount {account_name}: {error}") from None
        return await account_config(self.kube, spec)

    def forget(self, account_name: str) -> None:
        """The account changed: the next use re-reads it (and replaces the session if needed)."""
        entry = self._entries.get(account_name)
        if entry:
            entry.checked_at = float("-inf")

    def pacer_snapshots(self) -> list[tuple[str, str, dict[str, float]]]:
        """(account, pacer key, its state) of every session's per-server pacers; the
        operator's default account shows as "(default)", which no account can be named."""
        return [(account or "(default)", key, limiter.snapshot())
                for account, entry in list(self._entries.items())
                for key, limiter in entry.session.limiters.items()]

    async def aclose(self) -> None:
        entries, self._entries = self._entries, {}
        for entry in entries.values():
            await entry.session.aclose()
