"""High availability: operators on one kopf peering (hwcloud_access/peering.py), against a
real API server and the emulator. Each replica calls the cloud with an access key of its own,
so the emulator's stats say which replica acted, and when.

Only one replica calls the cloud while both run, also when both start at the same moment;
after SIGKILL of the active one the standby acts within the peering's lifetime and resumes
every wait (a create mid-apply, creates waiting for their turn, a refused delete) without a
second create; SIGTERM hands over at once and never lets two act; a replica started while
another acts stands by; a replica paused after it has acted (a `kopf freeze`) makes no cloud
call, its drift sweep included. Its own test bed: the e2e session's operator (standalone, -A) must
not see these objects."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.e2e.test_operator import SERVER, cloud_users, mq_user, user
from tests.support.emulator import EmulatorProcess
from tests.support.operator import (
    OperatorProcess,
    operator_env,
    wait_for,
    wait_ready,
    wait_reason,
)
from tests.support.testbed import Testbed, private_testbed

from hwcloud_access.peering import LIFETIME

pytestmark = pytest.mark.e2e

PEERING = "hwcloud-access-ha"
PEERING_CRDS = Path(__file__).resolve().parents[2] / "deploy" / "helm" / \
    "hwcloud-access-operator" / "crds" / "kopf.dev_peerings.yaml"
APPLY_DELAY = 2.0  # the cloud's apply time
FAILOVER_BOUND = 15.0  # after SIGKILL, on top of the apply time
HANDOVER_BOUND = 7.0  # SIGTERM to the standby's first call: kopf stops in 2 s, no entry expires
STARTUP_TIMEOUT = 120.0  # several operators starting at once on a busy machine
RESUMED = "Resuming operations after the pause"  # kopf's line when a replica starts acting
PAUSED = "Pausing operations in favour of"  # kopf's line when a replica stops acting
RESYNC = 5.0  # the drift sweep's period where a test needs to see it
KEYS = {f"replica-{letter}": {"access_key": f"HWHATESTAK0000000{number}",
                              "secret_key": f"haTestSecretKey{number}" + "0" * 30}
        for number, letter in enumerate("abc", 1)}


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    with private_testbed(tmp_path_factory.mktemp("ha-testbed")) as testbed:
        testbed.kubectl("apply", "-f", str(PEERING_CRDS))
        testbed.kubectl("wait", "--for=condition=Established", "-f", str(PEERING_CRDS))
        testbed.apply({"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering",
                       "metadata": {"name": PEERING}})
        yield testbed


@pytest.fixture
def cloud() -> Iterator[EmulatorProcess]:
    with EmulatorProcess({"apply_delay": APPLY_DELAY, "rocketmq_apply_delay": APPLY_DELAY,
                          "queue_capacity": 100,
                          "credentials": list(KEYS.values())}) as emulator:
        yield emulator


class Replicas:
    """Operators on the peering PEERING, one access key each (KEYS); creates one at a time
    (HWCLOUD_CREATE_TURNS=1), so that a few creates make a line of them."""

    def __init__(self, testbed: Testbed, emulator: EmulatorProcess, logs: Path) -> None:
        self.env = {**operator_env(testbed, emulator), "HWCLOUD_CREATE_TURNS": "1"}
        self.logs = logs
        self.started: dict[str, OperatorProcess] = {}

    def __call__(self, *names: str, options: tuple[str, ...] = ()) -> list[OperatorProcess]:
        """Starts these replicas at the same moment (with these extra `hwcloud-access run`
        options)."""
        made = [OperatorProcess({**self.env, "POD_ID": name,
                                 "HW_ACCESS_KEY": KEYS[name]["access_key"],
                                 "HW_SECRET_KEY": KEYS[name]["secret_key"]},
                                self.logs / f"{name}.log", "-A", "--peering", PEERING,
                                *options, startup_timeout=STARTUP_TIMEOUT)
                for name in names]
        self.started.update(zip(names, made, strict=True))
        with ThreadPoolExecutor(len(made)) as pool:
            list(pool.map(OperatorProcess.start, made))
        return made

    def stop(self) -> None:
        for name, operator in self.started.items():
            operator.stop()
            if os.environ.get("HWCLOUD_SHOW_OPERATOR_LOG"):
                print(f"---- {name}\n{operator.log()}")


@pytest.fixture
def replicas(bed: Testbed, cloud: EmulatorProcess, tmp_path: Path) -> Iterator[Replicas]:
    started = Replicas(bed, cloud, tmp_path)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def ns(bed: Testbed, cloud: EmulatorProcess, replicas: Replicas) -> Iterator[str]:
    """A fresh namespace, deleted while the replicas still run (they delete its objects from
    the cloud and release them): the next test's replicas find nothing old to resume."""
    name = f"ha-{uuid.uuid4().hex[:8]}"
    bed.kubectl("create", "namespace", name)
    yield name
    cloud.clear_faults()
    bed.kubectl("delete", "namespace", name, "--timeout=60s", check=False)


