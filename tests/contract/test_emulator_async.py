"""The asynchronous apply model: changes take effect apply_delay after acceptance, reads show
the old state until then, and at most queue_capacity changes wait per VPN server."""

from __future__ import annotations

import time
import uuid

from tests.contract.helpers import sdk_error, vpn_client, wait_for
from tests.contract.vpn_calls import Vpn


def _vpn(emu) -> Vpn:
    return Vpn(vpn_client(emu), emu.config.vpn_server_id)


def test_reads_show_the_old_state_until_applied(fresh_emulator) -> None:
    emu = fresh_emulator(apply_delay=0.6, queue_capacity=10)
    vpn = _vpn(emu)
    accepted = time.monotonic()
    user_id = vpn.create_user("async-user", description="v1").user.id
    # a new object: 404 and absent from lists
    assert sdk_error(lambda: vpn.show_user(user_id)).error_code == "VPN.0004"
    assert user_id not in {u.id for u in vpn.list_users().users}
    # its name is reserved from acceptance on
    assert sdk_error(lambda: vpn.create_user("async-user")).error_code == "VPN.0001"
    user = wait_for(lambda: vpn.show_user(user_id), timeout=3, interval=0.02)
    assert time.monotonic() - accepted >= 0.55
    assert user.description == "v1"

    # an update shows the old values until applied
    updated = vpn.update_user(user_id, description="v2")
    assert updated.user.description == "v2"  # the answer carries the new values
    assert vpn.show_user(user_id).description == "v1"
    assert [u.description for u in vpn.list_users().users] == ["v1"]
    wait_for(lambda: vpn.show_user(user_id).description == "v2", timeout=3)

    # a deleted object is still there until applied
    vpn.delete_user(user_id)
    assert vpn.show_user(user_id).name == "async-user"
    assert sdk_error(lambda: vpn.update_user(user_id, description="x")).status_code == 404
    wait_for(lambda: sdk_error(lambda: vpn.show_user(user_id)).status_code == 404, timeout=3)

    state = emu.vpn_state()
    assert state["pending"] == [] and state["queue"]["pending"] == 0


def test_admin_state_shows_pending_changes(fresh_emulator) -> None:
    emu = fresh_emulator(apply_delay=5, queue_capacity=10)
    vpn = _vpn(emu)
    group_id = vpn.create_group("pending-group").user_group.id
    state = emu.vpn_state()
    assert state["queue"] == {"pending": 1, "capacity": 10}
    assert state["pending"][0]["op"] == "put_group"
    assert state["pending"][0]["id"] == group_id
    assert 0 < state["pending"][0]["due_in"] <= 5
    assert state["accepted"]["groups"] == 2
    assert [g["type"] for g in state["groups"]] == ["Default"]
    assert emu.apply_now()["applied"] == 1
    assert vpn.show_group(group_id).name == "pending-group"


def test_queue_full_gives_vpn_0030_and_changes_nothing(fresh_emulator) -> None:
    emu = fresh_emulator(apply_delay=0.5, queue_capacity=3)
    vpn = _vpn(emu)
    ids = [vpn.create_user(f"queued-{i}").user.id for i in range(3)]
    err = sdk_error(lambda: vpn.create_user("queued-3"))
    assert (err.status_code, err.error_code) == (400, "VPN.0030")
    assert "busy" in err.error_msg
    state = emu.vpn_state()
    assert state["accepted"]["users"] == 3 and state["queue"]["pending"] == 3
    # the refused name was not reserved
    wait_for(lambda: emu.vpn_state()["queue"]["pending"] == 0, timeout=3)
    assert vpn.create_user("queued-3").status_code == 201
    stats = emu.stats()
    assert stats["calls"]["create_user"] == {"201": 4, "400": 1}
    assert stats["busy"] == 1
    assert len({vpn.show_user(i).id for i in ids}) == 3


