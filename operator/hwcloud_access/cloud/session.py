"""One ``CloudSession`` per Huawei Cloud account: auth, limiters, one httpx client per
service, and the ``vpn`` and ``rocketmq`` clients the reconcile engine calls."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from .auth import AkSkAuth, AkSkCheck, AuthStatus, TokenAuth, TokenProvider
from .caller import Caller, MeteringTransport, OnCall
from .endpoints import Endpoints
from .limiter import AimdLimiter, LimiterRegistry
from .retry import RetryPolicy
from .rocketmq import RocketMqClient
from .vpn import VpnClient

USER_AGENT = "hwcloud-access-operator"
REQUEST_TIMEOUT = 10.0  # seconds, for one HTTP request (an IAM login, one attempt of a call)


@dataclass(frozen=True)
class AkSk:
    """An access key and its secret key: every request is signed with them."""

    access_key: SecretStr
    secret_key: SecretStr


@dataclass(frozen=True)
class IamUser:
    """An IAM user's password login: requests carry the token IAM gives it."""

    domain: str
    user: str
    password: SecretStr


class AccountConfig(BaseModel):
    """One Huawei Cloud account: AK/SK, or an IAM user (domain, user, password)."""

    model_config = ConfigDict(frozen=True)

    region: str
    project_id: str
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    iam_domain: str | None = None
    iam_user: str | None = None
    iam_password: SecretStr | None = None
    vpn_endpoint: str | None = None
    dms_endpoint: str | None = None
    iam_endpoint: str | None = None

    @model_validator(mode="after")
    def _one_credential(self) -> AccountConfig:
        if (self.access_key is None) != (self.secret_key is None):
            raise ValueError("access_key and secret_key go together")
        self.credentials()
        return self

    def credentials(self) -> AkSk | IamUser:
        """The account's complete credential (AK/SK first); ValueError when it has none,
        which the validator makes sure of at construction."""
        if self.access_key is not None and self.secret_key is not None:
            return AkSk(self.access_key, self.secret_key)
        if self.iam_domain and self.iam_user and self.iam_password is not None:
            return IamUser(self.iam_domain, self.iam_user, self.iam_password)
        raise ValueError("give access_key and secret_key, or iam_domain, iam_user and iam_password")

    def endpoints(self) -> Endpoints:
        return Endpoints.for_region(
            self.region, vpn=self.vpn_endpoint, dms=self.dms_endpoint, iam=self.iam_endpoint
        )


class CloudSession:
    """Async context manager owning the httpx clients of one account.

    ``auth_status`` tells whether the cloud accepted its credentials lately: for an IAM
    user, from its logins; for AK/SK, which has no login, from its checks and the answers to
    its calls. ``on_auth_change`` is called when that flips. ``verify`` proves them.
    """

    vpn: VpnClient
    rocketmq: RocketMqClient

    def __init__(
        self,
        account: AccountConfig,
        *,
        retry_budget: float = 10.0,
        max_concurrency: int = 8,
        on_call: OnCall | None = None,
        on_auth_change: Callable[[], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_attempts: int = 8,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        uniform: Callable[[], float] = random.random,
    ) -> None:
        self.account = account
        endpoints = account.endpoints()
        self.limiters = LimiterRegistry(
            lambda key: AimdLimiter(max_limit=max_concurrency, name=key, clock=clock, sleep=sleep)
        )
        self.policy = RetryPolicy(max_attempts=max_attempts, budget=retry_budget)
        self._clients: list[httpx.AsyncClient] = []

        def client(base_url: str, auth: httpx.Auth | None) -> httpx.AsyncClient:
            inner = transport if transport is not None else httpx.AsyncHTTPTransport(retries=0)
            metered = MeteringTransport(inner, on_call, owns_inner=transport is None)
            made = httpx.AsyncClient(
                base_url=base_url, auth=auth, transport=metered, timeout=REQUEST_TIMEOUT,
                headers={"User-Agent": USER_AGENT}, follow_redirects=False,
            )
            self._clients.append(made)
            return made

        self.auth_status = AuthStatus(on_auth_change, clock=clock)
        self.token_provider: TokenProvider | None = None
        # How the credentials are proven: the AK/SK check, or an IAM user's login.
        self._prove: Callable[[], Awaitable[object]]
        auth: httpx.Auth
        credentials = account.credentials()
        if isinstance(credentials, AkSk):
            keys = credentials.access_key, credentials.secret_key
            auth = AkSkAuth(*keys, project_id=account.project_id)
            # IAM is a global service: signed without the project (the SDK's IAM client
            # sends none either).
            iam = client(endpoints.iam, AkSkAuth(*keys))
            self._prove = AkSkCheck(iam, self.auth_status, timeout=REQUEST_TIMEOUT).verify
        else:
            self.token_provider = TokenProvider(
                client(endpoints.iam, None),
                domain=credentials.domain,
                user=credentials.user,
                password=credentials.password,
                project_id=account.project_id,
                clock=clock,
                timeout=REQUEST_TIMEOUT,
                status=self.auth_status,
            )
            auth = TokenAuth(self.token_provider, project_id=account.project_id)
            self._prove = self.token_provider.token
        answers = self.auth_status if self.token_provider is None else None  # AK/SK

        def caller(base_url: str) -> Caller:
            return Caller(client(base_url, auth), limiters=self.limiters, policy=self.policy,
                          timeout=REQUEST_TIMEOUT, clock=clock, sleep=sleep, uniform=uniform,
                          auth_status=answers)

        self.vpn = VpnClient(caller(endpoints.vpn), account.project_id)
        self.rocketmq = RocketMqClient(caller(endpoints.dms), account.project_id)

    async def verify(self) -> None:
        """Proves the credentials to the cloud: an IAM user's login (the token its calls
        use), or the AK/SK check. Returns at once while ``auth_status`` already knows; raises
        the refusal (AuthError) or why the cloud gave no verdict (another CloudError)."""
        await self._prove()

    async def __aenter__(self) -> CloudSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        clients, self._clients = self._clients, []
        for made in clients:
            await made.aclose()

    def __repr__(self) -> str:
        account = self.account
        return f"CloudSession(region={account.region!r}, project_id={account.project_id!r})"