def callers(emulator: EmulatorProcess) -> dict[str, dict]:
    """The replicas that called the cloud: name -> {calls, first, last} (epoch seconds)."""
    clients = emulator.stats()["clients"]
    return {name: clients[key["access_key"]] for name, key in KEYS.items()
            if key["access_key"] in clients}


def in_the_cloud(emulator: EmulatorProcess, names: list[str]) -> dict[str, str]:
    """Where each VPN user of these names is: "visible", "applying" (the create accepted,
    not applied yet) or "not sent"."""
    server = emulator.vpn_state()
    visible = {user["name"] for user in server["users"]}
    applying = {change["name"] for change in server["pending"] if change["op"] == "put_user"}
    return {name: "visible" if name in visible else "applying" if name in applying
            else "not sent" for name in names}


def refused_creates(emulator: EmulatorProcess) -> dict[str, dict[str, int]]:
    """The creates the cloud refused (4xx), by operation and answer: a second create of a
    user (sent again without its client token) is refused, its name being taken. (The killed
    replica's create cut off on its way in may count as a 500.)"""
    calls = emulator.stats()["calls"]
    refused = {operation: {status: count for status, count in calls.get(operation, {}).items()
                           if status.startswith("4")}
               for operation in ("create_user", "create_mq_user")}
    return {operation: answers for operation, answers in refused.items() if answers}


def start_pair(bed: Testbed, cloud: EmulatorProcess, replicas: Replicas, ns: str,
               name: str) -> tuple[str, str]:
    """replica-a and replica-b started together, and a VpnUser `name` made Ready by the one
    that acts: (the active replica, the standby)."""
    replicas("replica-a", "replica-b")
    bed.apply(user(name, f"{name}-{ns}"), ns)
    wait_ready(bed, "VpnUser", name, ns)
    [active] = callers(cloud)
    return active, ({"replica-a", "replica-b"} - {active}).pop()


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n[high availability] {line}")


def test_replicas_started_together_never_both_act(bed, cloud, replicas, ns) -> None:
    for number in range(3):  # waiting for an operator when both start
        bed.apply(user(f"early-{number}", f"early-{number}-{ns}"), ns)
    first, second = replicas("replica-a", "replica-b")
    for number in range(3):
        wait_ready(bed, "VpnUser", f"early-{number}", ns)

    acting = callers(cloud)
    assert len(acting) == 1, f"both replicas called the cloud: {acting}"
    resumed = {"replica-a": RESUMED in first.log(), "replica-b": RESUMED in second.log()}
    assert resumed == {name: name in acting for name in resumed}


def test_after_sigkill_the_standby_acts_within_the_lifetime_and_resumes_every_wait(
        bed, cloud, replicas, ns, capsys) -> None:
    active, standby = start_pair(bed, cloud, replicas, ns, "doomed")

    # A delete the cloud refuses: it waits, tried again with growing delays.
    cloud.set_faults(deny_operations=["delete_user"])
    bed.kubectl("delete", "vpnuser", "doomed", "-n", ns, "--wait=false")
    wait_reason(bed, "VpnUser", "doomed", ns, "DeleteBlocked")
    # Each call takes a second and one create goes at a time: the first of the line is
    # applying (accepted, not visible yet) while the others wait for their turn.
    cloud.set_faults(latency=1.0)
    line = [f"line-{number}" for number in range(4)]
    for name in line:
        bed.apply(user(name, f"{name}-{ns}"), ns)
    cloud_names = [f"{name}-{ns}" for name in line]
    wait_for(lambda: {"applying", "not sent"} <= set(in_the_cloud(cloud, cloud_names).values()),
             60, what="one create applying while others wait for their turn")
    assert set(callers(cloud)) == {active}, "the standby called the cloud while both ran"

    killed = time.time()
    replicas.started[active].kill()
    cloud.set_faults(latency=0.0, deny_operations=[])
    # On a RocketMQ instance: its creates do not wait behind the VPN server's line.
    bed.apply(mq_user("after", f"after-{ns}"), ns)
    wait_ready(bed, "MqUser", "after", ns, timeout=60)
    ready_after = time.time() - killed
    took_over = callers(cloud)[standby]["first"] - killed
    report(capsys, f"SIGKILL of the active replica: the standby's first cloud call after "
           f"{took_over:.1f} s (peering lifetime {LIFETIME} s); an object created after the "
           f"kill Ready after {ready_after:.1f} s (apply time {APPLY_DELAY} s)")
    assert took_over <= FAILOVER_BOUND, "the standby took over late"
    assert ready_after <= FAILOVER_BOUND + APPLY_DELAY

    for name in line:
        wait_ready(bed, "VpnUser", name, ns, timeout=60)
    assert set(in_the_cloud(cloud, cloud_names).values()) == {"visible"}
    wait_for(lambda: bed.get("VpnUser", "doomed", ns) is None, 60, what="the delete resumed")
    assert cloud_users(cloud, f"doomed-{ns}") == []
    assert refused_creates(cloud) == {}, "a create was sent a second time"
    # What the VPN server took: doomed's create and delete, and each user of the line once.
    assert cloud.stats()["queues"]["vpn_servers"][SERVER]["changes"] == len(line) + 2


