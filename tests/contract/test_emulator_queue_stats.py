"""Several VPN servers and RocketMQ instances in one emulator: each has its own apply queue,
and GET /_emulator/stats reports each one's calls by operation and its queue's writes,
refusals, changes and applies (what the benchmark's many-server scenario reads its queue
utilisation and drift sweeps from)."""

from __future__ import annotations

from huaweicloudsdkrocketmq.v2 import CreateUserRequest, User
from tests.contract.helpers import mq_client, sdk_error, vpn_client, wait_for
from tests.contract.vpn_calls import PASSWORD, Vpn

SERVERS = ["5a000000-0000-4000-8000-000000000001", "5a000000-0000-4000-8000-000000000002"]
INSTANCES = ["1b000000-0000-4000-8000-000000000001", "1b000000-0000-4000-8000-000000000002"]
CONFIG = {
    "vpn_servers": [{"id": sid, "client_cidr": f"172.{16 + i}.0.0/16"}
                    for i, sid in enumerate(SERVERS)],
    "rocketmq_instances": [{"id": iid} for iid in INSTANCES],
}


def _queues(emu) -> dict:
    return emu.stats()["queues"]


def _all_applied(emu, changes: int) -> dict | None:
    servers = _queues(emu)["vpn_servers"]
    return servers if all(q["applied"] == changes for q in servers.values()) else None


def test_each_server_has_its_own_queue_and_counters(fresh_emulator) -> None:
    emu = fresh_emulator(CONFIG, apply_delay=0.3, queue_capacity=2)
    first, second = (Vpn(vpn_client(emu), sid) for sid in SERVERS)
    first.create_user("q1-a")
    first.create_user("q1-b")
    assert sdk_error(lambda: first.create_user("q1-c")).error_code == "VPN.0030"
    # the first server's full queue does not touch the second's: a batch of two fits
    rows = [{"name": f"q2-{i}", "password": PASSWORD} for i in range(2)]
    assert second.batch_create(rows).invalid_users == []

    pending = _queues(emu)["vpn_servers"]
    assert {sid: (q["writes"], q["refused"], q["changes"], q["applied"])
            for sid, q in pending.items()} == {SERVERS[0]: (2, 1, 2, 0),
                                               SERVERS[1]: (1, 0, 2, 0)}
    assert all(q["last_applied"] is None and q["active_s"] is None for q in pending.values())

    settled = wait_for(lambda: _all_applied(emu, 2))
    for queue in settled.values():
        # applied at their due time: no earlier than apply_delay after the first acceptance
        assert queue["active_s"] >= 0.3 - 1e-6
        span = queue["last_applied"] - queue["first_accepted"]  # the same span in epoch time
        assert abs(span - queue["active_s"]) < 0.01
    assert len(first.list_users().users) == len(second.list_users().users) == 2
    assert emu.stats()["targets"] == {SERVERS[0]: {"create_user": 3, "list_users": 1},
                                      SERVERS[1]: {"batch_create_users": 1, "list_users": 1}}


def test_instances_count_their_own_changes_and_reset_with_the_stats(fresh_emulator) -> None:
    emu = fresh_emulator(CONFIG)
    client = mq_client(emu)
    for n, instance in enumerate(INSTANCES, start=1):
        for i in range(n):
            body = User(access_key=f"app_queue{n}{i}", secret_key="Secret-Key-1")
            client.create_user(CreateUserRequest(instance_id=instance, body=body))
    stats = emu.stats()
    instances = stats["queues"]["rocketmq_instances"]
    assert {iid: (q["writes"], q["changes"], q["applied"]) for iid, q in instances.items()} == {
        INSTANCES[0]: (1, 1, 1), INSTANCES[1]: (2, 2, 2)}
    assert stats["targets"] == {INSTANCES[0]: {"create_mq_user": 1},
                                INSTANCES[1]: {"create_mq_user": 2}}

    assert emu.reset_stats()["targets"] == {}
    queues = _queues(emu)
    assert set(queues["vpn_servers"]) == set(SERVERS)
    for section in queues.values():
        for queue in section.values():
            assert (queue["writes"], queue["changes"], queue["applied"]) == (0, 0, 0)
            assert queue["first_accepted"] is None and queue["active_s"] is None
