"""Call statistics: counts by operation and HTTP status, busy answers and dropped calls, and
per client (access key or IAM user) how many calls it made and when its first and last were."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hwcloud_emulator import clock


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.calls: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.clients: dict[str, dict[str, Any]] = {}
        self.busy = 0
        self.dropped = 0
        self.total = 0

    def record(self, operation: str, status: int | str, busy: bool = False,
               principal: str | None = None) -> None:
        """``status`` is the HTTP status, or ``"dropped"`` for a connection aborted on purpose;
        ``principal`` the authenticated caller (None: the request did not get that far)."""
        self.calls[operation][str(status)] += 1
        self.total += 1
        if busy:
            self.busy += 1
        if status == "dropped":
            self.dropped += 1
        if principal is not None:
            now = clock.utcnow().timestamp()
            client = self.clients.setdefault(principal, {"calls": 0, "first": now})
            client["calls"] += 1
            client["last"] = now

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": {op: dict(by_status) for op, by_status in sorted(self.calls.items())},
            "clients": {name: dict(client) for name, client in sorted(self.clients.items())},
            "busy": self.busy,
            "dropped": self.dropped,
            "total": self.total,
        }