def test_sigterm_hands_over_at_once_and_a_replica_started_later_stands_by(
        bed, cloud, replicas, ns, capsys) -> None:
    active, standby = start_pair(bed, cloud, replicas, ns, "first")

    [late] = replicas("replica-c")  # while the active one acts
    wait_for(lambda: "Initial authentication has finished" in late.log(), STARTUP_TIMEOUT,
             what="replica-c past its registration")
    bed.apply(user("second", f"second-{ns}"), ns)
    wait_ready(bed, "VpnUser", "second", ns)
    assert set(callers(cloud)) == {active}

    leaving = replicas.started[active].process
    terminated = time.time()
    leaving.send_signal(signal.SIGTERM)
    bed.apply(user("third", f"third-{ns}"), ns)
    wait_ready(bed, "VpnUser", "third", ns, timeout=60)
    ready_third = time.time() - terminated
    assert leaving.wait(15) == 0

    acting = callers(cloud)
    assert set(acting) == {active, standby}, "the replica started later took over"
    assert acting[active]["last"] <= acting[standby]["first"], "two replicas acted at once"
    handover = acting[standby]["first"] - terminated
    report(capsys, f"SIGTERM of the active replica: the standby's first cloud call after "
           f"{handover:.1f} s; an object created at the SIGTERM Ready after "
           f"{ready_third:.1f} s (apply time {APPLY_DELAY} s)")
    assert handover <= HANDOVER_BOUND, "the standby waited for the entry to expire"
    assert RESUMED not in late.log()



def sweeps(emulator: EmulatorProcess) -> int:
    """The listings of the VPN server's users (the drift sweep's call)."""
    return emulator.stats()["targets"].get(SERVER, {}).get("list_users", 0)


def set_peer(testbed: Testbed, identity: str, entry: dict | None) -> None:
    """Writes (None: removes) an entry of the peering object, as `kopf freeze` and `kopf
    resume` do."""
    testbed.kubectl("patch", "clusterkopfpeering", PEERING, "--type=merge", "-p",
                    json.dumps({"status": {identity: entry}}))


def test_a_replica_paused_after_acting_makes_no_cloud_call(bed, cloud, replicas, ns) -> None:
    """kopf pauses its watches and handlers; the drift sweep (every RESYNC s here) pauses
    too. The pause is a `kopf freeze`: an entry above every replica's priority."""
    [operator] = replicas("replica-a", options=("--resync-interval", str(RESYNC)))
    bed.apply(user("tracked", f"tracked-{ns}"), ns)
    wait_ready(bed, "VpnUser", "tracked", ns)
    listed = sweeps(cloud)
    wait_for(lambda: sweeps(cloud) > listed, 3 * RESYNC, what="the drift sweep")

    set_peer(bed, "frozen-by-test", {"priority": 2**62, "lifetime": 60,
                                     "lastseen": datetime.now(UTC).isoformat()})
    try:
        wait_for(lambda: PAUSED in operator.log(), 30, what="replica-a paused")
        time.sleep(1.0)  # a call under way when the pause came has ended
        paused_calls = callers(cloud)["replica-a"]["calls"]
        time.sleep(3 * RESYNC)
        assert callers(cloud)["replica-a"]["calls"] == paused_calls, \
            "the paused replica called the cloud"
    finally:
        set_peer(bed, "frozen-by-test", None)
    bed.apply(user("thawed", f"thawed-{ns}"), ns)
    wait_ready(bed, "VpnUser", "thawed", ns)
