"""One resource per cloud object across tenants and restarts, adoption only on request, and a
lost create answer still recognised as the resource's own. Real API server, real emulator,
the real operator (killed with SIGKILL where it says so)."""

from __future__ import annotations

import json
import uuid

import pytest
from tests.e2e.test_operator import (
    SERVER,
    cloud_users,
    events,
    out_of_band,
    read_secret,
    secret,
    user,
)
from tests.support.operator import condition, wait_for, wait_ready, wait_reason

from hwcloud_access.reconcile.conditions import now_rfc3339
from hwcloud_access.reconcile.engine import client_token

pytestmark = pytest.mark.e2e


def force_pass(testbed, kind: str, name: str, namespace: str, value: str) -> dict:
    testbed.kubectl("annotate", kind, name, "-n", namespace,
                    f"access.hwcloud.dev/reconcile-requested-at={value}", "--overwrite")
    return wait_for(lambda: (obj := testbed.get(kind, name, namespace))["status"].get(
        "lastHandledReconcileAt") == value and obj, 60, what=f"a pass of {name}")


def test_a_takeover_by_name_is_refused_before_and_after_a_restart(stack,
                                                                  other_namespace) -> None:
    testbed, emulator, operator, team_a = stack
    team_b = other_namespace
    shared = f"shared-{uuid.uuid4().hex[:12]}"  # names neither team's namespace
    testbed.apply(secret("pw", password="Team-A-Password-1"), team_a)
    testbed.apply(user("victim", shared, passwordSecretRef={"name": "pw", "key": "password"}),
                  team_a)
    wait_ready(testbed, "VpnUser", "victim", team_a)
    testbed.apply(secret("pw", password="Team-B-Password-2"), team_b)
    thief = user("thief", shared, passwordSecretRef={"name": "pw", "key": "password"},
                 adoptionPolicy="Adopt", description="mine now")
    testbed.apply(thief, team_b)

    refused = wait_reason(testbed, "VpnUser", "thief", team_b, "AlreadyOwned")
    message = condition(refused)["message"]
    assert team_a not in message and "victim" not in message
    assert emulator.check_password(shared, "Team-A-Password-1")

    operator.kill()  # kill -9: ownership must come back from the resources themselves
    operator.start()
    again = force_pass(testbed, "VpnUser", "thief", team_b, "after-kill")
    assert condition(again)["reason"] == "AlreadyOwned"
    assert condition(force_pass(testbed, "VpnUser", "victim", team_a, "after-kill"))[
        "reason"] == "Available"
    [cloud] = cloud_users(emulator, shared)
    assert cloud["description"] != "mine now"
    assert emulator.check_password(shared, "Team-A-Password-1")

    testbed.kubectl("delete", "vpnuser", "thief", "-n", team_b)  # released, object untouched
    assert cloud_users(emulator, shared) and emulator.check_password(shared, "Team-A-Password-1")


def test_a_hand_made_user_is_adopted_only_on_request(stack) -> None:
    testbed, emulator, _, ns = stack
    name = f"hand-{ns}"[:32]
    made = out_of_band(emulator, lambda s: s.vpn.create_user(
        SERVER, name=name, password="Hand-Made-Password-3", client_token=str(uuid.uuid4())))
    emulator.apply_now()
    testbed.apply(user("hand", name, description="from the cluster"), ns)
    refused = wait_reason(testbed, "VpnUser", "hand", ns, "AlreadyExists")
    assert made in condition(refused)["message"]
    assert emulator.check_password(name, "Hand-Made-Password-3")  # nothing written to it

    testbed.apply(user("hand", name, description="from the cluster", adoptionPolicy="Adopt"), ns)
    adopted = wait_ready(testbed, "VpnUser", "hand", ns)  # its description updated too
    assert adopted["status"]["id"] == made
    assert condition(adopted)["message"] == f"adopted existing cloud object {made}"
    assert {"Adopted", "Updated", "CredentialsRotated"} <= set(events(testbed, ns, "hand"))
    password = read_secret(testbed, ns, adopted["status"]["credentialsSecret"])["password"]
    wait_for(lambda: emulator.check_password(name, password), 30,
             what="the Secret's password set on the adopted user")
    assert not emulator.check_password(name, "Hand-Made-Password-3")


