"""Fault injection (error rate, one-shot failures, latency, busy, throttling, dropped answers,
policy denials) and the call statistics."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import (
    ConnectionException,
    ServerResponseException,
)
from huaweicloudsdkrocketmq.v2 import (
    CreateUserRequest,
    DeleteUserRequest,
    ListUserRequest,
    ShowUserRequest,
    User,
)
from tests.contract.helpers import (
    mq_client,
    retry_busy,
    sdk_error,
    send,
    signed,
    unique,
    vpn_base,
    vpn_client,
    wait_for,
)
from tests.contract.vpn_calls import Vpn
from tests.support.emulator import EmulatorProcess


@pytest.fixture(scope="module")
def faulty() -> Iterator[EmulatorProcess]:
    with EmulatorProcess({"apply_delay": 0.1, "queue_capacity": 100}, seed=7) as emu:
        yield emu


@pytest.fixture(autouse=True)
def _clean(faulty) -> Iterator[None]:
    faulty.clear_faults()
    faulty.reset_stats()
    yield
    faulty.clear_faults()


@pytest.fixture
def vpn(faulty) -> Vpn:
    return Vpn(vpn_client(faulty), faulty.config.vpn_server_id)


def _server_error(fn) -> ServerResponseException:
    try:
        fn()
    except ServerResponseException as exc:
        return exc
    raise AssertionError("expected a 5xx")


def test_error_rate_answers_before_any_change(faulty, vpn) -> None:
    faulty.set_faults(error_rate=1.0, error_statuses=[500])
    err = _server_error(lambda: vpn.create_group("never-made"))
    assert (err.status_code, err.error_code) == (500, "VPN.0002")
    mq = mq_client(faulty)
    body = User(access_key="never_made", secret_key="Secret-Key-1")
    request = CreateUserRequest(instance_id=faulty.config.instance_id, body=body)
    err = _server_error(lambda: mq.create_user(request))
    assert err.error_code == "DMS.00500000"
    faulty.set_faults(error_statuses=[503])
    err = _server_error(lambda: vpn.list_users())
    assert (err.status_code, err.error_code) == (503, "APIGW.0202")
    faulty.set_faults(error_rate=0.0)
    state = faulty.state()
    assert state["vpn_servers"][faulty.config.vpn_server_id]["accepted"]["groups"] == 1
    assert state["rocketmq_instances"][faulty.config.instance_id]["accepted"]["users"] == 0
    stats = faulty.stats()
    assert stats["calls"]["create_group"] == {"500": 1}
    assert stats["calls"]["list_users"] == {"503": 1}


def test_partial_error_rate_is_random(faulty, vpn) -> None:
    faulty.set_faults(error_rate=0.5)
    outcomes = []
    for _ in range(40):
        try:
            vpn.list_groups()
            outcomes.append(200)
        except ServerResponseException as exc:
            outcomes.append(exc.status_code)
    assert 200 in outcomes and {500, 503} & set(outcomes)
    assert set(outcomes) <= {200, 500, 503}


def test_fail_next(faulty, vpn) -> None:
    faulty.set_faults(fail_next=2)
    assert _server_error(lambda: vpn.list_users()).status_code == 503
    assert _server_error(lambda: vpn.list_groups()).status_code == 503
    assert vpn.list_users().total_count >= 0
    assert faulty.faults()["fail_next"] == 0


def test_latency(faulty, vpn) -> None:
    faulty.set_faults(latency=0.3)
    start = time.monotonic()
    vpn.list_users()
    assert time.monotonic() - start >= 0.3
    start = time.monotonic()
    faulty.state()  # the admin API is never slowed down
    assert time.monotonic() - start < 0.3


def test_a_caller_gone_before_its_answer_is_no_server_error(faulty) -> None:
    """A client that times out while the emulator adds latency (its body unread) is counted
    as gone, not as a 500, which a test counting the cloud's refusals would take for one."""
    faulty.set_faults(latency=1.0)
    name = unique("gone")
    url, headers, body = signed(faulty, "POST", vpn_base(faulty) + "/users",
                                body=json.dumps({"user": {"name": name,
                                                          "password": "Passw0rd-12"}}).encode(),
                                headers={"Content-Type": "application/json"})
    with pytest.raises(httpx.TimeoutException):
        httpx.post(url, headers=headers, content=body, timeout=0.3)
    calls = wait_for(lambda: faulty.stats()["calls"]["create_user"], timeout=5)
    assert calls == {"caller-gone": 1}  # not a 500; and nothing made
    faulty.clear_faults()
    assert [u for u in faulty.vpn_state()["users"] if u["name"] == name] == []


