"""The benchmark's figures from what a run measured: the emulator's stats (calls, and each
apply queue's counters), the API server's request counters and the sampled RSS and CPU.
Nothing here does I/O (tests/unit/test_bench_figures.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# apiserver_request_total verbs that write (APPLY is a server-side apply PATCH)
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"})
# the harness's own requests: one create per object, and its watches' listings
HARNESS_CREATES = frozenset({"POST vpnusers", "POST vpnusergroups", "POST mqusers"})
VPN_WRITES = frozenset({"create_user", "create_group", "update_user", "update_group",
                        "batch_create_users", "reset_password", "delete_user", "delete_group"})


# -- cloud calls (GET /_emulator/stats) ---------------------------------------------------
def by_operation(stats: dict[str, Any]) -> dict[str, int]:
    return {op: sum(statuses.values()) for op, statuses in stats["calls"].items()}


def call_figures(stats: dict[str, Any], objects: int) -> dict[str, Any]:
    ops = by_operation(stats)
    total = stats["total"]
    creates = sum(n for op, n in ops.items()
                  if op.startswith("create") or op == "batch_create_users")
    writes_vpn = sum(n for op, n in ops.items() if op in VPN_WRITES)
    return {
        "cloud_calls": total,
        "cloud_calls_per_object": round(total / objects, 3),
        "create_calls_per_object": round(creates / objects, 3),
        "calls_by_operation": ops,
        "calls_per_object_by_operation": {op: round(n / objects, 3) for op, n in ops.items()},
        "calls_by_status": stats["calls"],
        "busy_answers": stats["busy"],
        "busy_ratio": round(stats["busy"] / total, 4) if total else 0.0,
        "busy_share_of_vpn_writes": round(stats["busy"] / writes_vpn, 4) if writes_vpn else 0.0,
        "dropped": stats["dropped"],
    }


def queue_figures(queue: dict[str, Any], queue_capacity: int, apply_delay: float,
                  started_wall: float) -> dict[str, Any]:
    """One VPN server's apply queue (its entry in the stats' ``queues.vpn_servers``).

    ``queue_utilisation``: applies per second while the queue was in use (from its first
    accepted change to its last applied one) over the queue's capacity per second,
    ``queue_capacity / apply_delay``; 1.0 means it was never short of work.
    """
    active, applied = queue["active_s"], queue["applied"]
    attempts = queue["writes"] + queue["refused"]
    rate = queue_capacity / apply_delay if apply_delay else None
    applies_per_s = applied / active if active else None

    def since_start(wall: float | None) -> float | None:
        return None if wall is None else round(wall - started_wall, 2)

    return {
        "changes": queue["changes"],
        "applied": applied,
        "writes": queue["writes"],
        "refused": queue["refused"],
        "busy_share": round(queue["refused"] / attempts, 4) if attempts else 0.0,
        "first_accepted_s": since_start(queue["first_accepted"]),
        "last_applied_s": since_start(queue["last_applied"]),
        "active_s": active,
        "applies_per_s": None if applies_per_s is None else round(applies_per_s, 2),
        "queue_rate_per_s": None if rate is None else round(rate, 2),
        "queue_utilisation": round(applies_per_s / rate, 3)
        if applies_per_s is not None and rate else None,
    }


# -- the API server (apiserver_request_total) ---------------------------------------------
def requests_delta(before: dict[str, int], after: dict[str, int], objects: int
                   ) -> dict[str, Any]:
    """What the operator asked of the API server during a run, from two scrapes keyed by
    "VERB resource[/subresource]"; the harness's creates and listings are left out of the
    per-object figures."""
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    delta = {k: v for k, v in sorted(delta.items()) if v}
    operator = {k: v for k, v in delta.items()
                if k not in HARNESS_CREATES and not k.startswith("LIST ")}
    writes = {k: v for k, v in operator.items() if k.split(" ", 1)[0] in WRITE_VERBS}
    return {"apiserver_requests": delta,
            "apiserver_requests_by_operator_per_object": round(sum(operator.values()) / objects,
                                                               2),
            "apiserver_patches_per_object": round(sum(
                v for k, v in operator.items() if k.startswith("PATCH ")) / objects, 2),
            "apiserver_writes_per_object": round(sum(writes.values()) / objects, 3),
            "apiserver_writes_per_object_by_request": {k: round(v / objects, 3)
                                                       for k, v in writes.items()}}


# -- memory -------------------------------------------------------------------------------
def slope_per_1000(points: Iterable[tuple[float, float]]) -> float | None:
    """Least-squares slope of y over x, per 1,000 of x; None without two distinct x."""
    pairs = list(points)
    if len({x for x, _ in pairs}) < 2:
        return None
    mean_x = sum(x for x, _ in pairs) / len(pairs)
    mean_y = sum(y for _, y in pairs) / len(pairs)
    sxx = sum((x - mean_x) ** 2 for x, _ in pairs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in pairs)
    return round(1000 * sxy / sxx, 2)


def rss_per_1000(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Peak RSS per 1,000 objects for each operator over the one-server runs (``engine`` and
    ``baseline`` results with ``objects``): the least-squares slope over the sizes; with a
    single size, from the RSS before the first create to the peak."""
    out: dict[str, Any] = {}
    sizes = {run["objects"] for run in runs}
    out["from"] = "sizes" if len(sizes) > 1 else "idle and one size"
    for role in ("engine", "baseline"):
        results = [(run["objects"], run[role]) for run in runs if run.get(role)]
        points = [(n, r["operator_rss_mb"]) for n, r in results]
        if len(sizes) == 1:
            points += [(0, r["operator_rss_idle_mb"]) for _, r in results
                       if r.get("operator_rss_idle_mb") is not None]
        name = "operator" if role == "engine" else "baseline"
        out[name] = slope_per_1000(points)
        out[f"{name}_points"] = sorted(points)
    return out

