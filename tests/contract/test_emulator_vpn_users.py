"""VPN v5 users, driven by the official SDK: CRUD, every input rule, passwords, batches,
X-Client-Token idempotency and paging."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest
from tests.contract.helpers import retry_busy, sdk_error, unique, vpn_client, wait_for
from tests.contract.vpn_calls import PASSWORD, Vpn


@pytest.fixture
def vpn(emulator) -> Vpn:
    return Vpn(vpn_client(emulator), emulator.config.vpn_server_id)


def _admin_user(emulator, user_id: str) -> dict:
    users = emulator.vpn_state()["users"]
    return next(u for u in users if u["id"] == user_id)


def test_user_lifecycle(vpn, emulator) -> None:
    name = unique("usr")
    group_id = retry_busy(lambda: vpn.create_group(unique("ug"))).user_group.id
    created = retry_busy(
        lambda: vpn.create_user(
            name, description="hello", group_id=group_id, static_ip="172.16.3.5"
        )
    )
    assert created.status_code == 201 and created.user.id and created.request_id
    user_id = created.user.id
    user = wait_for(lambda: vpn.show_user(user_id))
    assert (user.name, user.description, user.user_group_id, user.static_ip) == (
        name,
        "hello",
        group_id,
        "172.16.3.5",
    )
    assert user.user_group_name == vpn.show_group(group_id).name
    assert user.created_at and user.updated_at
    assert user_id in {u.id for u in vpn.list_users(limit=200).users}

    updated = retry_busy(lambda: vpn.update_user(user_id, description="bye", static_ip="disable"))
    assert updated.status_code == 200
    assert (updated.user.description, updated.user.static_ip) == ("bye", "disable")
    wait_for(lambda: vpn.show_user(user_id).description == "bye")

    admin = _admin_user(emulator, user_id)
    assert admin["password_set"] is True and admin["password_version"] == 1
    assert admin["password_sha256"] == hashlib.sha256(PASSWORD.encode()).hexdigest()
    assert "password" not in admin
    assert emulator.check_password(user_id, PASSWORD)
    assert not emulator.check_password(name, "Other-Pass-1")

    assert retry_busy(lambda: vpn.delete_user(user_id)).status_code == 204
    wait_for(lambda: sdk_error(lambda: vpn.show_user(user_id)).status_code == 404)
    err = sdk_error(lambda: vpn.delete_user(user_id))
    assert (err.status_code, err.error_code) == (404, "VPN.0004")
    err = sdk_error(lambda: vpn.update_user(user_id, description="x"))
    assert err.error_code == "VPN.0004"
    retry_busy(lambda: vpn.delete_group(group_id))


def test_state_never_contains_passwords(vpn, emulator) -> None:
    secret = "Unique-Secret-" + uuid.uuid4().hex[:8]
    user_id = retry_busy(lambda: vpn.create_user(unique("sec"), secret)).user.id
    wait_for(lambda: vpn.show_user(user_id))
    text = httpx.get(emulator.url + "/_emulator/state", timeout=10).text
    assert secret not in text
    assert emulator.config.secret_key not in text
    retry_busy(lambda: vpn.delete_user(user_id))


NAME_CASES = ["abc", "x" * 33, "bad name", "bad/name", "名字名字"]


@pytest.mark.parametrize("name", NAME_CASES)
def test_user_name_rules(vpn, name) -> None:
    err = sdk_error(lambda: vpn.create_user(name))
    assert (err.status_code, err.error_code) == (400, "VPN.0001")


def test_user_name_limits_accepted(vpn) -> None:
    for name in ("a.b" + uuid.uuid4().hex[:1], ("n_" + uuid.uuid4().hex).ljust(32, "-")[:32]):
        user_id = retry_busy(lambda name=name: vpn.create_user(name)).user.id
        retry_busy(lambda user_id=user_id: vpn.delete_user(user_id))


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("Ab1!", "length"),
        ("Ab1!" * 8 + "x", "length"),
        ("alllowercase", "at least two"),
        ("12345678901", "at least two"),
        ("Passw0rd\u00e9", "not allowed"),
        (None, "name"),  # the user name itself
        ("reversed", "reversed"),  # the user name reversed
    ],
)
def test_password_rules(vpn, password, why) -> None:
    name = "Pw1-" + uuid.uuid4().hex[:8]
    if password is None:
        password = name
    elif password == "reversed":
        password = name[::-1]
    err = sdk_error(lambda: vpn.create_user(name, password))
    assert (err.status_code, err.error_code) == (400, "VPN.0001")
    assert why in err.error_msg
    assert password not in err.error_msg


def test_password_with_space_and_two_classes_is_fine(vpn) -> None:
    user_id = retry_busy(lambda: vpn.create_user(unique("sp"), "two classes 1")).user.id
    retry_busy(lambda: vpn.delete_user(user_id))


@pytest.mark.parametrize(
    "static_ip", ["10.0.0.5", "172.16.0.1", "172.16.0.0", "172.16.255.255", "not-an-ip", "::1"]
)
def test_static_ip_rules(vpn, static_ip) -> None:
    err = sdk_error(lambda: vpn.create_user(unique("ip"), static_ip=static_ip))
    assert (err.status_code, err.error_code) == (400, "VPN.0001")


def test_static_ip_must_be_unique(vpn) -> None:
    first = retry_busy(lambda: vpn.create_user(unique("ip"), static_ip="172.16.9.9")).user.id
    err = sdk_error(lambda: vpn.create_user(unique("ip"), static_ip="172.16.9.9"))
    assert err.error_code == "VPN.0001" and "already" in err.error_msg
    retry_busy(lambda: vpn.delete_user(first))


def test_description_rule_and_unknown_group(vpn) -> None:
    err = sdk_error(lambda: vpn.create_user(unique("d"), description="d" * 65))
    assert err.error_code == "VPN.0001"
    err = sdk_error(
        lambda: vpn.create_user(unique("g"), group_id="00000000-0000-0000-0000-000000000000")
    )
    assert (err.status_code, err.error_code) == (404, "VPN.0004")


def test_duplicate_user_name_even_while_pending(vpn) -> None:
    name = unique("dupu")
    user_id = retry_busy(lambda: vpn.create_user(name)).user.id
    err = sdk_error(lambda: vpn.create_user(name))
    assert err.error_code == "VPN.0001" and "already exists" in err.error_msg
    retry_busy(lambda: vpn.delete_user(user_id))


def test_reset_password_history(vpn, emulator) -> None:
    user_id = retry_busy(lambda: vpn.create_user(unique("rst"), "Start-Pass-0")).user.id
    err = sdk_error(lambda: vpn.reset_password(user_id, "Start-Pass-0"))
    assert err.error_code == "VPN.0001" and "last 5" in err.error_msg
    for i in range(1, 6):
        assert (
            retry_busy(lambda i=i: vpn.reset_password(user_id, f"Next-Pass-{i}")).status_code == 200
        )
    # the history now holds Next-Pass-1..5; Start-Pass-0 has dropped out of it
    err = sdk_error(lambda: vpn.reset_password(user_id, "Next-Pass-1"))
    assert err.error_code == "VPN.0001"
    retry_busy(lambda: vpn.reset_password(user_id, "Start-Pass-0"))
    err = sdk_error(lambda: vpn.reset_password(user_id, "short"))
    assert err.error_code == "VPN.0001"
    admin = wait_for(lambda: (a := _admin_user(emulator, user_id))["password_version"] == 7 and a)
    assert admin["password_sha256"] == hashlib.sha256(b"Start-Pass-0").hexdigest()
    assert emulator.check_password(user_id, "Start-Pass-0")
    retry_busy(lambda: vpn.delete_user(user_id))


def test_change_password(vpn, emulator) -> None:
    user_id = retry_busy(lambda: vpn.create_user(unique("chg"), "Old-Pass-11")).user.id
    err = sdk_error(lambda: vpn.change_password(user_id, "Wrong-Pass-1", "New-Pass-22"))
    assert err.error_code == "VPN.0001" and "old password" in err.error_msg
    assert (
        retry_busy(lambda: vpn.change_password(user_id, "Old-Pass-11", "New-Pass-22")).status_code
        == 200
    )
    wait_for(lambda: emulator.check_password(user_id, "New-Pass-22"))
    retry_busy(lambda: vpn.delete_user(user_id))


def test_client_token_makes_create_idempotent(vpn) -> None:
    token = str(uuid.uuid4())
    name = unique("idem")
    first = retry_busy(lambda: vpn.create_user(name, token=token))
    again = vpn.create_user(name, token=token)  # still pending: same answer, same id
    assert again.status_code == 201 and again.user.id == first.user.id
    err = sdk_error(lambda: vpn.create_user(name, token=str(uuid.uuid4())))
    assert err.error_code == "VPN.0001"
    gtoken = str(uuid.uuid4())
    gname = unique("idemg")
    g1 = retry_busy(lambda: vpn.create_group(gname, token=gtoken))
    g2 = vpn.create_group(gname, token=gtoken)
    assert g1.user_group.id == g2.user_group.id
    err = sdk_error(lambda: vpn.create_user(unique("t"), token="not-a-uuid"))
    assert err.error_code == "VPN.0001"
    retry_busy(lambda: vpn.delete_user(first.user.id))
    retry_busy(lambda: vpn.delete_group(g1.user_group.id))


def test_batch_create_and_delete(vpn) -> None:
    group_name = unique("bg")
    group_id = retry_busy(lambda: vpn.create_group(group_name)).user_group.id
    prefix = unique("b")
    rows = [
        {"name": f"{prefix}-1", "password": PASSWORD},
        {"name": f"{prefix}-2", "password": PASSWORD, "user_group_name": group_name},
        {"name": f"{prefix}-3", "password": PASSWORD, "static_ip": "172.16.7.9"},
    ]
    result = retry_busy(lambda: vpn.batch_create(rows))
    assert result.status_code == 201 and result.invalid_users == []

    def all_visible():
        users = {u.name: u for u in vpn.list_users(limit=200).users}
        return all(r["name"] in users for r in rows) and users

    users = wait_for(all_visible)
    assert users[f"{prefix}-2"].user_group_name == group_name
    assert users[f"{prefix}-1"].user_group_name == "default_group"
    assert users[f"{prefix}-3"].static_ip == "172.16.7.9"

    ids = [users[r["name"]].id for r in rows]
    unknown = "00000000-0000-0000-0000-000000000000"
    assert retry_busy(lambda: vpn.batch_delete([*ids, unknown])).status_code == 200
    wait_for(lambda: not ({u.id for u in vpn.list_users(limit=200).users} & set(ids)))
    retry_busy(lambda: vpn.delete_group(group_id))


def test_batch_create_with_an_invalid_row_creates_nothing(vpn) -> None:
    prefix = unique("bi")
    rows = [
        {"name": f"{prefix}-ok", "password": PASSWORD},
        {"name": f"{prefix}-bad", "password": "short"},
        {"name": f"{prefix}-grp", "password": PASSWORD, "user_group_name": "no-such-group"},
        {"name": f"{prefix}-ok", "password": PASSWORD},  # duplicate inside the batch
    ]
    result = retry_busy(lambda: vpn.batch_create(rows))
    assert result.status_code == 201
    causes = {(u.name, bool(u.cause)) for u in result.invalid_users}
    assert causes == {(f"{prefix}-bad", True), (f"{prefix}-grp", True), (f"{prefix}-ok", True)}
    assert all("short" not in (u.cause or "") for u in result.invalid_users)
    assert not any(u.name.startswith(prefix) for u in vpn.list_users(limit=200).users)


def test_user_paging(fresh_emulator) -> None:
    emu = fresh_emulator(apply_delay=0, queue_capacity=1000)
    vpn = Vpn(vpn_client(emu), emu.config.vpn_server_id)
    rows = [{"name": f"page-{i:03d}", "password": PASSWORD} for i in range(25)]
    assert vpn.batch_create(rows).invalid_users == []
    seen, marker, pages = [], None, 0
    while True:
        kwargs = {"limit": 10} if marker is None else {"limit": 10, "marker": marker}
        page = vpn.list_users(**kwargs)
        pages += 1
        assert page.total_count == 25
        assert page.page_info.current_count == len(page.users)
        seen += [u.name for u in page.users]
        marker = page.page_info.next_marker
        if marker is None:
            break
    assert pages == 3
    assert seen == [r["name"] for r in rows]  # creation order, no gaps, no repeats
    assert len(vpn.list_users().users) == 25  # default limit covers them
    for bad in ({"limit": 0}, {"limit": 201}, {"limit": 5, "marker": "yesterday"}):
        assert sdk_error(lambda bad=bad: vpn.list_users(**bad)).error_code == "VPN.0001"
    for i in range(12):
        vpn.create_group(f"grp-{i:02d}")
    first = vpn.list_groups(limit=5)
    assert first.total_count == 13 and first.user_groups[0].type == "Default"
    names, marker = [g.name for g in first.user_groups], first.page_info.next_marker
    while marker:
        page = vpn.list_groups(limit=5, marker=marker)
        names += [g.name for g in page.user_groups]
        marker = page.page_info.next_marker
    assert names == ["default_group"] + [f"grp-{i:02d}" for i in range(12)]