def test_busy_rate(faulty, vpn) -> None:
    faulty.set_faults(busy_rate=1.0)
    err = sdk_error(lambda: vpn.create_user("busy-user"))
    assert (err.status_code, err.error_code) == (400, "VPN.0030")
    assert vpn.list_users().total_count >= 0  # reads are not affected
    mq = mq_client(faulty)
    body = User(access_key="busy_user", secret_key="Secret-Key-1")
    err = sdk_error(
        lambda: mq.create_user(CreateUserRequest(instance_id=faulty.config.instance_id, body=body))
    )
    assert err.error_code == "DMS.00400026"
    assert faulty.stats()["busy"] == 2


def test_throttling(faulty) -> None:
    faulty.set_faults(throttle_rate=1.0)
    url, headers, body = signed(faulty, "GET", vpn_base(faulty) + "/users")
    response = httpx.get(url, headers=headers, timeout=10)
    assert response.status_code == 429
    assert response.json()["error_code"] == "APIGW.0308"


def test_drop_after_accepting_leaves_the_object(faulty, vpn) -> None:
    faulty.set_faults(drop_next=1)
    token = str(uuid.uuid4())
    name = "dropped-" + uuid.uuid4().hex[:6]
    with pytest.raises(ConnectionException):
        vpn.create_user(name, token=token)
    assert faulty.faults()["drop_next"] == 0
    users = wait_for(lambda: [u for u in vpn.list_users().users if u.name == name])
    assert len(users) == 1
    # a retry with the same X-Client-Token gets the answer that was lost
    assert vpn.create_user(name, token=token).user.id == users[0].id
    stats = faulty.stats()
    assert stats["dropped"] == 1
    assert stats["calls"]["create_user"] == {"dropped": 1, "201": 1}


def test_drop_rate_only_for_listed_operations(faulty, vpn) -> None:
    faulty.set_faults(drop_rate=1.0, drop_operations=["create_mq_user"])
    group = vpn.create_group("not-dropped-" + uuid.uuid4().hex[:6])  # not listed: answered
    assert group.status_code == 201
    mq = mq_client(faulty)
    ak = "drop_" + uuid.uuid4().hex[:8]
    body = User(access_key=ak, secret_key="Secret-Key-1")
    with pytest.raises(ConnectionException):
        mq.create_user(CreateUserRequest(instance_id=faulty.config.instance_id, body=body))
    listed = mq.list_user(ListUserRequest(instance_id=faulty.config.instance_id, limit=50))
    assert ak in {u.access_key for u in listed.users}
    faulty.set_faults(
        drop_operations=["create_user", "create_group", "batch_create_users", "create_mq_user"]
    )


def _denial(principal: str, operation: str) -> str:
    return (f"User: {principal} is not authorized to perform: {operation} "
            "with an explicit deny in the identity policy.")


def test_denied_delete_of_a_vpn_user_changes_nothing(faulty, vpn) -> None:
    name = unique("denied")
    user_id = retry_busy(lambda: vpn.create_user(name)).user.id
    faulty.apply_now()
    faulty.set_faults(deny_operations=["delete_user"])
    for _ in range(2):  # every call, not a share of them
        err = sdk_error(lambda: vpn.delete_user(user_id))
        assert (err.status_code, err.error_code) == (403, "VPN.0003")
    url, headers, body = signed(faulty, "DELETE", f"{vpn_base(faulty)}/users/{user_id}")
    response = send(url, headers, body, "DELETE")
    assert response.status_code == 403
    assert response.json() == {
        "code": "VPN.0003",
        "message": "Authentication failed: " + _denial(faulty.config.access_key, "delete_user"),
    }
    assert vpn.show_user(user_id).name == name  # other operations are allowed
    state = faulty.vpn_state()
    assert [u["name"] for u in state["users"] if u["id"] == user_id] == [name]
    assert not [p for p in state["pending"] if p["id"] == user_id], "a denied call changed nothing"
    assert faulty.stats()["calls"]["delete_user"] == {"403": 3}
    assert faulty.clear_faults()["deny_operations"] == []
    assert vpn.delete_user(user_id).status_code == 204


