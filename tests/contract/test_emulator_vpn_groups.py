"""VPN v5 servers and user groups, driven by the official SDK against the emulator."""

from __future__ import annotations

import pytest
from tests.contract.helpers import retry_busy, sdk_error, send, signed, unique, vpn_client, wait_for
from tests.contract.vpn_calls import Vpn


@pytest.fixture
def vpn(emulator) -> Vpn:
    return Vpn(vpn_client(emulator), emulator.config.vpn_server_id)


def _visible_group(vpn: Vpn, group_id: str):
    return wait_for(lambda: vpn.show_group(group_id), timeout=5)


def test_list_vpn_servers(vpn, emulator) -> None:
    response = vpn.list_servers(limit=10)
    assert response.total_count == 1
    server = response.vpn_servers[0]
    assert server.id == emulator.config.vpn_server_id
    assert server.status == "ACTIVE"
    assert server.client_auth_type == "LOCAL_PASSWORD"
    assert server.client_cidr == "172.16.0.0/16"
    assert response.page_info.current_count == 1
    assert response.page_info.next_marker is None


def test_show_vpn_server(emulator) -> None:
    c = emulator.config
    url, headers, body = signed(
        emulator, "GET", f"/v5/{c.project_id}/vpn-servers/{c.vpn_server_id}"
    )
    response = send(url, headers, body)
    assert response.status_code == 200
    assert response.json()["vpn_server"]["id"] == c.vpn_server_id
    assert response.json()["vpn_server"]["status"] == "ACTIVE"
    url, headers, body = signed(emulator, "GET", f"/v5/{c.project_id}/vpn-servers/nope")
    missing = send(url, headers, body)
    assert missing.status_code == 404 and missing.json()["code"] == "VPN.0004"


def test_unknown_vpn_server(emulator) -> None:
    vpn = Vpn(vpn_client(emulator), "00000000-0000-0000-0000-000000000000")
    err = sdk_error(lambda: vpn.list_users())
    assert (err.status_code, err.error_code) == (404, "VPN.0004")


def test_default_group(vpn) -> None:
    groups = vpn.list_groups().user_groups
    default = [g for g in groups if g.type == "Default"]
    assert len(default) == 1 and default[0].name == "default_group"
    err = sdk_error(lambda: vpn.delete_group(default[0].id))
    assert (err.status_code, err.error_code) == (400, "VPN.0001")
    err = sdk_error(lambda: vpn.update_group(default[0].id, name="renamed"))
    assert err.error_code == "VPN.0001"


def test_group_lifecycle(vpn) -> None:
    name = unique("grp")
    created = retry_busy(lambda: vpn.create_group(name, "first"))
    assert created.status_code == 201
    group_id = created.user_group.id
    assert created.request_id
    group = _visible_group(vpn, group_id)
    assert (group.name, group.description, group.type, group.user_number) == (
        name,
        "first",
        "Custom",
        0,
    )
    assert group.created_at and group.updated_at
    assert group_id in {g.id for g in vpn.list_groups().user_groups}

    updated = retry_busy(lambda: vpn.update_group(group_id, name=name + "-2", description="second"))
    assert updated.status_code == 200
    assert (updated.user_group.name, updated.user_group.description) == (name + "-2", "second")
    wait_for(lambda: vpn.show_group(group_id).name == name + "-2")

    deleted = retry_busy(lambda: vpn.delete_group(group_id))
    assert deleted.status_code == 204
    wait_for(lambda: sdk_error(lambda: vpn.show_group(group_id)).status_code == 404)
    err = sdk_error(lambda: vpn.delete_group(group_id))
    assert (err.status_code, err.error_code) == (404, "VPN.0004")


def test_duplicate_group_names(vpn) -> None:
    name = unique("dup")
    first = retry_busy(lambda: vpn.create_group(name)).user_group.id
    err = sdk_error(lambda: vpn.create_group(name))  # refused even while still pending
    assert (err.status_code, err.error_code) == (400, "VPN.0001")
    other = retry_busy(lambda: vpn.create_group(name + "-o")).user_group.id
    err = sdk_error(lambda: vpn.update_group(other, name=name))
    assert err.error_code == "VPN.0001"
    for gid in (first, other):
        retry_busy(lambda gid=gid: vpn.delete_group(gid))


@pytest.mark.parametrize(
    ("name", "description"),
    [("", None), ("x" * 65, None), ("has space", None), ("bad!", None), ("ok-name", "d" * 65)],
)
def test_group_rules(vpn, name, description) -> None:
    err = sdk_error(lambda: vpn.create_group(name, description))
    assert (err.status_code, err.error_code) == (400, "VPN.0001")


def test_group_name_limits_accepted(vpn) -> None:
    for name in ("Z", ("G_" + unique("")[2:]).ljust(64, "x")):
        gid = retry_busy(lambda name=name: vpn.create_group(name)).user_group.id
        retry_busy(lambda gid=gid: vpn.delete_group(gid))


def test_members_and_delete_refused_while_not_empty(vpn) -> None:
    group_id = retry_busy(lambda: vpn.create_group(unique("mem"))).user_group.id
    names = [unique("m") for _ in range(3)]
    ids = [retry_busy(lambda n=n: vpn.create_user(n, group_id=group_id)).user.id for n in names[:2]]
    ids.append(retry_busy(lambda: vpn.create_user(names[2])).user.id)  # into the default group
    assert wait_for(lambda: vpn.show_group(group_id).user_number == 2)
    user = vpn.show_user(ids[0])
    assert user.user_group_id == group_id
    default_user = wait_for(lambda: vpn.show_user(ids[2]))
    assert default_user.user_group_name == "default_group"

    err = sdk_error(lambda: vpn.delete_group(group_id))
    assert err.error_code == "VPN.0001" and "still has 2 user" in err.error_msg

    in_group = vpn.group_users(group_id, limit=1)
    assert in_group.total_count == 2 and len(in_group.users) == 1
    assert in_group.page_info.next_marker
    rest = vpn.group_users(group_id, limit=1, marker=in_group.page_info.next_marker)
    assert [u.id for u in in_group.users + rest.users] == ids[:2]
    assert rest.page_info.next_marker is None

    assert retry_busy(lambda: vpn.add_users(group_id, [ids[2]])).status_code == 201
    wait_for(lambda: vpn.show_group(group_id).user_number == 3)
    assert vpn.show_user(ids[2]).user_group_name == vpn.show_group(group_id).name

    assert retry_busy(lambda: vpn.remove_users(group_id, ids)).status_code == 201
    wait_for(lambda: vpn.show_group(group_id).user_number == 0)
    assert vpn.show_user(ids[0]).user_group_name == "default_group"
    default_id = vpn.show_user(ids[0]).user_group_id
    err = sdk_error(lambda: vpn.remove_users(default_id, [ids[0]]))
    assert err.error_code == "VPN.0001"
    err = sdk_error(lambda: vpn.add_users(group_id, ["00000000-0000-0000-0000-000000000000"]))
    assert err.status_code == 404

    assert retry_busy(lambda: vpn.delete_group(group_id)).status_code == 204
    retry_busy(lambda: vpn.batch_delete(ids))
