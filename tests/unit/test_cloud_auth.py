"""IAM token cache and the token/AK-SK auth flows, on httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from hwcloud_access.cloud import AccountConfig, AuthError, CloudSession, ServerError
from hwcloud_access.cloud.auth import AkSkAuth, TokenAuth, TokenProvider

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
    assert tokens.fetches == 1 and len(cloud.token_bodies) == 1


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
    assert tokens.fetches == 2


async def test_short_lived_token_is_refreshed_at_half_life_not_every_call():
    cloud = Cloud(ttl=60)  # shorter than the 5-minute margin
    clock = FakeClock()
    tokens = provider(cloud, clock)
    for _ in range(5):
        assert await tokens.token() == "token-1"
    clock.now += 31
    assert await tokens.token() == "token-2"
    assert tokens.fetches == 2


async def test_refresh_after_stale_token_only_once_for_concurrent_callers():
    cloud = Cloud(fetch_delay=0.01)
    tokens = provider(cloud, FakeClock())
    first = await tokens.token()
    refreshed = await asyncio.gather(*(tokens.refresh(stale=first) for _ in range(20)))
    assert set(refreshed) == {"token-2"}
    assert tokens.fetches == 2


async def test_missing_subject_token_header_is_auth_error():
    async def handler(request):
        return httpx.Response(201, json={"token": {}})

    client = httpx.AsyncClient(base_url="http://iam", transport=httpx.MockTransport(handler))
    tokens = TokenProvider(client, domain="d", user="u", password=SecretStr("p"),
                           project_id="p")
    with pytest.raises(AuthError):
        await tokens.token()


async def test_token_ttl_defaults_when_body_has_no_expiry():
    async def handler(request):
        return httpx.Response(201, headers={"X-Subject-Token": "t"}, content=b"")

    clock = FakeClock()
    client = httpx.AsyncClient(base_url="http://iam", transport=httpx.MockTransport(handler))
    tokens = TokenProvider(client, domain="d", user="u", password=SecretStr("p"),
                           project_id="p", clock=clock)
    await tokens.token()
    clock.now += 23 * 3600
    await tokens.token()
    assert tokens.fetches == 1


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
