"""IAM token cache and the token/AK-SK auth flows, on httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from hwcloud_access.cloud import AccountConfig, AuthError, CloudSession, ServerError
from hwcloud_access.cloud.auth import AkSkAuth, AuthStatus, TokenAuth, TokenProvider

PASSWORD = "Iam-Passw0rd-secret"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Cloud:
    """IAM that issues numbered tokens, and a service that accepts only valid ones."""

    def __init__(self, ttl: float = 3600.0, fetch_delay: float = 0.0) -> None:
        self.ttl = ttl
        self.fetch_delay = fetch_delay
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.token_bodies: list[dict] = []
        self.service_calls: list[str | None] = []
        self.iam_status = 201

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v3/auth/tokens":
            self.token_bodies.append(json.loads(request.content))
            if self.fetch_delay:
                await asyncio.sleep(self.fetch_delay)
            if self.iam_status >= 300:
                return httpx.Response(self.iam_status, json={
                    "error": {"code": self.iam_status, "message": "nope"}})
            token = f"token-{len(self.issued) + 1}"
            self.issued.append(token)
            self.valid.add(token)
            issued = datetime(2024, 1, 1, tzinfo=UTC)
            return httpx.Response(
                201, headers={"X-Subject-Token": token},
                json={"token": {"issued_at": issued.isoformat().replace("+00:00", "Z"),
                                "expires_at": (issued + timedelta(seconds=self.ttl))
                                .isoformat().replace("+00:00", "Z")}},
            )
        token = request.headers.get("X-Auth-Token")
        self.service_calls.append(token)
        if token not in self.valid:
            return httpx.Response(401, json={"error_code": "APIGW.0301",
                                             "error_msg": "Incorrect IAM authentication"})
        return httpx.Response(200, json={"user": {"id": "u1", "name": "alice"}})


def provider(cloud: Cloud, clock: FakeClock) -> TokenProvider:
    client = httpx.AsyncClient(base_url="http://iam", transport=httpx.MockTransport(cloud))
    return TokenProvider(client, domain="dom", user="bob", password=SecretStr(PASSWORD),
                         project_id="proj", clock=clock)


async def test_one_fetch_for_many_concurrent_callers():
    cloud = Cloud(fetch_delay=0.05)
    tokens = provider(cloud, FakeClock())
    results = await asyncio.gather(*(tokens.token() for _ in range(50)))
    assert set(results) == {"token-1"}
    assert len(cloud.token_bodies) == 1


async def test_password_request_body():
    cloud = Cloud()
    await provider(cloud, FakeClock()).token()
    assert cloud.token_bodies == [{"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "bob", "password": PASSWORD, "domain": {"name": "dom"}}}},
        "scope": {"project": {"id": "proj"}}}}]


async def test_refresh_before_expiry():
    cloud = Cloud(ttl=3600)
    clock = FakeClock()
    tokens = provider(cloud, clock)
    assert await tokens.token() == "token-1"
    clock.now += 3600 - 300 - 1  # just inside the 5-minute margin
    assert await tokens.token() == "token-1"
    clock.now += 2  # within 5 minutes of expiry: refresh early
    assert await tokens.token() == "token-2"
    assert len(cloud.token_bodies) == 2


async def test_short_lived_token_is_refreshed_at_half_life_not_every_call():
    cloud = Cloud(ttl=60)  # shorter than the 5-minute margin
    clock = FakeClock()
    tokens = provider(cloud, clock)
    for _ in range(5):
        assert await tokens.token() == "token-1"
    clock.now += 31
    assert await tokens.token() == "token-2"
    assert len(cloud.token_bodies) == 2


async def test_refresh_after_stale_token_only_once_for_concurrent_callers():
    cloud = Cloud(fetch_delay=0.01)
    tokens = provider(cloud, FakeClock())
    first = await tokens.token()
    refreshed = await asyncio.gather(*(tokens.refresh(stale=first) for _ in range(20)))
    assert set(refreshed) == {"token-2"}
    assert len(cloud.token_bodies) == 2


async def test_missing_subject_token_header_is_auth_error():
    async def handler(request):
        return httpx.Response(201, json={"token": {}})

    client = httpx.AsyncClient(base_url="http://iam", transport=httpx.MockTransport(handler))
    tokens = TokenProvider(client, domain="d", user="u", password=SecretStr("p"),
                           project_id="p")
    with pytest.raises(AuthError):
        await tokens.token()


async def test_token_ttl_defaults_when_body_has_no_expiry():
    logins = []

    async def handler(request):
        logins.append(request)
        return httpx.Response(201, headers={"X-Subject-Token": "t"}, content=b"")

    clock = FakeClock()
    client = httpx.AsyncClient(base_url="http://iam", transport=httpx.MockTransport(handler))
    tokens = TokenProvider(client, domain="d", user="u", password=SecretStr("p"),
                           project_id="p", clock=clock)
    await tokens.token()
    clock.now += 23 * 3600
    await tokens.token()
    assert len(logins) == 1


async def test_a_refused_login_is_remembered_and_shared_without_asking_iam_again():
    cloud = Cloud(fetch_delay=0.01)
    cloud.iam_status = 401
    clock = FakeClock()
    tokens = provider(cloud, clock)
    results = await asyncio.gather(*(tokens.token() for _ in range(50)),
                                   return_exceptions=True)
    assert all(isinstance(r, AuthError) and r.status == 401 for r in results)
    assert len(cloud.token_bodies) == 1
    assert tokens.status.remembered is not None and tokens.status.remembered_for() == 90.0
    clock.now += 89
    with pytest.raises(AuthError):
        await tokens.token()
    with pytest.raises(AuthError):
        await tokens.refresh(stale="token-0")  # a 401 from a service asks IAM no sooner
    assert len(cloud.token_bodies) == 1
    refused = tokens.status.failure
    assert PASSWORD not in repr(refused) and PASSWORD not in str(refused)


async def test_each_caller_gets_its_own_copy_of_the_remembered_failure():
    cloud = Cloud()
    cloud.iam_status = 401
    tokens = provider(cloud, FakeClock())
    errors = []
    for _ in range(2):
        with pytest.raises(AuthError) as info:
            await tokens.token()
        errors.append(info.value)
    assert errors[0] is not errors[1]
    assert (errors[0].status, errors[0].message) == (errors[1].status, errors[1].message)


async def test_the_memory_grows_with_each_refusal_up_to_its_cap_and_a_login_ends_it():
    cloud = Cloud()
    cloud.iam_status = 401
    clock = FakeClock()
    tokens = provider(cloud, clock)
    memories = []
    for _ in range(7):
        with pytest.raises(AuthError):
            await tokens.token()
        memories.append(tokens.status.remembered_for())
        clock.now += memories[-1]  # IAM may be asked again
        assert tokens.status.remembered is None
    assert memories == [90, 180, 360, 720, 1440, 1800, 1800]
    assert len(cloud.token_bodies) == 7
    cloud.iam_status = 201  # the password was fixed in IAM
    assert await tokens.token() == "token-1"
    cloud.valid.clear()
    cloud.iam_status = 401
    with pytest.raises(AuthError):
        await tokens.refresh(stale="token-1")
    assert tokens.status.remembered_for() == 90  # counted afresh after a login


async def test_a_server_error_of_iam_is_not_remembered():
    cloud = Cloud()
    cloud.iam_status = 503
    tokens = provider(cloud, FakeClock())
    for _ in range(2):
        with pytest.raises(ServerError):
            await tokens.token()
    assert len(cloud.token_bodies) == 2 and tokens.status.failure is None


async def test_logins_tell_the_auth_status_once_per_change():
    cloud = Cloud()
    cloud.iam_status = 401
    clock = FakeClock()
    changes = []
    status = AuthStatus(on_change=lambda: changes.append(status.failure), clock=clock)
    client = httpx.AsyncClient(base_url="http://iam", transport=httpx.MockTransport(cloud))
    tokens = TokenProvider(client, domain="dom", user="bob", password=SecretStr(PASSWORD),
                           project_id="proj", clock=clock, status=status)
    for _ in range(3):
        with pytest.raises(AuthError):
            await tokens.token()
    assert len(changes) == 1 and isinstance(changes[0], AuthError)
    clock.now += 90
    cloud.iam_status = 201
    await tokens.token()
    assert changes[1:] == [None]


def token_account() -> AccountConfig:
    return AccountConfig(region="cn-north-4", project_id="proj", iam_domain="dom",
                         iam_user="bob", iam_password=PASSWORD,
                         vpn_endpoint="http://cloud", dms_endpoint="http://cloud",
                         iam_endpoint="http://cloud")


async def test_session_refreshes_once_on_401_and_succeeds():
    cloud = Cloud()
    calls: list[tuple[str, str]] = []
    async with CloudSession(token_account(), transport=httpx.MockTransport(cloud),
                            on_call=lambda op, outcome, s: calls.append((op, outcome))) as s:
        user = await s.vpn.get_user("srv", "u1")
        assert user.name == "alice"
        cloud.valid.clear()  # the cloud forgets every token (expiry, revocation)
        user = await s.vpn.get_user("srv", "u1")
        assert user.id == "u1"
        assert cloud.issued == ["token-1", "token-2"]
        assert cloud.service_calls == ["token-1", "token-1", "token-2"]
    assert calls == [("iam.create_token", "201"), ("vpn.get_user", "200"),
                     ("vpn.get_user", "401"), ("iam.create_token", "201"),
                     ("vpn.get_user", "200")]


async def test_session_401_after_refresh_is_terminal_auth_error():
    cloud = Cloud()

    async def always_401(request):
        if request.url.path == "/v3/auth/tokens":
            return await cloud(request)
        cloud.service_calls.append(request.headers.get("X-Auth-Token"))
        return httpx.Response(401, json={"error_code": "APIGW.0301", "error_msg": "bad"})

    async with CloudSession(token_account(), transport=httpx.MockTransport(always_401)) as s:
        with pytest.raises(AuthError) as info:
            await s.vpn.get_user("srv", "u1")
    assert cloud.service_calls == ["token-1", "token-2"]  # one refresh, not a loop
    assert info.value.code == "APIGW.0301"
    assert PASSWORD not in repr(info.value) and "token-" not in str(info.value)


async def test_iam_refusing_the_password_is_terminal():
    cloud = Cloud()
    cloud.iam_status = 401
    async with CloudSession(token_account(), transport=httpx.MockTransport(cloud)) as s:
        with pytest.raises(AuthError):
            await s.vpn.get_user("srv", "u1")
    assert len(cloud.token_bodies) == 1


async def test_session_with_a_refused_password_asks_iam_once_for_all_calls():
    cloud = Cloud()
    cloud.iam_status = 401
    changed = []
    async with CloudSession(token_account(), transport=httpx.MockTransport(cloud),
                            on_auth_change=lambda: changed.append(1)) as s:
        results = await asyncio.gather(*(s.vpn.get_user("srv", f"u{n}") for n in range(20)),
                                       return_exceptions=True)
        assert all(isinstance(r, AuthError) for r in results)
        assert s.auth_status.failure is not None
    assert len(cloud.token_bodies) == 1 and cloud.service_calls == []
    assert changed == [1]


async def test_aksk_session_status_follows_its_calls_answers():
    answers = [401, 401, 200]

    def handler(request):
        status = answers.pop(0)
        if status == 401:
            return httpx.Response(401, json={"error_code": "APIGW.0301",
                                             "error_msg": "Incorrect IAM authentication"})
        return httpx.Response(200, json={"user": {"id": "u1", "name": "alice"}})

    changed = []
    account = AccountConfig(region="cn-north-4", project_id="proj", access_key="AK",
                            secret_key="SK", vpn_endpoint="http://cloud")
    async with CloudSession(account, transport=httpx.MockTransport(handler),
                            on_auth_change=lambda: changed.append(s.auth_status.failure)) as s:
        for _ in range(2):
            with pytest.raises(AuthError):
                await s.vpn.get_user("srv", "u1")
        assert s.auth_status.failure is not None and s.auth_status.failure.code == "APIGW.0301"
        await s.vpn.get_user("srv", "u1")
        assert s.auth_status.failure is None
    assert len(changed) == 2 and isinstance(changed[0], AuthError) and changed[1] is None


async def test_iam_server_error_is_retried():
    cloud = Cloud()
    failures = [503, 503]

    async def flaky(request):
        if request.url.path == "/v3/auth/tokens" and failures:
            return httpx.Response(failures.pop(), json={"error": {"code": 503,
                                                                  "message": "down"}})
        return await cloud(request)

    async with CloudSession(token_account(), transport=httpx.MockTransport(flaky),
                            uniform=lambda: 0.0) as s:
        assert (await s.vpn.get_user("srv", "u1")).id == "u1"
    assert issubclass(ServerError, Exception)


async def test_aksk_auth_signs_each_request_with_project_id():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, json={})

    auth = AkSkAuth(SecretStr("AK"), SecretStr("SK-secret"), project_id="proj")
    async with httpx.AsyncClient(auth=auth, transport=httpx.MockTransport(handler)) as client:
        await client.get("http://h/v5/proj/x", params={"limit": "10"})
    request = seen[0]
    assert request.headers["X-Project-Id"] == "proj"
    assert request.headers["Authorization"].startswith(
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-project-id;x-sdk-date, Signature=")
    assert "SK-secret" not in repr(auth)


def test_token_auth_is_async_only():
    auth = TokenAuth(TokenProvider(httpx.AsyncClient(), domain="d", user="u",
                                   password=SecretStr("p"), project_id="p"))
    with pytest.raises(RuntimeError):
        next(auth.sync_auth_flow(httpx.Request("GET", "http://h")))


class KeyCloud:
    """IAM's project listing and a VPN call, both answering `status` (AK/SK accounts)."""

    def __init__(self) -> None:
        self.status = 200
        self.checks: list[httpx.Request] = []
        self.calls = 0
        self.delay = 0.0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v3/auth/projects":
            self.checks.append(request)
            await asyncio.sleep(self.delay)
        else:
            self.calls += 1
        if self.status == 200:
            return httpx.Response(200, json={"projects": [{"id": "proj"}],
                                             "user": {"id": "u1", "name": "alice"}})
        code = {401: "APIGW.0301", 403: "APIGW.0302"}.get(self.status, "APIGW.0202")
        return httpx.Response(self.status, json={"error_code": code, "error_msg": "no"})