def test_a_batch_counts_one_change_per_user(fresh_emulator) -> None:
    emu = fresh_emulator(apply_delay=0.4, queue_capacity=3)
    vpn = _vpn(emu)
    rows = [{"name": f"batch-{i}", "password": "Passw0rd-Emu"} for i in range(4)]
    err = sdk_error(lambda: vpn.batch_create(rows))
    assert err.error_code == "VPN.0030"
    assert emu.vpn_state()["accepted"]["users"] == 0  # refused whole
    assert vpn.batch_create(rows[:3]).invalid_users == []
    assert sdk_error(lambda: vpn.create_user("one-more")).error_code == "VPN.0030"
    users = wait_for(lambda: len(vpn.list_users().users) == 3 and vpn.list_users().users)
    ids = [u.id for u in users]
    # add-users / batch-delete count one change per user too
    group_id = vpn.create_group("g3").user_group.id
    assert sdk_error(lambda: vpn.add_users(group_id, ids)).error_code == "VPN.0030"
    wait_for(lambda: emu.vpn_state()["queue"]["pending"] == 0, timeout=3)
    assert vpn.add_users(group_id, ids).status_code == 201
    assert emu.vpn_state()["queue"]["pending"] == 3


def test_n_changes_need_ceil_n_over_capacity_delays(fresh_emulator) -> None:
    emu = fresh_emulator(apply_delay=0.3, queue_capacity=2)
    vpn = _vpn(emu)
    start = time.monotonic()
    busy = 0
    for i in range(6):
        while True:
            try:
                vpn.create_group(f"timed-{i}")
                break
            except Exception as exc:  # noqa: BLE001
                assert getattr(exc, "error_code", None) == "VPN.0030"
                busy += 1
                time.sleep(0.02)
    wait_for(lambda: vpn.list_groups().total_count == 7, timeout=5, interval=0.02)
    elapsed = time.monotonic() - start
    assert elapsed >= 3 * 0.3 - 0.05  # ceil(6 / 2) x apply_delay
    assert busy > 0 and emu.stats()["busy"] == busy


def test_client_token_answers_even_when_the_queue_is_full(fresh_emulator) -> None:
    emu = fresh_emulator(apply_delay=2, queue_capacity=1)
    vpn = _vpn(emu)
    token = str(uuid.uuid4())
    first = vpn.create_user("tok-user", token=token)
    assert sdk_error(lambda: vpn.create_user("tok-other")).error_code == "VPN.0030"
    again = vpn.create_user("tok-user", token=token)
    assert again.user.id == first.user.id
    assert emu.vpn_state()["accepted"]["users"] == 1


def test_runtime_config_changes(fresh_emulator) -> None:
    emu = fresh_emulator(apply_delay=30, queue_capacity=1)
    vpn = _vpn(emu)
    emu.set_config(apply_delay=0, queue_capacity=50)
    user_id = vpn.create_user("now-user").user.id
    assert vpn.show_user(user_id).name == "now-user"  # delay 0: at once
    emu.set_config(apply_delay=0.2)
    user2 = vpn.create_user("later-user").user.id
    assert sdk_error(lambda: vpn.show_user(user2)).status_code == 404
    wait_for(lambda: vpn.show_user(user2))
    import httpx

    bad = httpx.put(emu.url + "/_emulator/config", json={"region": "x"}, timeout=5)
    assert bad.status_code == 400 and "cannot change" in bad.json()["error"]
    bad = httpx.put(emu.url + "/_emulator/config", json={"queue_capacity": 0}, timeout=5)
    assert bad.status_code == 400


def test_reset_drops_everything_but_the_default_group(fresh_emulator) -> None:
    emu = fresh_emulator(apply_delay=0)
    vpn = _vpn(emu)
    group_id = vpn.create_group("will-go").user_group.id
    vpn.create_user("will-go-user", group_id=group_id)
    emu.reset()
    groups = vpn.list_groups().user_groups
    assert [g.type for g in groups] == ["Default"]
    assert vpn.list_users().total_count == 0
    assert vpn.create_group("will-go").status_code == 201  # the name is free again