def test_denied_delete_of_an_mq_user_changes_nothing(faulty) -> None:
    mq = mq_client(faulty)
    instance = faulty.config.instance_id
    ak = "denied_" + uuid.uuid4().hex[:8]
    mq.create_user(CreateUserRequest(instance_id=instance,
                                     body=User(access_key=ak, secret_key="Secret-Key-1")))
    faulty.set_faults(deny_operations=["delete_mq_user", "update_mq_user"])
    err = sdk_error(lambda: mq.delete_user(DeleteUserRequest(instance_id=instance, user_name=ak)))
    assert (err.status_code, err.error_code) == (403, "DMS.00403003")
    path = f"/v2/{faulty.config.project_id}/instances/{instance}/users/{ak}"
    response = send(*signed(faulty, "DELETE", path), "DELETE")
    assert response.status_code == 403
    assert response.json() == {
        "error_code": "DMS.00403003",
        "error_msg": "This role does not have the permissions to perform this operation.",
    }
    shown = mq.show_user(ShowUserRequest(instance_id=instance, user_name=ak))
    assert shown.access_key == ak
    assert [u["access_key"] for u in faulty.mq_state()["users"]].count(ak) == 1
    assert faulty.check_mq_secret(ak, "Secret-Key-1")
    faulty.clear_faults()
    mq.delete_user(DeleteUserRequest(instance_id=instance, user_name=ak))


def test_deny_operations_refuses_unknown_and_undeniable_names(faulty) -> None:
    for bad in ("delete_usr", "issue_token"):
        response = httpx.put(faulty.url + "/_emulator/faults",
                             json={"deny_operations": ["delete_user", bad]}, timeout=5)
        assert response.status_code == 400
        message = response.json()["error"]
        assert f"faults.deny_operations: Value error, unknown or undeniable operation(s) " \
               f"['{bad}']; choose from [" in message
        choices = message.partition("choose from")[2]
        assert "'delete_mq_user'" in choices and "'issue_token'" not in choices
    assert faulty.faults()["deny_operations"] == []


def test_faults_api_validates_and_merges(faulty) -> None:
    current = faulty.set_faults(latency=0.01)
    assert current["latency"] == 0.01 and current["error_statuses"] == [500, 503]
    for bad in ({"busy_rate": 2}, {"error_statuses": [404]}, {"nope": 1}):
        response = httpx.put(faulty.url + "/_emulator/faults", json=bad, timeout=5)
        assert response.status_code == 400
        assert "error" in response.json()
    assert faulty.faults()["latency"] == 0.01


def test_stats_count_by_operation_and_status(faulty, vpn) -> None:
    vpn.list_users()
    vpn.list_users()
    sdk_error(lambda: vpn.show_user("00000000-0000-0000-0000-000000000000"))
    stats = faulty.stats()
    assert stats["calls"]["list_users"] == {"200": 2}
    assert stats["calls"]["show_user"] == {"404": 1}
    assert stats["total"] == 3
    assert faulty.reset_stats()["total"] == 0


def test_stats_count_by_client(faulty, vpn) -> None:
    """Each authenticated caller's calls, with the first and the last one's time: which of
    several operators on one emulator called the cloud, and when."""
    before = time.time()
    vpn.list_users()
    vpn.list_users()
    unsigned = signed(faulty, "GET", vpn_base(faulty) + "/users", sk="not-the-secret-key")
    assert send(*unsigned).status_code == 401  # not authenticated: nobody's call
    after = time.time()
    stats = faulty.stats()
    assert list(stats["clients"]) == [faulty.config.access_key]
    client = stats["clients"][faulty.config.access_key]
    assert client["calls"] == 2 and stats["total"] == 3
    assert before <= client["first"] <= client["last"] <= after
    assert faulty.reset_stats()["clients"] == {}
