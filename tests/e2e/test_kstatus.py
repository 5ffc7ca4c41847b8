"""Flux's and kpt's view of our resources: kstatus (sigs.k8s.io/cli-utils, run by
tools/go/kstatus) over the live objects, in each state the operator reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import yaml
from tests.e2e.test_operator import API, SERVER, group, mq_user, secret, user
from tests.support.emulator import EmulatorProcess
from tests.support.kstatus import kstatus, live_kstatus
from tests.support.operator import condition, wait_for, wait_ready, wait_reason

UNKNOWN_INSTANCE = "00000000-0000-4000-8000-00000000dead"


@contextmanager
def slow_apply(emulator: EmulatorProcess, seconds: float) -> Iterator[None]:
    """The emulator applies accepted changes after `seconds`, so that Applying lasts."""
    before = emulator.set_config()["apply_delay"]
    emulator.set_config(apply_delay=seconds)
    try:
        yield
    finally:
        emulator.set_config(apply_delay=before)


def verdict(obj: dict[str, Any]) -> dict[str, str]:
    [one] = kstatus([obj])
    return one


def test_a_new_object_reads_in_progress_before_the_first_pass(crds, namespace) -> None:
    """What the API server answers for a VpnUser as it is created, before the operator can
    have seen it (a server-side dry run, which the operator never sees): the CRD's default
    status, Reconciling=True."""
    created = crds.kubectl("create", "--dry-run=server", "-n", namespace, "-o", "json",
                           "-f", "-", input=yaml.safe_dump(user("new", f"new-{namespace}")))
    [seen] = kstatus(json.loads(created.stdout))
    assert (seen["status"], seen["message"]) == (
        "InProgress", "the operator has not handled this object yet")


def test_ready_objects_read_current(stack) -> None:
    testbed, _, _, ns = stack
    testbed.apply(group("devs", f"devs-{ns}"), ns)
    testbed.apply(user("alice", f"alice-{ns}", groupRef={"name": "devs"}), ns)
    testbed.apply(mq_user("orders", f"ks_{ns.replace('-', '_')}"), ns)
    for kind, name in (("VpnUserGroup", "devs"), ("VpnUser", "alice"), ("MqUser", "orders")):
        wait_ready(testbed, kind, name, ns)
    seen = live_kstatus(testbed, "vpnusergroups,vpnusers,mqusers", ns)
    assert {key: v["status"] for key, v in seen.items()} == {
        "VpnUserGroup/devs": "Current", "VpnUser/alice": "Current", "MqUser/orders": "Current"}


def test_applying_reads_in_progress_then_current(stack) -> None:
    testbed, emulator, _, ns = stack

    def in_the_cloud_queue() -> bool:
        return any(p.get("name") == f"slow-{ns}" for p in emulator.vpn_state()["pending"])

    with slow_apply(emulator, 3.0):
        testbed.apply(user("slow", f"slow-{ns}"), ns)
        wait_for(in_the_cloud_queue, 20, interval=0.05, what="create accepted, not applied")
        applying = testbed.get("VpnUser", "slow", ns)
        assert in_the_cloud_queue(), "read while the cloud was applying the create"
        assert verdict(applying) == {
            "kind": "VpnUser", "namespace": ns, "name": "slow", "status": "InProgress",
            "message": condition(applying, "Reconciling")["message"]}
        wait_ready(testbed, "VpnUser", "slow", ns)
    assert live_kstatus(testbed, "vpnuser/slow", ns)["VpnUser/slow"]["status"] == "Current"


def test_waiting_for_a_dependency_reads_in_progress(stack) -> None:
    testbed, _, _, ns = stack
    testbed.apply(user("early", f"early-{ns}", groupRef={"name": "later"}), ns)
    waiting = wait_reason(testbed, "VpnUser", "early", ns, "DependencyNotReady")
    assert verdict(waiting)["status"] == "InProgress"
    assert "later" in verdict(waiting)["message"]
    testbed.apply(group("later", f"later-{ns}"), ns)
    wait_ready(testbed, "VpnUser", "early", ns)
    assert live_kstatus(testbed, "vpnuser/early", ns)["VpnUser/early"]["status"] == "Current"


# Per kind, what makes a resource the CRD schema admits and the operator or the cloud refuses
# (InvalidSpec): the manifests to apply, the resource last.
INVALID = {
    # the operator: a Kubernetes name with a dot is no VPN group name, and spec.name is unset
    "VpnUserGroup": lambda ns: [{"apiVersion": API, "kind": "VpnUserGroup",
                                 "metadata": {"name": "ops.team"},
                                 "spec": {"vpnServerId": SERVER}}],
    # the operator: the password in the named Secret breaks the VPN's password rules
    "VpnUser": lambda ns: [secret("weak-pw", password="short"),
                           user("weak", f"weak-{ns}",
                                passwordSecretRef={"name": "weak-pw", "key": "password"})],
    # the cloud: no such RocketMQ instance
    "MqUser": lambda ns: [mq_user("lost", f"lost_{ns.replace('-', '_')}",
                                  instanceId=UNKNOWN_INSTANCE)],
}


@pytest.mark.parametrize("kind", sorted(INVALID))
def test_invalid_spec_reads_failed(stack, kind: str) -> None:
    testbed, _, _, ns = stack
    manifests = INVALID[kind](ns)
    for manifest in manifests:
        testbed.apply(manifest, ns)
    name = manifests[-1]["metadata"]["name"]
    refused = wait_reason(testbed, kind, name, ns, "InvalidSpec")
    assert verdict(refused) == {"kind": kind, "namespace": ns, "name": name, "status": "Failed",
                                "message": condition(refused)["message"]}


def test_stalled_goes_with_its_cause(stack) -> None:
    """Failed while a foreign Secret holds the name of the one to generate (InvalidSpec),
    Current once it is deleted: the Stalled condition is not left behind."""
    testbed, _, _, ns = stack
    testbed.apply(secret("fixme-vpn-credentials", password="Not-Ours-123"), ns)
    testbed.apply(user("fixme", f"fixme-{ns}"), ns)
    assert verdict(wait_reason(testbed, "VpnUser", "fixme", ns, "InvalidSpec"))["status"] == \
        "Failed"
    testbed.kubectl("delete", "secret", "fixme-vpn-credentials", "-n", ns)
    fixed = wait_ready(testbed, "VpnUser", "fixme", ns)
    assert condition(fixed, "Stalled") == {}
    assert verdict(fixed)["status"] == "Current"


def test_an_object_being_deleted_reads_terminating(stack) -> None:
    """A group waits for its users before it goes (DependencyNotReady): meanwhile it has a
    deletionTimestamp, which kstatus reads before any condition."""
    testbed, _, _, ns = stack
    testbed.apply(group("team", f"team-{ns}"), ns)
    testbed.apply(user("member", f"member-{ns}", groupRef={"name": "team"}), ns)
    wait_ready(testbed, "VpnUser", "member", ns)
    testbed.kubectl("delete", "vpnusergroup", "team", "-n", ns, "--wait=false")
    waiting = wait_reason(testbed, "VpnUserGroup", "team", ns, "DependencyNotReady")
    assert waiting["metadata"]["deletionTimestamp"]
    assert condition(waiting, "Reconciling")["status"] == "True"
    assert verdict(waiting) == {"kind": "VpnUserGroup", "namespace": ns, "name": "team",
                                "status": "Terminating",
                                "message": "Resource scheduled for deletion"}
