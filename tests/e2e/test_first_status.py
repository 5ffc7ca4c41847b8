"""A new object reads as in progress from the moment it is created, before the operator has
written anything: the CRD's status default (kstatus reads an object without status as Current)."""

from __future__ import annotations

from tests.e2e.test_operator import user
from tests.support.operator import condition, wait_ready


def test_a_new_object_is_in_progress_before_the_operator_writes(stack) -> None:
    testbed, _, operator, ns = stack
    operator.stop()
    try:
        testbed.apply(user("early", f"early-{ns}"), ns)
        early = testbed.get("VpnUser", "early", ns)
        assert condition(early, "Reconciling") == {
            "type": "Reconciling", "status": "True", "reason": "Pending",
            "message": "the operator has not handled this object yet"}
        assert condition(early) == {}  # no Ready condition until the operator says so
    finally:
        operator.start()
    ready = wait_ready(testbed, "VpnUser", "early", ns)
    assert condition(ready, "Reconciling") == {}
    assert condition(ready)["lastTransitionTime"]
