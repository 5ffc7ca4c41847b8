"""Config: documented defaults, partial files, validation messages, the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hwcloud_emulator import main as emulator_main
from hwcloud_emulator.config import (
    DEFAULTS,
    ConfigError,
    build_config,
    dump_yaml,
    load_config,
)


def test_documented_defaults() -> None:
    config = load_config(None)
    assert config.region == "cn-north-4"
    assert config.project_id == "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
    assert config.credentials[0].access_key == "HWEMULATORAK00000001"
    assert config.credentials[0].secret_key == "emulatorSecretKey0000000000000000000000001"
    assert config.iam_users[0].model_dump() == {
        "domain": "emulator-domain",
        "name": "operator",
        "password": "Emulator-Pass-123",
    }
    server = config.vpn_servers[0]
    assert (server.id, server.client_cidr, server.status, server.client_auth_type) == (
        "6f1c1e2a-8d0b-4c59-9b0e-3c2a7f5d9a01",
        "172.16.0.0/16",
        "ACTIVE",
        "LOCAL_PASSWORD",
    )
    assert config.rocketmq_instances[0].id == "11a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8"
    assert config.rocketmq_instances[0].acl_enabled is True
    assert (config.apply_delay, config.queue_capacity, config.rocketmq_apply_delay) == (
        2.0,
        10,
        0.0,
    )
    assert (config.token_ttl, config.clock_skew_limit, config.state_file) == (86400, 900, None)
    faults = config.faults
    assert faults.error_statuses == [500, 503]
    assert faults.drop_operations == [
        "create_user",
        "create_group",
        "batch_create_users",
        "create_mq_user",
    ]
    assert (faults.error_rate, faults.latency, faults.busy_rate, faults.drop_rate) == (0, 0, 0, 0)
    assert (faults.fail_next, faults.drop_next, faults.deny_operations) == (0, 0, [])


def test_partial_file_merges_over_defaults(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("apply_delay: 0.5\nfaults:\n  latency: 0.1\n")
    config = load_config(path)
    assert config.apply_delay == 0.5
    assert config.faults.latency == 0.1
    assert config.faults.error_statuses == [500, 503]  # mapping merged key by key
    assert config.queue_capacity == 10


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ({"aply_delay": 1}, "aply_delay: unknown key"),
        ({"apply_delay": -1}, "apply_delay"),
        ({"queue_capacity": 0}, "queue_capacity"),
        ({"faults": {"error_statuses": [418]}}, "not injectable"),
        ({"faults": {"drop_operations": ["create_usr"]}}, "unknown operation"),
        ({"faults": {"deny_operations": ["issue_token"]}}, "undeniable operation(s) ['issue_"),
        ({"vpn_servers": [{"id": "x", "client_cidr": "10.0.0.1/8"}]}, "client_cidr"),
        ({"project_id": "nope"}, "project_id"),
    ],
)
def test_bad_values_give_clear_messages(override, fragment) -> None:
    with pytest.raises(ConfigError) as info:
        build_config(override)
    assert fragment in str(info.value)
    assert str(info.value).startswith("invalid emulator config")


def test_print_config_masks_secrets(capsys) -> None:
    assert emulator_main.main(["--print-config"]) == 0
    out = capsys.readouterr().out
    data = yaml.safe_load(out)
    assert data["region"] == "cn-north-4"
    assert data["credentials"][0]["secret_key"] == "******"
    assert "emulatorSecretKey" not in out and "Emulator-Pass-123" not in out
    assert (
        yaml.safe_load(dump_yaml(load_config(None), show_secrets=True))["credentials"]
        == (DEFAULTS["credentials"])
    )


def test_state_file_option_overrides(tmp_path, capsys) -> None:
    state = str(tmp_path / "s.json")
    assert emulator_main.main(["--print-config", "--state-file", state]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["state_file"] == state


def test_bad_config_file_exits_2(tmp_path, capsys) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("faults: {busy_rate: 2}\n")
    assert emulator_main.main(["--config", str(path)]) == 2
    assert "faults.busy_rate" in capsys.readouterr().err
    path.write_text("- a list\n")
    assert emulator_main.main(["--config", str(path)]) == 2


def test_module_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hwcloud_emulator", "--print-config"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "project_id: 0a1b2c3d4e5f40718293a4b5c6d7e8f9" in result.stdout


ROOT = Path(__file__).resolve().parents[2]


def test_example_file_is_the_documented_defaults() -> None:
    config = load_config(ROOT / "examples" / "emulator.yaml")
    assert config == load_config(None)
    shown = yaml.safe_load((ROOT / "examples" / "emulator.yaml").read_text())
    assert set(shown) == set(DEFAULTS)
    assert set(shown["faults"]) == set(DEFAULTS["faults"])


def test_every_config_key_is_documented() -> None:
    doc = (ROOT / "docs" / "emulator.md").read_text()
    for key, value in DEFAULTS.items():
        assert f"`{key}`" in doc, key
        if isinstance(value, dict):
            for sub in value:
                assert f"`{key}.{sub}`" in doc, f"{key}.{sub}"


def test_unreadable_state_file_exits_2(tmp_path, capsys) -> None:
    state = tmp_path / "broken.json"
    state.write_text("{not json")
    assert emulator_main.main(["--port", "0", "--state-file", str(state)]) == 2
    assert "cannot load the state file" in capsys.readouterr().err
