"""A live credential is never forgotten: refused deletes, deletes during a create whose answer
was lost, resets whose answer was lost, a new fingerprint key, bad annotations. Real API
server, real emulator, the real operator."""

from __future__ import annotations

import json

import pytest
from tests.e2e.test_operator import (
    SERVER,
    cloud_mq,
    cloud_users,
    mq_user,
    out_of_band,
    secret,
    user,
)
from tests.support.operator import condition, wait_for, wait_ready, wait_reason

from hwcloud_access.reconcile.conditions import now_rfc3339
from hwcloud_access.reconcile.engine import client_token

pytestmark = pytest.mark.e2e


def gone(testbed, kind: str, name: str, namespace: str) -> bool:
    return testbed.get(kind, name, namespace) is None


def calls(emulator, operation: str) -> int:
    return sum((emulator.stats()["calls"].get(operation) or {}).values())


@pytest.mark.parametrize("kind,operation", [("VpnUser", "delete_user"),
                                            ("MqUser", "delete_mq_user")])
def test_a_denied_delete_keeps_the_resource_until_the_cloud_says_gone(stack, kind,
                                                                      operation) -> None:
    testbed, emulator, _, ns = stack
    cloud_name = f"keep-{ns}"[:32]
    manifest = (user("keep", cloud_name) if kind == "VpnUser"
                else mq_user("keep", cloud_name))
    lookup = cloud_users if kind == "VpnUser" else cloud_mq
    testbed.apply(manifest, ns)
    wait_ready(testbed, kind, "keep", ns)
    emulator.set_faults(deny_operations=[operation])
    testbed.kubectl("delete", kind, "keep", "-n", ns, "--wait=false")

    blocked = wait_reason(testbed, kind, "keep", ns, "DeleteBlocked")
    message = condition(blocked)["message"]
    assert "403" in message and ("VPN.0003" in message or "DMS.00403003" in message)
    assert lookup(emulator, cloud_name), "the cloud object must still be there"
    # retried, not given up: the resource stays while the denial lasts
    wait_for(lambda: calls(emulator, operation) >= 2, 30, what="a second delete attempt")
    assert testbed.get(kind, "keep", ns) is not None

    emulator.set_faults(deny_operations=[])
    wait_for(lambda: gone(testbed, kind, "keep", ns), 120, what=f"{kind} released")
    assert lookup(emulator, cloud_name) == []


def test_deleted_after_a_crash_between_the_create_and_its_answer(stack) -> None:
    """The operator wrote the create's intent, sent the create and died before it learned
    the id; the resource is deleted while the cloud is still applying the create."""
    testbed, emulator, operator, ns = stack
    cloud_name = f"lost-{ns}"[:32]
    operator.stop()
    try:
        emulator.set_config(apply_delay=45.0)  # still applying when the delete is resolved,
        # even by an operator busy with what earlier tests left behind
        manifest = user("lost", cloud_name)
        manifest["metadata"]["finalizers"] = ["access.hwcloud.dev/finalizer"]
        testbed.apply(manifest, ns)
        uid = testbed.get("VpnUser", "lost", ns)["metadata"]["uid"]
        token = client_token(uid)
        intent = {"action": "create", "since": now_rfc3339(), "clientToken": token}
        testbed.kubectl("patch", "vpnuser", "lost", "-n", ns, "--subresource=status",
                        "--type=merge", "-p", json.dumps({"status": {"pendingChange": intent}}))
        made = out_of_band(emulator, lambda session: session.vpn.create_user(
            SERVER, name=cloud_name, password="Crash-Password-9", client_token=token))
        testbed.kubectl("delete", "vpnuser", "lost", "-n", ns, "--wait=false")
    finally:
        operator.start()

    deleting = wait_for(lambda: (obj := testbed.get("VpnUser", "lost", ns))
                        and obj["status"].get("id") and obj, 30, what="the create resolved")
    assert deleting["status"]["id"] == made, "the create sent again named what the first made"
    assert cloud_users(emulator, cloud_name) == []  # not visible yet: still held
    wait_for(lambda: gone(testbed, "VpnUser", "lost", ns), 120, what="VpnUser released")
    emulator.set_config(apply_delay=0.3)
    emulator.apply_now()
    assert cloud_users(emulator, cloud_name) == [], "the user made before the crash is left"


