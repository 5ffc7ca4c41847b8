"""ArgoCD's health of live objects: the real operator drives resources into representative
states, and deploy/argocd's health.lua, run as Argo CD runs it (tests/support/argocd.py), must
answer for `kubectl get -o json` of each what EXPECTED says of its Ready reason."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from tests.e2e.test_operator import secret, user
from tests.support.argocd import EXPECTED, argocd_health, script_of
from tests.support.operator import condition, wait_for, wait_ready

from hwcloud_access.reconcile.outcome import Reason

pytestmark = pytest.mark.e2e

PAUSED = "access.hwcloud.dev/paused"
# A driver brings a VpnUser named "it" in the namespace towards a state and undoes what it
# changed in the emulator when the test is done.
Driver = Callable[..., AbstractContextManager[None]]


@contextmanager
def available(testbed, emulator, ns) -> Iterator[None]:
    testbed.apply(user("it", f"available-{ns}"), ns)
    yield


@contextmanager
def cloud_holds_changes(emulator) -> Iterator[None]:
    """The cloud takes a minute to apply a change instead of the stack's 0.3 s."""
    emulator.set_config(apply_delay=60.0)
    try:
        yield
    finally:
        emulator.set_config(apply_delay=0.3)
        emulator.apply_now()


@contextmanager
def applying(testbed, emulator, ns) -> Iterator[None]:
    with cloud_holds_changes(emulator):
        testbed.apply(user("it", f"applying-{ns}"), ns)
        yield


@contextmanager
def deleting(testbed, emulator, ns) -> Iterator[None]:
    testbed.apply(user("it", f"deleting-{ns}"), ns)
    wait_ready(testbed, "VpnUser", "it", ns)
    with cloud_holds_changes(emulator):
        testbed.kubectl("delete", "vpnuser", "it", "-n", ns, "--wait=false")
        yield


@contextmanager
def invalid_spec(testbed, emulator, ns) -> Iterator[None]:
    testbed.apply(secret("pw", passwd="Some-Password-123"), ns)
    testbed.apply(user("it", f"invalid-{ns}", passwordSecretRef={"name": "pw",
                                                                "key": "password"}), ns)
    yield


@contextmanager
def already_owned(testbed, emulator, ns) -> Iterator[None]:
    testbed.apply(user("owner", f"owned-{ns}"), ns)
    wait_ready(testbed, "VpnUser", "owner", ns)
    testbed.apply(user("it", f"owned-{ns}", adoptionPolicy="Adopt"), ns)
    yield


@contextmanager
def delete_blocked(testbed, emulator, ns) -> Iterator[None]:
    testbed.apply(user("it", f"blocked-{ns}"), ns)
    wait_ready(testbed, "VpnUser", "it", ns)
    emulator.set_faults(deny_operations=["delete_user"])
    try:
        testbed.kubectl("delete", "vpnuser", "it", "-n", ns, "--wait=false")
        yield
    finally:
        emulator.set_faults(deny_operations=[])


@contextmanager
def paused(testbed, emulator, ns) -> Iterator[None]:
    testbed.apply(user("it", f"paused-{ns}"), ns)
    wait_ready(testbed, "VpnUser", "it", ns)
    testbed.kubectl("annotate", "vpnuser", "it", "-n", ns, f"{PAUSED}=true")
    yield


STATES: dict[Reason, Driver] = {
    Reason.AVAILABLE: available,
    Reason.APPLYING: applying,
    Reason.DELETING: deleting,
    Reason.INVALID_SPEC: invalid_spec,
    Reason.ALREADY_OWNED: already_owned,
    Reason.DELETE_BLOCKED: delete_blocked,
    Reason.PAUSED: paused,
}
# The reasons above that only a change can help: the operator says so with kstatus's Stalled.
STALLED = {Reason.INVALID_SPEC, Reason.ALREADY_OWNED, Reason.DELETE_BLOCKED}


def live(testbed, ns: str) -> dict:
    return json.loads(testbed.kubectl("get", "vpnuser", "it", "-n", ns, "-o", "json").stdout)


@pytest.mark.parametrize("reason", list(STATES), ids=str)
def test_argocd_health_of_a_live_object(stack, reason: Reason) -> None:
    testbed, emulator, _, ns = stack
    with STATES[reason](testbed, emulator, ns):
        obj = wait_for(lambda: (o := live(testbed, ns)) and condition(o).get("reason") == reason
                       and o, 60, what=f"VpnUser {ns}/it reason {reason}")
        [health] = argocd_health(script_of("VpnUser"), [obj])
        [shown] = argocd_health(script_of("VpnUser"), [obj], controller=True)

    ready = condition(obj)
    assert health["status"] == EXPECTED[reason], health
    assert ready["message"] in health["message"]
    assert (condition(obj, "Stalled").get("status") == "True") == (reason in STALLED)
    being_deleted = obj["metadata"].get("deletionTimestamp") is not None
    assert being_deleted == (reason in {Reason.DELETING, Reason.DELETE_BLOCKED})
    # What Argo CD's UI shows: the controller answers for an object being deleted itself.
    assert shown == ({"status": "Progressing", "message": "Pending deletion"} if being_deleted
                     else health)
