"""The state file survives a restart: objects, pending changes, password history; it never
holds a password or secret key in clear."""

from __future__ import annotations

import json

from huaweicloudsdkrocketmq.v2 import CreateUserRequest, ShowUserRequest, User
from tests.contract.helpers import mq_client, sdk_error, vpn_client, wait_for
from tests.contract.vpn_calls import Vpn


def test_state_survives_restart(fresh_emulator, tmp_path) -> None:
    state_file = tmp_path / "state.json"
    emu = fresh_emulator(apply_delay=0.05, state_file=state_file)
    vpn = Vpn(vpn_client(emu), emu.config.vpn_server_id)
    group_id = vpn.create_group("kept-group", "kept").user_group.id
    user_id = vpn.create_user("kept-user", "First-Pass-1", group_id=group_id).user.id
    vpn.reset_password(user_id, "Second-Pass-2")
    mq = mq_client(emu)
    body = User(access_key="kept_mq_user", secret_key="Mq-Secret-1", default_topic_perm="PUB")
    mq.create_user(CreateUserRequest(instance_id=emu.config.instance_id, body=body))
    wait_for(lambda: vpn.show_user(user_id).user_group_id == group_id)
    wait_for(lambda: emu.check_password(user_id, "Second-Pass-2"))
    emu.set_config(apply_delay=30)
    vpn.update_user(user_id, description="pending at shutdown")

    emu.restart()  # SIGTERM: saves the state; then starts on a new port
    vpn = Vpn(vpn_client(emu), emu.config.vpn_server_id)
    user = vpn.show_user(user_id)
    assert (user.name, user.user_group_name, user.description) == ("kept-user", "kept-group", "")
    assert vpn.show_group(group_id).user_number == 1
    state = emu.vpn_state()
    assert [p["op"] for p in state["pending"]] == ["put_user"]  # still waiting
    assert state["pending"][0]["due_in"] > 20
    assert emu.check_password(user_id, "Second-Pass-2")
    # the password history came back too
    err = sdk_error(lambda: vpn.reset_password(user_id, "First-Pass-1"))
    assert err.error_code == "VPN.0001"
    # names stay reserved and new objects sort after the old ones
    assert sdk_error(lambda: vpn.create_user("kept-user")).error_code == "VPN.0001"
    shown = mq_client(emu).show_user(
        ShowUserRequest(instance_id=emu.config.instance_id, user_name="kept_mq_user")
    )
    assert shown.default_topic_perm == "PUB"
    assert emu.check_mq_secret("kept_mq_user", "Mq-Secret-1")

    text = state_file.read_text()
    for secret in ("First-Pass-1", "Second-Pass-2", "Mq-Secret-1", emu.config.secret_key):
        assert secret not in text
    data = json.loads(text)
    assert data["version"] == 1
    stored = data["vpn_servers"][emu.config.vpn_server_id]["users"][0]
    assert len(stored["pw_history"]) == 2 and all("$" in h for h in stored["pw_history"])
    assert "pw_fingerprint" not in stored


def test_state_file_is_written_while_running(fresh_emulator, tmp_path) -> None:
    state_file = tmp_path / "live.json"
    emu = fresh_emulator(apply_delay=0, state_file=state_file)
    vpn = Vpn(vpn_client(emu), emu.config.vpn_server_id)
    vpn.create_group("live-group")
    wait_for(lambda: state_file.exists() and "live-group" in state_file.read_text(), timeout=5)
    assert not list(tmp_path.glob(".live.json.*.tmp"))  # written atomically, no leftovers