def aksk_session(cloud: KeyCloud, clock: FakeClock, **kw) -> CloudSession:
    account = AccountConfig(region="cn-north-4", project_id="proj", access_key="AK",
                            secret_key="SK-secret", vpn_endpoint="http://vpn",
                            iam_endpoint="http://iam")
    return CloudSession(account, transport=httpx.MockTransport(cloud), clock=clock,
                        max_attempts=1, **kw)


async def test_aksk_check_is_one_signed_project_listing_standing_five_minutes():
    cloud, clock = KeyCloud(), FakeClock()
    async with aksk_session(cloud, clock) as s:
        await s.verify()
        (check,) = cloud.checks
        assert (check.method, str(check.url)) == ("GET", "http://iam/v3/auth/projects")
        assert check.headers["Authorization"].startswith("SDK-HMAC-SHA256 Access=AK, ")
        assert "X-Project-Id" not in check.headers  # IAM is global: no project
        clock.now += 299
        await s.verify()
        assert len(cloud.checks) == 1
        clock.now += 1
        await s.verify()
        assert len(cloud.checks) == 2


async def test_a_refused_aksk_check_is_shared_remembered_and_asked_again_later():
    cloud, clock = KeyCloud(), FakeClock()
    cloud.status, cloud.delay = 401, 0.01
    async with aksk_session(cloud, clock) as s:
        results = await asyncio.gather(*(s.verify() for _ in range(20)),
                                       return_exceptions=True)
        assert all(isinstance(r, AuthError) and r.code == "APIGW.0301" for r in results)
        assert len(cloud.checks) == 1 and s.auth_status.remembered_for() == 90
        clock.now += 89
        with pytest.raises(AuthError) as again:
            await s.verify()
        assert again.value is not results[0] and len(cloud.checks) == 1
        clock.now += 1
        with pytest.raises(AuthError):
            await s.verify()
        assert len(cloud.checks) == 2 and s.auth_status.remembered_for() == 180
        assert "SK-secret" not in str(again.value) + repr(again.value)


