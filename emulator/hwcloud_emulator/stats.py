"""Call statistics: counts by operation and HTTP status, busy answers and dropped calls, per
client (access key or IAM user) how many calls it made and when its first and last were, per
VPN server / RocketMQ instance its calls by operation and what its apply queue took in and
gave out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from hwcloud_emulator import clock


class QueueCounters:
    """One apply queue (a VPN server's or a RocketMQ instance's) since the stats were reset.

    ``writes`` are the calls whose changes it took, ``refused`` the calls it turned away
    because they did not fit (VPN.0030 for a full queue; not ``busy_rate``), ``changes`` and
    ``applied`` count changes (a batch call is one change per user). A change counts as
    applied at its due time, however late a request or the background task settles it, so
    ``last_applied - first_accepted`` is how long the queue was in use.
    """

    __slots__ = ("writes", "refused", "changes", "applied", "first_accepted", "last_applied")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.writes = 0
        self.refused = 0
        self.changes = 0
        self.applied = 0
        self.first_accepted: float | None = None  # monotonic seconds
        self.last_applied: float | None = None

    def accepted(self, changes: int, now: float) -> None:
        self.writes += 1
        self.changes += changes
        if self.first_accepted is None:
            self.first_accepted = now

    def refused_call(self) -> None:
        self.refused += 1

    def applied_at(self, due: float) -> None:
        self.applied += 1
        if self.last_applied is None or due > self.last_applied:
            self.last_applied = due

    def as_dict(self) -> dict[str, Any]:
        first, last = self.first_accepted, self.last_applied
        span = last - first if first is not None and last is not None and last >= first else None
        return {
            "writes": self.writes,
            "refused": self.refused,
            "changes": self.changes,
            "applied": self.applied,
            "first_accepted": None if first is None else clock.wall_of(first),
            "last_applied": None if last is None else clock.wall_of(last),
            "active_s": None if span is None else round(span, 3),
        }


class Stats:
    def __init__(self, queues: Mapping[str, Mapping[str, QueueCounters]] | None = None) -> None:
        """``queues``: the counters of each apply queue by section (``vpn_servers``,
        ``rocketmq_instances``) and id; they live with their queues and reset with the stats."""
        self.queues = queues or {}
        self.reset()

    def reset(self) -> None:
        self.calls: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.clients: dict[str, dict[str, Any]] = {}
        self.targets: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.busy = 0
        self.dropped = 0
        self.total = 0
        for section in self.queues.values():
            for counters in section.values():
                counters.reset()

    def record(self, operation: str, status: int | str, busy: bool = False,
               principal: str | None = None, target: str | None = None) -> None:
        """``status`` is the HTTP status, or ``"dropped"`` for a connection aborted on purpose;
        ``principal`` the authenticated caller (None: the request did not get that far);
        ``target`` the VPN server or RocketMQ instance id in the path, if any."""
        self.calls[operation][str(status)] += 1
        if target is not None:
            self.targets[target][operation] += 1
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
            "targets": {target: dict(sorted(ops.items()))
                        for target, ops in sorted(self.targets.items())},
            "queues": {section: {key: counters.as_dict() for key, counters in queues.items()}
                       for section, queues in self.queues.items()},
            "busy": self.busy,
            "dropped": self.dropped,
            "total": self.total,
        }
