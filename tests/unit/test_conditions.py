"""Ready/Synced and kstatus's Reconciling/Stalled, written together from one Outcome."""

from __future__ import annotations

import pytest

from hwcloud_access.reconcile.conditions import RECONCILING, STALLED, conditions_for
from hwcloud_access.reconcile.outcome import Outcome, Reason

NEITHER = {Reason.AVAILABLE, Reason.PAUSED, Reason.SUCCESS}


def by_type(outcome: Outcome, old: list | None = None) -> dict[str, dict]:
    return {c["type"]: c for c in conditions_for(outcome, old, 3)}


def test_every_reason_is_reconciling_stalled_or_neither() -> None:
    assert not RECONCILING & STALLED
    assert RECONCILING | STALLED | NEITHER == set(Reason)


@pytest.mark.parametrize("reason", sorted(RECONCILING))
def test_work_in_flight_is_reconciling(reason: Reason) -> None:
    conditions = by_type(Outcome(ready=False, reason=reason, message="why"))
    assert "Stalled" not in conditions
    assert conditions["Reconciling"] | {"lastTransitionTime": None} == {
        "type": "Reconciling", "status": "True", "reason": reason.value, "message": "why",
        "observedGeneration": 3, "lastTransitionTime": None}


@pytest.mark.parametrize("reason", sorted(STALLED))
def test_what_needs_a_change_is_stalled(reason: Reason) -> None:
    conditions = by_type(Outcome(ready=False, reason=reason, message="fix it", synced=False))
    assert "Reconciling" not in conditions
    assert (conditions["Stalled"]["status"], conditions["Stalled"]["reason"],
            conditions["Stalled"]["message"]) == ("True", reason.value, "fix it")


def test_ready_and_paused_carry_neither() -> None:
    for outcome in (Outcome(ready=True, reason=Reason.AVAILABLE, message=""),
                    Outcome(ready=False, reason=Reason.PAUSED, message="paused", synced=False)):
        assert set(by_type(outcome)) == {"Ready", "Synced"}


def test_transition_time_is_kept_while_the_status_stays() -> None:
    first = conditions_for(Outcome(ready=False, reason=Reason.APPLYING, message="a"), None, 1)
    stamped = [c | {"lastTransitionTime": "2020-01-01T00:00:00Z"} for c in first]
    again = by_type(Outcome(ready=False, reason=Reason.CLOUD_BUSY, message="b"), stamped)
    assert again["Reconciling"]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    assert again["Reconciling"]["reason"] == "CloudBusy"
