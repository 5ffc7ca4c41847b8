"""Ready and Synced conditions, and kstatus's Reconciling and Stalled, keeping
lastTransitionTime when the status does not change.

Flux and kpt (kstatus) read neither Ready's reason nor Synced: only `Reconciling=True`
(InProgress) and `Stalled=True` (Failed). Each not-Ready reason maps to one of the two, so a
resource that cannot converge without a change fails a `wait` at once instead of timing out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .outcome import Outcome, Reason

# Work in flight: the resource gets there without anyone doing anything.
RECONCILING = frozenset({Reason.PENDING, Reason.CREATING, Reason.APPLYING, Reason.DELETING,
                         Reason.CLOUD_BUSY, Reason.DEPENDENCY_NOT_READY,
                         Reason.IN_USE})
# Cannot converge without a change (of the spec, the account, the cloud's permissions, ...).
STALLED = frozenset({Reason.INVALID_SPEC, Reason.AUTH_FAILED, Reason.ACCESS_DENIED,
                     Reason.NOT_FOUND, Reason.ALREADY_EXISTS, Reason.ALREADY_OWNED,
                     Reason.ACCOUNT_NOT_ALLOWED, Reason.DELETE_BLOCKED,
                     Reason.ERROR})  # an answer the error table does not know: not retried


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(old: list[dict[str, Any]], type_: str, ok: bool, reason: str, message: str,
               generation: int | None) -> dict[str, Any]:
    status = "True" if ok else "False"
    previous = next((c for c in old if c.get("type") == type_), None)
    changed = previous is None or previous.get("status") != status
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": now_rfc3339() if changed or not previous.get("lastTransitionTime")
        else previous["lastTransitionTime"],
    }


def conditions_for(outcome: Outcome, old: list[dict[str, Any]] | None,
                   generation: int | None) -> list[dict[str, Any]]:
    old = old or []
    synced_message = outcome.synced_message or ("" if outcome.synced else outcome.message)
    conditions = [
        _condition(old, "Ready", outcome.ready, outcome.reason.value, outcome.message, generation),
        _condition(old, "Synced", outcome.synced, outcome.synced_reason.value, synced_message,
                   generation),
    ]
    for type_, reasons in (("Reconciling", RECONCILING), ("Stalled", STALLED)):
        if not outcome.ready and outcome.reason in reasons:  # absent otherwise
            conditions.append(_condition(old, type_, True, outcome.reason.value,
                                         outcome.message, generation))
    return conditions


def is_ready(status: dict[str, Any] | None) -> bool:
    for condition in (status or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def ready_reason(status: dict[str, Any] | None) -> str | None:
    for condition in (status or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("reason")
    return None