def test_a_reset_whose_answer_is_lost_ends_ready_with_the_new_password(stack) -> None:
    testbed, emulator, _, ns = stack
    cloud_name = f"rot-{ns}"[:32]
    testbed.apply(secret("rot-pw", password="First-Password-1"), ns)
    testbed.apply(user("rot", cloud_name, passwordSecretRef={"name": "rot-pw",
                                                           "key": "password"}), ns)
    wait_ready(testbed, "VpnUser", "rot", ns)
    emulator.set_faults(drop_operations=["reset_password"], drop_next=1)
    testbed.apply(secret("rot-pw", password="Second-Password-2"), ns)

    wait_for(lambda: emulator.check_password(cloud_name, "Second-Password-2"), 30,
             what="the reset applied")
    wait_for(lambda: condition(testbed.get("VpnUser", "rot", ns)).get("reason") == "Available"
             and calls(emulator, "reset_password") >= 2, 60,
             what="Ready after the lost answer was resolved")
    assert emulator.check_password(cloud_name, "Second-Password-2")
    assert "dropped" in emulator.stats()["calls"]["reset_password"]


def test_a_new_fingerprint_key_resets_nothing(stack) -> None:
    testbed, emulator, operator, ns = stack
    cloud_name = f"fp-{ns}"[:32]
    testbed.apply(secret("fp-pw", password="Stable-Password-7"), ns)
    testbed.apply(user("fp", cloud_name, passwordSecretRef={"name": "fp-pw", "key": "password"}),
                  ns)
    testbed.apply(mq_user("fpmq", f"fpmq-{ns}"[:64]), ns)
    before = wait_ready(testbed, "VpnUser", "fp", ns)["status"]["credentialsFingerprint"]
    wait_ready(testbed, "MqUser", "fpmq", ns)
    resets = calls(emulator, "reset_password"), calls(emulator, "update_mq_user")

    operator.stop()
    testbed.kubectl("delete", "secret", "hwcloud-access-fingerprint-key", "-n", "default")
    operator.start()
    renewed = {}
    for kind, name in (("VpnUser", "fp"), ("MqUser", "fpmq")):  # each passes under the new key
        testbed.kubectl("annotate", kind.lower(), name, "-n", ns,
                        "access.hwcloud.dev/reconcile-requested-at=after-new-key", "--overwrite")
        renewed[kind] = wait_for(lambda kind=kind, name=name: (
            obj := testbed.get(kind, name, ns))["status"].get(
            "lastHandledReconcileAt") == "after-new-key" and obj, 60,
            what=f"a pass of {kind} {name} under the new key")
        assert condition(renewed[kind])["reason"] == "Available"
    assert renewed["VpnUser"]["status"]["credentialsFingerprint"] != before
    assert (calls(emulator, "reset_password"), calls(emulator, "update_mq_user")) == resets
    assert emulator.check_password(cloud_name, "Stable-Password-7")


@pytest.mark.parametrize("value", ["5", "-5", "nan", "abc"])
def test_a_bad_resync_interval_is_reported_in_synced(stack, value) -> None:
    testbed, _, _, ns = stack
    testbed.apply(mq_user("resync", f"resync-{ns}"[:64]), ns)
    wait_ready(testbed, "MqUser", "resync", ns)
    testbed.kubectl("annotate", "mquser", "resync", "-n", ns,
                    f"access.hwcloud.dev/resync-interval={value}", "--overwrite")
    synced = wait_for(lambda: (obj := testbed.get("MqUser", "resync", ns))
                      and condition(obj, "Synced").get("status") == "False" and obj, 30,
                      what="Synced=False")
    assert value in condition(synced, "Synced")["message"]
    assert "at least 30" in condition(synced, "Synced")["message"]
    assert condition(synced)["status"] == "True"  # the object itself is fine
