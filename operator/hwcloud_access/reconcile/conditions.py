"""Ready and Synced conditions, keeping lastTransitionTime when the status does not change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .outcome import Outcome


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
        "lastTransitionTime": now_rfc3339() if changed else previous.get("lastTransitionTime"),
    }


def conditions_for(outcome: Outcome, old: list[dict[str, Any]] | None,
                   generation: int | None) -> list[dict[str, Any]]:
    old = old or []
    synced_message = outcome.synced_message or ("" if outcome.synced else outcome.message)
    return [
        _condition(old, "Ready", outcome.ready, outcome.reason.value, outcome.message, generation),
        _condition(old, "Synced", outcome.synced, outcome.synced_reason.value, synced_message,
                   generation),
    ]


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
