"""Time: a monotonic clock for due times, wall time (UTC) for timestamps and token expiry."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def monotonic() -> float:
    return time.monotonic()


def wall_of(moment: float) -> float:
    """Epoch seconds of a ``monotonic()`` moment (for reports: due times are monotonic)."""
    return time.time() - (time.monotonic() - moment)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso_seconds(epoch: float) -> str:
    """``2024-05-01T12:00:00.000000Z`` for an epoch time (IAM token times)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