async def test_a_403_to_the_aksk_check_is_a_refusal_and_a_503_no_verdict():
    cloud, clock = KeyCloud(), FakeClock()
    cloud.status = 403
    async with aksk_session(cloud, clock) as s:
        with pytest.raises(AuthError) as refused:
            await s.verify()
        assert (refused.value.status, refused.value.code) == (403, "APIGW.0302")
        assert s.auth_status.remembered is not None
    cloud.status = 503
    async with aksk_session(cloud, clock) as s:
        for _ in range(2):  # not remembered: asked each time
            with pytest.raises(ServerError):
                await s.verify()
        assert s.auth_status.failure is None and len(cloud.checks) == 3


async def test_the_answers_to_an_aksk_accounts_calls_spare_its_checks():
    cloud, clock = KeyCloud(), FakeClock()
    changes = []
    async with aksk_session(cloud, clock,
                            on_auth_change=lambda: changes.append(s.auth_status.failure)) as s:
        await s.vpn.get_user("srv", "u1")  # accepted: proof enough
        await s.verify()
        assert cloud.checks == []
        cloud.status = 401
        with pytest.raises(AuthError):
            await s.vpn.get_user("srv", "u1")
        with pytest.raises(AuthError):  # refused: remembered, not asked
            await s.verify()
        assert cloud.checks == [] and len(changes) == 1
