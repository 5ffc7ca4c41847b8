"""httpx auth flows: AK/SK request signing, and IAM tokens with a per-account cache; and
the proof that the cloud accepts an account's credentials (its login, or an AK/SK check).

Secrets are held as ``SecretStr`` and never put in a message, a repr or a log line.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import AsyncGenerator, Callable, Generator
from datetime import UTC, datetime

import httpx
from pydantic import SecretStr

from . import signer
from .errors import AccessDeniedError, AuthError, classify, transport_error

log = logging.getLogger(__name__)

# Headers we sign: those a proxy will not rewrite. (The SDK signs every header it
# sends; the server checks the ones named in SignedHeaders, so a subset is valid.)
SIGNED_HEADERS = frozenset(
    {
        "host",
        "content-type",
        "x-sdk-date",
        "x-sdk-content-sha256",
        "x-project-id",
        "x-domain-id",
        "x-client-token",
        "x-security-token",
    }
)
OPERATION_KEY = "hwcloud_operation"


def utcnow() -> datetime:
    return datetime.now(UTC)


def sign_request(
    request: httpx.Request,
    *,
    access_key: str,
    secret_key: str,
    project_id: str | None = None,
    moment: datetime | None = None,
) -> signer.Signed:
    """Sign ``request`` in place (X-Sdk-Date, X-Project-Id, Authorization).

    The query string is rewritten to its canonical form, as the SDK sends it, so the
    server sees exactly the query that was signed.
    """
    moment = moment or utcnow()
    request.headers["X-Sdk-Date"] = signer.format_date(moment)
    if project_id:
        request.headers["X-Project-Id"] = project_id
    if signer.needs_unsigned_payload(request.headers):
        request.headers[signer.HEADER_CONTENT_SHA256] = signer.UNSIGNED_PAYLOAD
    params = list(request.url.params.multi_items())
    if params:
        request.url = request.url.copy_with(query=signer.canonical_query(params).encode("ascii"))
    if "host" not in request.headers:
        request.headers["Host"] = request.url.netloc.decode("ascii")
    to_sign = {
        name: value for name, value in request.headers.items() if name.lower() in SIGNED_HEADERS
    }
    signed = signer.sign(
        method=request.method,
        path=request.url.path,
        query=params,
        headers=to_sign,
        body=request.content,
        access_key=access_key,
        secret_key=secret_key,
    )
    request.headers["Authorization"] = signed.authorization
    return signed


class AkSkAuth(httpx.Auth):
    """SDK-HMAC-SHA256 signing of every request (each retry is signed afresh)."""

    requires_request_body = True

    def __init__(
        self,
        access_key: SecretStr,
        secret_key: SecretStr,
        *,
        project_id: str | None = None,
    ) -> None:
        self._ak = access_key
        self._sk = secret_key
        self._project_id = project_id

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        sign_request(
            request,
            access_key=self._ak.get_secret_value(),
            secret_key=self._sk.get_secret_value(),
            project_id=self._project_id,
        )
        yield request

    def __repr__(self) -> str:
        return f"AkSkAuth(access_key={self._ak!r}, project_id={self._project_id!r})"


class AuthStatus:
    """What the cloud last said of one account's credentials: ``failure`` is its latest
    refusal (None once they are accepted again). ``on_change`` is called when that flips,
    once, however many calls saw it.

    A refusal is remembered for ``failure_memory`` seconds, twice as long after each further
    one up to ``max_failure_memory`` (refusals while one is remembered, of calls that were
    under way together, count once): meanwhile the credentials are not offered again. IAM
    locks a user out after a few failed logins (Huawei Cloud's default: 5 within 15
    minutes); a refused AK/SK is no better the next second. Changed credentials come with a
    new status.
    """

    failure_memory = 90.0
    max_failure_memory = 1800.0

    def __init__(self, on_change: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failure: AuthError | None = None
        self.on_change = on_change
        self._clock = clock
        self._refusals = 0  # in a row
        self._remembered_until = 0.0  # on self._clock
        self._accepted_at: float | None = None  # on self._clock

    @property
    def remembered(self) -> AuthError | None:
        """The latest refusal, while the credentials are not to be offered again."""
        return self.failure if self._clock() < self._remembered_until else None

    def remembered_for(self) -> float:
        """Seconds until the credentials may be offered again (0: now)."""
        return max(0.0, self._remembered_until - self._clock()) if self.remembered else 0.0

    def accepted_within(self, seconds: float) -> bool:
        """Whether the cloud took the credentials in the last `seconds`, refusing none since."""
        return self.failure is None and self._accepted_at is not None and \
            self._clock() - self._accepted_at < seconds

    def record(self, failure: AuthError | None) -> None:
        flipped = (failure is None) != (self.failure is None)
        if failure is None:
            self._refusals, self._accepted_at = 0, self._clock()
        elif self.remembered is None:
            memory = min(self.failure_memory * 2 ** self._refusals, self.max_failure_memory)
            self._refusals += 1
            self._remembered_until = self._clock() + memory
        self.failure = failure
        if flipped and self.on_change is not None:
            self.on_change()


async def send_once(client: httpx.AsyncClient, method: str, path: str, *, operation: str,
                    request_timeout: float, json: object = None) -> httpx.Response:
    """One request of the credentials' own (a login, a check), not retried here: the 2xx
    answer, or its typed error."""
    try:
        response = await client.request(method, path, json=json, timeout=request_timeout,
                                        extensions={OPERATION_KEY: operation})
    except httpx.TransportError as exc:
        raise transport_error(exc, operation=operation) from None
    if response.status_code >= 300:
        raise classify(response.status_code, response.content, operation=operation,
                       headers=response.headers)
    return response


class AkSkCheck:
    """Proves an AK/SK to the cloud: IAM's ``GET /v3/auth/projects`` (Keystone's list of
    the projects the caller may access), signed with them. It is read-only and about the
    caller itself, in a service of every region; a 401 or a 403 to it is a refusal of the
    keys.

    ``status`` is fed by the account's other calls too: the check asks the cloud only when
    nothing accepted the keys in the last ``accepted_for`` seconds and no refusal is
    remembered. One check at a time: concurrent callers share its answer.
    """

    operation = "iam.list_auth_projects"
    # A check that passed stands this long (unless a call is refused meanwhile): the
    # account's handler runs on every change and wake-up of it, and its resources' passes
    # ask before they call; this bounds what a quiet account costs to one cheap read per
    # 5 minutes, the default resync interval, at which a busy account's own calls (drift
    # listings included) prove the keys anyway.
    accepted_for = 300.0

    def __init__(self, client: httpx.AsyncClient, status: AuthStatus, *,
                 timeout: float) -> None:
        self._client = client
        self.status = status
        self._timeout = timeout
        self._lock = asyncio.Lock()

    async def verify(self) -> None:
        """Returns when the keys are accepted; raises the refusal (AuthError, remembered in
        ``status``) or why the cloud gave no verdict (another CloudError)."""
        if self._known():
            return
        async with self._lock:
            if not self._known():
                await self._ask()

    def _known(self) -> bool:
        """True when the keys were accepted lately; raises a remembered refusal."""
        remembered = self.status.remembered
        if remembered is not None:
            raise copy.copy(remembered)  # a copy each: callers' tracebacks stay their own
        return self.status.accepted_within(self.accepted_for)

    async def _ask(self) -> None:
        try:
            await send_once(self._client, "GET", "/v3/auth/projects",
                            operation=self.operation, request_timeout=self._timeout)
        except (AuthError, AccessDeniedError) as error:
            refused = error if isinstance(error, AuthError) else AuthError(
                error.message, status=error.status, code=error.code,
                operation=error.operation, request_id=error.request_id)
            self.status.record(refused)
            raise refused from None
        self.status.record(None)


class TokenProvider:
    """IAM token for one account: fetched by ``POST /v3/auth/tokens`` (password method,
    project scope), read from ``X-Subject-Token``, cached, refreshed ``refresh_margin``
    seconds before it expires, and after a 401. One fetch at a time (asyncio.Lock):
    any number of concurrent callers share one fetch.

    A login IAM refuses (AuthError) is remembered in ``status`` (see AuthStatus): meanwhile
    every caller gets that same error without asking IAM. A changed password comes with a
    new provider.
    """

    operation = "iam.create_token"
    refresh_margin = 300.0
    default_ttl = 24 * 3600.0  # when IAM's answer does not say how long the token lives

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        domain: str,
        user: str,
        password: SecretStr,
        project_id: str,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 10.0,
        status: AuthStatus | None = None,
    ) -> None:
        self._client = client
        self._domain = domain
        self._user = user
        self._password = password
        self._project_id = project_id
        self._clock = clock
        self._timeout = timeout
        self._lock = asyncio.Lock()
        self._token: SecretStr | None = None
        self._refresh_at = 0.0  # on self._clock
        self.status = status or AuthStatus(clock=clock)

    def _fresh(self) -> SecretStr | None:
        """The token, while it need not be refreshed."""
        if self._token is not None and self._clock() < self._refresh_at:
            return self._token
        return None

    async def token(self) -> str:
        token = self._fresh()
        if token is None:
            async with self._lock:
                token = self._fresh()
                if token is None:
                    token = await self._fetch()
        return token.get_secret_value()

    async def refresh(self, stale: str) -> str:
        """A new token after ``stale`` was refused, unless another caller already got one."""
        async with self._lock:
            token = self._fresh()
            if token is None or token.get_secret_value() == stale:
                token = await self._fetch()
            return token.get_secret_value()

    async def _fetch(self) -> SecretStr:
        remembered = self.status.remembered
        if remembered is not None:
            raise copy.copy(remembered)  # a copy each: callers' tracebacks stay their own
        try:
            token = await self._login()
        except AuthError as refused:
            self.status.record(refused)
            log.warning("IAM refused the login of user %s; not asking again for %.0f s",
                        self._user, self.status.remembered_for())
            raise
        self.status.record(None)
        return token

    async def _login(self) -> SecretStr:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self._user,
                            "password": self._password.get_secret_value(),
                            "domain": {"name": self._domain},
                        }
                    },
                },
                "scope": {"project": {"id": self._project_id}},
            }
        }
        sent_at = self._clock()
        response = await send_once(self._client, "POST", "/v3/auth/tokens", json=body,
                                   operation=self.operation, request_timeout=self._timeout)
        token = response.headers.get("X-Subject-Token")
        if not token:
            raise AuthError(
                "IAM answered without an X-Subject-Token header",
                status=response.status_code, operation=self.operation,
            )
        ttl = self._ttl(response)
        self._token = SecretStr(token)
        # refresh refresh_margin early; a short-lived token at half its life
        self._refresh_at = sent_at + max(ttl - self.refresh_margin, ttl / 2)
        log.debug("IAM token fetched for user %s (valid %.0f s)", self._user, ttl)
        return self._token

    def _ttl(self, response: httpx.Response) -> float:
        """Lifetime from the body (expires_at - issued_at: immune to clock skew)."""
        try:
            token = response.json().get("token", {})
            expires = _parse_time(token["expires_at"])
            issued = _parse_time(token["issued_at"]) if token.get("issued_at") else utcnow()
            ttl = (expires - issued).total_seconds()
        except (ValueError, KeyError, TypeError, AttributeError):
            return self.default_ttl
        return ttl if ttl > 0 else self.default_ttl

    def __repr__(self) -> str:
        return f"TokenProvider(domain={self._domain!r}, user={self._user!r})"


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class TokenAuth(httpx.Auth):
    """``X-Auth-Token`` from a ``TokenProvider``; after a 401, one refresh and one resend."""

    def __init__(self, provider: TokenProvider, *, project_id: str | None = None) -> None:
        self.provider = provider
        self._project_id = project_id

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._project_id:
            request.headers["X-Project-Id"] = self._project_id
        token = await self.provider.token()
        request.headers["X-Auth-Token"] = token
        response = yield request
        if response.status_code == 401:
            token = await self.provider.refresh(stale=token)
            request.headers["X-Auth-Token"] = token
            yield request

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("TokenAuth works with httpx.AsyncClient only")
        yield request  # pragma: no cover

    def __repr__(self) -> str:
        return f"TokenAuth({self.provider!r})"
