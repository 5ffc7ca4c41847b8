"""VpnClient and RocketMqClient against httpx.MockTransport: paths, bodies, paging,
errors, retries, idempotent creates, metrics, and secrets kept out of sight."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from hwcloud_access.cloud import (
    AccountConfig,
    BusyError,
    CloudSession,
    InstanceNotFoundError,
    InvalidRequestError,
    MqUserWrite,
    NotFoundError,
    Perm,
    ServerError,
    TransportError,
)
from hwcloud_access.cloud.session import AkSk, IamUser

BASE = "/v5/proj/p2c-vpn-gateways/vpn-servers/srv"
MQ = "/v2/proj/instances/inst/users"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def account(**kw) -> AccountConfig:
    fields = dict(region="cn-north-4", project_id="proj", access_key="AK",
                  secret_key="SK-very-secret", vpn_endpoint="http://vpn.test",
                  dms_endpoint="http://dms.test")
    fields.update(kw)
    return AccountConfig(**fields)


class Script:
    """Answers from a list, per call; records each request."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    def bodies(self):
        return [json.loads(r.content) if r.content else None for r in self.requests]


class NoSleep:
    """A sleep that only moves a fake clock forward."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self.now = 0.0

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def session(script, **kw) -> CloudSession:
    if "sleep" not in kw:
        fake = NoSleep()
        kw["sleep"], kw["clock"] = fake, fake.clock
    kw.setdefault("uniform", lambda: 0.5)
    return CloudSession(account(), transport=httpx.MockTransport(script), **kw)


def ok(status=200, **body):
    return httpx.Response(status, json=body)


def busy():
    return httpx.Response(400, json={"code": "VPN.0030",
                                     "message": "The system is busy, please try later."})


# ---- VPN groups ----------------------------------------------------------------------


async def test_create_group_sends_body_client_token_and_signature():
    script = Script(ok(201, user_group={"id": "g1"}, request_id="r"))
    async with session(script) as s:
        group_id = await s.vpn.create_group("srv", name="devs", description="d",
                                            client_token=None)
    assert group_id == "g1"
    request = script.requests[0]
    assert request.method == "POST" and request.url.path == f"{BASE}/groups"
    assert str(request.url).startswith("http://vpn.test/")
    assert script.bodies() == [{"user_group": {"name": "devs", "description": "d"}}]
    assert UUID.match(request.headers["X-Client-Token"])
    assert request.headers["X-Project-Id"] == "proj"
    assert "x-client-token" in request.headers["Authorization"]
    assert "x-project-id" in request.headers["Authorization"]


async def test_create_retried_after_transport_error_resends_same_client_token():
    script = Script(httpx.ReadTimeout("lost"), busy(), ok(201, user={"id": "u1"}))
    calls = []
    async with session(script, on_call=lambda *a: calls.append(a[:2])) as s:
        user_id = await s.vpn.create_user("srv", name="alice", password="Passw0rd!x",
                                          client_token="11111111-2222-3333-4444-555555555555")
    assert user_id == "u1"
    tokens = {r.headers["X-Client-Token"] for r in script.requests}
    assert tokens == {"11111111-2222-3333-4444-555555555555"}
    assert calls == [("vpn.create_user", "error"), ("vpn.create_user", "400"),
                     ("vpn.create_user", "201")]
    assert script.bodies()[0] == {"user": {"name": "alice", "password": "Passw0rd!x"}}


async def test_client_token_must_be_36_chars():
    async with session(Script(ok())) as s:
        with pytest.raises(InvalidRequestError):
            await s.vpn.create_group("srv", name="x", description="", client_token="short")


async def test_list_groups_follows_markers_over_pages():
    pages = {
        None: ok(user_groups=[{"id": "g1", "name": "a"}, {"id": "g2", "name": "b"}],
                 total_count=5, page_info={"next_marker": "g2", "current_count": 2}),
        "g2": ok(user_groups=[{"id": "g3", "name": "c"}, {"id": "g4", "name": "d"}],
                 total_count=5, page_info={"next_marker": "g4", "current_count": 2}),
        "g4": ok(user_groups=[{"id": "g5", "name": "e", "type": "Default", "user_number": 3,
                               "created_at": "2024-01-01T00:00:00Z", "extra": 1}],
                 total_count=5, page_info={"current_count": 1}),
    }
    script = Script(lambda r: pages[r.url.params.get("marker")])
    async with session(script) as s:
        groups = [g async for g in s.vpn.list_groups("srv", page_size=2)]
    assert [g.id for g in groups] == ["g1", "g2", "g3", "g4", "g5"]
    assert groups[-1].type == "Default" and groups[-1].user_number == 3
    assert "created_at" not in groups[-1].model_dump()  # the cloud's stamps are not read
    assert [r.url.params.get("limit") for r in script.requests] == ["2", "2", "2"]


async def test_paging_stops_on_a_repeated_marker():
    script = Script(ok(users=[{"id": "u", "name": "n"}], page_info={"next_marker": "same"}))
    async with session(script) as s:
        users = [u async for u in s.vpn.list_users("srv")]
    assert len(users) == 2 and len(script.requests) == 2


async def test_get_update_delete_group():
    script = Script(
        ok(user_group={"id": "g1", "name": "devs", "description": "", "type": "Custom",
                       "user_number": 0}),
        ok(user_group={"id": "g1"}),
        httpx.Response(204),
        httpx.Response(404, json={"code": "VPN.0004", "message": "not found"}),
    )
    async with session(script) as s:
        group = await s.vpn.get_group("srv", "g1")
        await s.vpn.update_group("srv", "g1", name="devs2", description="new")
        await s.vpn.delete_group("srv", "g1")
        await s.vpn.delete_group("srv", "g1")  # not found on delete = done
    assert group.name == "devs"
    assert [(r.method, r.url.path) for r in script.requests] == [
        ("GET", f"{BASE}/groups/g1"), ("PUT", f"{BASE}/groups/g1"),
        ("DELETE", f"{BASE}/groups/g1"), ("DELETE", f"{BASE}/groups/g1")]
    assert script.bodies()[1] == {"user_group": {"name": "devs2", "description": "new"}}


async def test_get_group_not_found():
    script = Script(httpx.Response(404, json={"code": "VPN.0004", "message": "no"}))
    async with session(script) as s:
        with pytest.raises(NotFoundError):
            await s.vpn.get_group("srv", "g1")
    assert len(script.requests) == 1  # terminal: not retried


# ---- VPN users -------------------------------------------------------------------


async def test_user_calls_paths_and_bodies():
    script = Script(
        ok(user={"id": "u1", "name": "alice", "description": "d", "user_group_id": "g",
                 "user_group_name": "grp", "static_ip": "disable"}),
        ok(user={"id": "u1"}),
        ok(request_id="r"),
        httpx.Response(204),
    )
    async with session(script) as s:
        user = await s.vpn.get_user("srv", "u1")
        await s.vpn.update_user("srv", "u1", description="x", user_group_id="g2",
                                static_ip="10.0.0.9")
        await s.vpn.reset_password("srv", "u1", "N3w-Passw0rd")
        await s.vpn.delete_user("srv", "u1")
    assert user.user_group_name == "grp" and user.static_ip == "disable"
    assert [(r.method, r.url.path) for r in script.requests] == [
        ("GET", f"{BASE}/users/u1"), ("PUT", f"{BASE}/users/u1"),
        ("POST", f"{BASE}/users/u1/reset-password"), ("DELETE", f"{BASE}/users/u1")]
    bodies = script.bodies()
    assert bodies[1] == {"user": {"description": "x", "user_group_id": "g2",
                                  "static_ip": "10.0.0.9"}}
    assert bodies[2] == {"new_password": "N3w-Passw0rd"}


async def test_reset_password_is_not_repeated_after_a_lost_answer():
    script = Script(httpx.ConnectError("reset"), ok())
    async with session(script) as s:
        with pytest.raises(TransportError) as info:
            await s.vpn.reset_password("srv", "u1", "N3w-Passw0rd")
    assert len(script.requests) == 1
    assert "N3w-Passw0rd" not in str(info.value) + repr(info.value)


async def test_reset_password_is_not_repeated_after_a_5xx_but_is_after_busy():
    """A gateway's 504 may come after the reset took effect: a repeat would be refused as
    "one of the last 5", so the caller resolves it from its recorded intent. A busy answer
    did nothing and is retried."""
    script = Script(httpx.Response(504, json={"error_code": "APIGW.0203",
                                              "error_msg": "gateway timeout"}), ok())
    async with session(script) as s:
        with pytest.raises(ServerError):
            await s.vpn.reset_password("srv", "u1", "N3w-Passw0rd")
    assert len(script.requests) == 1
    script = Script(busy(), ok())
    async with session(script) as s:
        await s.vpn.reset_password("srv", "u1", "N3w-Passw0rd")
    assert len(script.requests) == 2


async def test_ids_that_would_change_the_path_are_refused():
    script = Script(ok())
    async with session(script) as s:
        with pytest.raises(InvalidRequestError):
            await s.vpn.delete_user("srv", "..")
        await s.vpn.delete_user("srv", "a/b")
    assert script.requests[0].url.raw_path.endswith(b"/users/a%2Fb")


# ---- retries, budget, metrics --------------------------------------------------


async def test_busy_answers_are_retried_then_succeed_and_shrink_the_limiter():
    script = Script(busy(), busy(), ok(201, user_group={"id": "g1"}))
    async with session(script) as s:
        assert await s.vpn.create_group("srv", name="x", description="") == "g1"
        limiter = s.limiters.get("vpn:srv")
        assert limiter.congestion_signals == 2


async def test_retry_budget_bounds_the_call_and_raises_the_typed_error():
    sleep = NoSleep()
    script = Script(httpx.Response(503, json={"code": "VPN.0002", "message": "down"}))
    async with session(script, retry_budget=2.0, sleep=sleep, clock=sleep.clock,
                       uniform=lambda: 1.0) as s:
        with pytest.raises(ServerError) as info:
            await s.vpn.get_user("srv", "u1")
    assert sum(sleep.slept) < 2.0
    assert len(script.requests) == 4  # sleeps 0.2, 0.4, 0.8
    assert info.value.retryable


async def test_on_call_reports_every_attempt_and_errors():
    calls = []
    script = Script(httpx.ConnectError("refused"), ok(user={"id": "u", "name": "n"}))
    async with session(script, on_call=lambda op, outcome, sec: calls.append(
            (op, outcome, sec >= 0))) as s:
        await s.vpn.get_user("srv", "u")
    assert calls == [("vpn.get_user", "error", True), ("vpn.get_user", "200", True)]


async def test_a_failing_metrics_hook_does_not_fail_the_call():
    def broken(*args):
        raise RuntimeError("metrics bug")

    async with session(Script(ok(user={"id": "u", "name": "n"})), on_call=broken) as s:
        assert (await s.vpn.get_user("srv", "u")).id == "u"


# ---- RocketMQ ------------------------------------------------------------------


def mq_user(**kw):
    fields = dict(access_key="app_user1", white_remote_address="10.0.0.0/8", admin=False,
                  default_topic_perm="SUB", default_group_perm="SUB",
                  topic_perms=[Perm(name="orders", perm="PUB|SUB")],
                  group_perms=[Perm(name="g1", perm="SUB")])
    fields.update(kw)
    return MqUserWrite(**fields)


async def test_mq_create_update_get_delete():
    echoed = {"access_key": "app_user1", "secret_key": "**************",
              "white_remote_address": "10.0.0.0/8", "admin": False,
              "default_topic_perm": "SUB", "default_group_perm": "SUB",
              "topic_perms": [{"name": "orders", "perm": "PUB|SUB"}], "group_perms": None}
    script = Script(ok(**echoed), ok(**echoed), ok(**echoed), httpx.Response(204))
    async with session(script) as s:
        await s.rocketmq.create_user("inst", mq_user(), "Secr3t-Key!")
        await s.rocketmq.update_user("inst", "app_user1", mq_user(admin=True))
        user = await s.rocketmq.get_user("inst", "app_user1")
        await s.rocketmq.delete_user("inst", "app_user1")
    assert [(r.method, r.url.path) for r in script.requests] == [
        ("POST", MQ), ("PUT", f"{MQ}/app_user1"), ("GET", f"{MQ}/app_user1"),
        ("DELETE", f"{MQ}/app_user1")]
    create, update = script.bodies()[:2]
    assert create == {"access_key": "app_user1", "white_remote_address": "10.0.0.0/8",
                      "admin": False, "default_topic_perm": "SUB", "default_group_perm": "SUB",
                      "topic_perms": [{"name": "orders", "perm": "PUB|SUB"}],
                      "group_perms": [{"name": "g1", "perm": "SUB"}],
                      "secret_key": "Secr3t-Key!"}
    assert update["secret_key"] == "" and update["admin"] is True
    assert user.topic_perms == [Perm(name="orders", perm="PUB|SUB")]
    assert user.group_perms == []
    assert "secret" not in user.model_dump()


async def test_mq_list_pages_by_offset():
    users = [{"access_key": f"user{i:03d}"} for i in range(7)]
    script = Script(lambda r: ok(
        users=users[int(r.url.params["offset"]):][: int(r.url.params["limit"])], total=7))
    async with session(script) as s:
        got = [u.access_key async for u in s.rocketmq.list_users("inst", page_size=3)]
    assert got == [u["access_key"] for u in users]
    assert [r.url.params["offset"] for r in script.requests] == ["0", "3", "6"]
    async with session(script) as s:
        [u async for u in s.rocketmq.list_users("inst", page_size=500)]
    assert script.requests[-1].url.params["limit"] == "50"


async def test_mq_missing_user_and_missing_instance():
    script = Script(
        httpx.Response(400, json={"error_code": "DMS.00500972", "error_msg": "no user"}),
        httpx.Response(404, json={"error_code": "DMS.00404022", "error_msg": "no instance"}),
        httpx.Response(400, json={"error_code": "DMS.00500972", "error_msg": "no user"}),
        httpx.Response(404, json={"error_code": "DMS.00404022", "error_msg": "no instance"}),
    )
    async with session(script) as s:
        with pytest.raises(NotFoundError):
            await s.rocketmq.get_user("inst", "ghost")
        with pytest.raises(InstanceNotFoundError):
            await s.rocketmq.get_user("inst", "ghost")
        await s.rocketmq.delete_user("inst", "ghost")
        await s.rocketmq.delete_user("inst", "ghost")


async def test_mq_create_after_lost_answer_treats_already_exists_as_done():
    script = Script(httpx.ReadTimeout("lost"),
                    httpx.Response(400, json={"error_code": "DMS.00400999",
                                              "error_msg": "The user already exists."}))
    async with session(script) as s:
        await s.rocketmq.create_user("inst", mq_user(), "Secr3t-Key!")
    assert len(script.requests) == 2


async def test_mq_create_after_a_5xx_treats_already_exists_as_done():
    script = Script(httpx.Response(502, json={"error_code": "APIGW.0202",
                                              "error_msg": "bad gateway"}),
                    httpx.Response(400, json={"error_code": "DMS.00400973",
                                              "error_msg": "The user already exists."}))
    async with session(script) as s:
        await s.rocketmq.create_user("inst", mq_user(), "Secr3t-Key!")
    assert len(script.requests) == 2


async def test_mq_busy_status_is_retried():
    script = Script(httpx.Response(400, json={"error_code": "DMS.00400026",
                                              "error_msg": "instance status"}),
                    ok(access_key="app_user1"))
    async with session(script) as s:
        await s.rocketmq.update_user("inst", "app_user1", mq_user(), "N3w-Secret!")
    assert len(script.requests) == 2
    assert s.limiters.get("dms:inst").congestion_signals == 1


# ---- configuration and secrets ------------------------------------------------------


def test_account_config_needs_one_complete_credential():
    with pytest.raises(ValueError):
        AccountConfig(region="r", project_id="p")
    with pytest.raises(ValueError):
        AccountConfig(region="r", project_id="p", access_key="AK")
    with pytest.raises(ValueError):
        AccountConfig(region="r", project_id="p", iam_domain="d", iam_user="u")
    iam = AccountConfig(region="r", project_id="p", iam_domain="d", iam_user="u",
                        iam_password="pw").credentials()
    assert isinstance(iam, IamUser) and (iam.domain, iam.user) == ("d", "u")
    both = AccountConfig(region="r", project_id="p", access_key="AK", secret_key="SK",
                         iam_domain="d", iam_user="u", iam_password="pw").credentials()
    assert isinstance(both, AkSk) and both.access_key.get_secret_value() == "AK"


def test_secrets_never_in_reprs():
    acc = account(iam_password="IamPass!")
    text = repr(acc) + str(acc) + str(acc.model_dump())
    assert "SK-very-secret" not in text and "IamPass!" not in text
    s = CloudSession(acc, transport=httpx.MockTransport(Script(ok())))
    assert "SK-very-secret" not in repr(s)


def test_default_endpoints_and_overrides():
    acc = AccountConfig(region="cn-north-4", project_id="p", access_key="a", secret_key="b",
                        dms_endpoint="http://127.0.0.1:8080/")
    e = acc.endpoints()
    assert e.vpn == "https://vpn.cn-north-4.myhuaweicloud.com"
    assert e.iam == "https://iam.cn-north-4.myhuaweicloud.com"
    assert e.dms == "http://127.0.0.1:8080"
    with pytest.raises(ValueError):
        AccountConfig(region="bad/region", project_id="p", access_key="a",
                      secret_key="b").endpoints()
    with pytest.raises(ValueError):
        AccountConfig(region="r", project_id="p", access_key="a", secret_key="b",
                      vpn_endpoint="ftp://x").endpoints()


async def test_busy_error_raised_when_budget_spent_is_typed():
    script = Script(busy())
    async with session(script, retry_budget=0.5, uniform=lambda: 1.0) as s:
        with pytest.raises(BusyError) as info:
            await s.vpn.create_group("srv", name="x", description="")
    assert info.value.code == "VPN.0030"