def test_a_lost_create_answer_is_still_the_resources_own(stack) -> None:
    """The create reached the cloud, then the operator died before learning the id: after a
    restart the object is recognised (by the create's client token) as made by the resource,
    not as a stranger's (which adoptionPolicy Never would refuse)."""
    testbed, emulator, operator, ns = stack
    name = f"own-{ns}"[:32]
    operator.stop()
    try:
        manifest = user("own", name)
        manifest["metadata"]["finalizers"] = ["access.hwcloud.dev/finalizer"]
        testbed.apply(manifest, ns)
        token = client_token(testbed.get("VpnUser", "own", ns)["metadata"]["uid"])
        intent = {"action": "create", "since": now_rfc3339(), "clientToken": token}
        testbed.kubectl("patch", "vpnuser", "own", "-n", ns, "--subresource=status",
                        "--type=merge", "-p", json.dumps({"status": {"pendingChange": intent}}))
        made = out_of_band(emulator, lambda s: s.vpn.create_user(
            SERVER, name=name, password="Lost-Answer-Password-4", client_token=token))
        emulator.apply_now()
    finally:
        operator.start()
    ready = wait_ready(testbed, "VpnUser", "own", ns)
    assert ready["status"]["id"] == made and "adopted" not in condition(ready)["message"]
    assert len(cloud_users(emulator, name)) == 1


def writes(emulator, *operations: str) -> int:
    calls = emulator.stats()["calls"]
    return sum(sum((calls.get(op) or {}).values()) for op in operations)


def test_observing_another_teams_user_first_is_no_claim_on_it(stack, other_namespace) -> None:
    """team-b observes a name before team-a's user exists (so team-b's resource is the earlier
    made); once team-a's user is there, team-b's Observe shows nothing of it (AlreadyOwned),
    and a switch to Manage with Adopt is still AlreadyOwned."""
    testbed, emulator, _, team_a = stack
    team_b = other_namespace
    shared = f"seen-{uuid.uuid4().hex[:12]}"
    testbed.apply(secret("pw", password="Team-B-Password-6"), team_b)
    observer = user("observer", shared, managementPolicy="Observe",
                    passwordSecretRef={"name": "pw", "key": "password"})
    testbed.apply(observer, team_b)
    wait_reason(testbed, "VpnUser", "observer", team_b, "NotFound")

    testbed.apply(secret("pw", password="Team-A-Password-5"), team_a)
    testbed.apply(user("owner", shared, passwordSecretRef={"name": "pw", "key": "password"}),
                  team_a)
    owned = wait_ready(testbed, "VpnUser", "owner", team_a)
    hidden = force_pass(testbed, "VpnUser", "observer", team_b, "seen")
    assert condition(hidden)["reason"] == "AlreadyOwned"
    assert "shows nothing" in condition(hidden)["message"]
    assert team_a not in condition(hidden)["message"]
    assert "observedId" not in hidden["status"] and "id" not in hidden["status"]
    assert owned["status"]["id"] not in json.dumps(hidden)

    testbed.apply({**observer, "spec": {**observer["spec"], "managementPolicy": "Manage",
                                        "adoptionPolicy": "Adopt"}}, team_b)
    refused = wait_reason(testbed, "VpnUser", "observer", team_b, "AlreadyOwned")
    assert team_a not in condition(refused)["message"]
    assert condition(force_pass(testbed, "VpnUser", "owner", team_a, "still-mine"))[
        "reason"] == "Available"
    assert emulator.check_password(shared, "Team-A-Password-5")
    assert not emulator.check_password(shared, "Team-B-Password-6")


def test_a_hand_made_user_observed_then_managed_is_not_adopted(stack) -> None:
    testbed, emulator, _, ns = stack
    name = f"eyed-{ns}"[:32]
    made = out_of_band(emulator, lambda s: s.vpn.create_user(
        SERVER, name=name, password="Hand-Made-Password-7", description="by hand",
        client_token=str(uuid.uuid4())))
    emulator.apply_now()
    watched = user("eyed", name, description="from the cluster", managementPolicy="Observe")
    testbed.apply(watched, ns)
    seen = wait_ready(testbed, "VpnUser", "eyed", ns)
    assert seen["status"]["observedId"] == made and "id" not in seen["status"]

    before = writes(emulator, "update_user", "reset_password")
    testbed.apply({**watched, "spec": {**watched["spec"], "managementPolicy": "Manage"}}, ns)
    refused = wait_reason(testbed, "VpnUser", "eyed", ns, "AlreadyExists")
    assert made in condition(refused)["message"] and "id" not in refused["status"]
    [cloud] = cloud_users(emulator, name)
    assert cloud["description"] == "by hand"
    assert emulator.check_password(name, "Hand-Made-Password-7")
    assert writes(emulator, "update_user", "reset_password") == before
