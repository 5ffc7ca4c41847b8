"""Call statistics: counts by operation and HTTP status, busy answers and dropped calls."""

from __future__ import annotations

from collections import defaultdict
from typing import Any


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.calls: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.busy = 0
        self.dropped = 0
        self.total = 0

    def record(self, operation: str, status: int | str, busy: bool = False) -> None:
        """``status`` is the HTTP status, or ``"dropped"`` for a connection aborted on purpose."""
        self.calls[operation][str(status)] += 1
        self.total += 1
        if busy:
            self.busy += 1
        if status == "dropped":
            self.dropped += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": {op: dict(by_status) for op, by_status in sorted(self.calls.items())},
            "busy": self.busy,
            "dropped": self.dropped,
            "total": self.total,
        }
