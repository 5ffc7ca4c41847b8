"""What `make bench` writes and prints: one summary per run (a scenario at one size, both
operators), latest.json's top level over all runs, and the side-by-side table."""

from __future__ import annotations

from typing import Any

from tools.bench.figures import rss_per_1000
from tools.bench.layout import Layout

# printed for the headline run; no speed-up target: the naive baseline reaches nearly the
# minimum time itself, by answering each busy refusal with another try
TARGETS = [
    ("ratio_to_min", "<=", 1.15),
    ("cloud_calls_per_object", "<=", 2.5),
    ("busy_ratio", "<=", 0.05),
    ("operator_rss_mb", "<=", 200.0),  # the target is stated at 5,000 objects
]


def summarize(settings: dict[str, Any], layout: Layout, engine: dict[str, Any],
              baseline: dict[str, Any] | None) -> dict[str, Any]:
    """One run's figures: the keys latest.json has always had, and per operator its API
    writes and CPU per object, and per VPN server its queue's figures."""
    capacity, delay = settings["queue_capacity"], settings["apply_delay"]
    minimum = layout.theoretical_min_s(capacity, delay)
    pages = layout.sweep_pages()
    drift = engine["drift"]
    n = layout.objects

    def ratio(result: dict[str, Any] | None) -> float | None:
        return round(result["converge_s"] / minimum, 3) if result and minimum else None

    def both(key: str) -> dict[str, Any]:
        return {"operator": engine.get(key), "baseline": baseline.get(key) if baseline else None}

    def cpu_ms(result: dict[str, Any] | None) -> float | None:
        cpu = result["cpu_s_at_converge"].get("operator") if result else None
        return None if cpu is None else round(1000 * cpu / n, 2)

    return {
        "scenario": layout.scenario,
        "label": layout.label,
        "layout": layout.describe(),
        "objects": n,
        "converge_s": engine["converge_s"],
        "theoretical_min_s": minimum,
        "ratio_to_min": ratio(engine),
        "baseline_converge_s": baseline["converge_s"] if baseline else None,
        "baseline_ratio_to_min": ratio(baseline),
        "speedup_vs_baseline": round(baseline["converge_s"] / engine["converge_s"], 2)
        if baseline else None,
        "cloud_calls_per_object": engine["cloud_calls_per_object"],
        "busy_ratio": engine["busy_ratio"],
        "operator_rss_mb": engine["operator_rss_mb"],
        "operator_rss_idle_mb": engine.get("operator_rss_idle_mb"),
        "drift_sweep_calls": drift["drift_sweep_calls"],
        "drift_sweep_pages": sum(pages.values()),
        "drift_sweep_pages_by_listing": pages,
        "drift_sweep_constant": round(drift["drift_sweep_calls"] - sum(pages.values()), 2),
        "create_calls_per_object": engine["create_calls_per_object"],
        "calls_per_object_by_operation": engine["calls_per_object_by_operation"],
        "operator_cpu_s": engine["cpu_s"].get("operator"),
        "operator_cpu_s_at_converge": engine["cpu_s_at_converge"].get("operator"),
        "baseline_cloud_calls_per_object": baseline["cloud_calls_per_object"] if baseline else None,
        "baseline_busy_ratio": baseline["busy_ratio"] if baseline else None,
        "baseline_operator_rss_mb": baseline["operator_rss_mb"] if baseline else None,
        "baseline_operator_cpu_s": baseline["cpu_s"].get("operator") if baseline else None,
        "apiserver_writes_per_object": {
            "operator": engine["apiserver_writes_per_object"],
            "baseline": baseline["apiserver_writes_per_object"] if baseline else None,
            "by_request": both("apiserver_writes_per_object_by_request"),
        },
        "operator_cpu_ms_per_object": {"operator": cpu_ms(engine), "baseline": cpu_ms(baseline)},
        "servers": {s.id: {
            "vpn_users": s.users, "groups": s.groups, "changes_needed": s.changes,
            "theoretical_min_s": s.min_s(capacity, delay),
            "queue_utilisation": {
                "operator": engine["queues"][s.id]["queue_utilisation"],
                "baseline": baseline["queues"][s.id]["queue_utilisation"] if baseline else None},
            "operator": engine["queues"][s.id],
            "baseline": baseline["queues"][s.id] if baseline else None,
        } for s in layout.servers},
        "settings": {**settings, "objects_vpn_users": layout.vpn_users,
                     "objects_mq_users": layout.mq_users, "groups": layout.groups,
                     "vpn_servers": len(layout.servers),
                     "rocketmq_instances": len(layout.instances),
                     "objects": n, "theoretical_min_s": minimum},
        "engine": engine,
        "baseline": baseline,
    }


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """latest.json: the headline run's keys (the one-server scenario at its largest size,
    else the many-server run), ``servers`` of the many-server run when there was one,
    ``rss_mb_per_1000`` over the one-server sizes, and every run in ``runs``."""
    one = [run for run in runs if run["scenario"] == "one"]
    many = [run for run in runs if run["scenario"] == "many"]
    headline = max(one, key=lambda run: run["objects"]) if one else many[0]
    return {
        **headline,
        "headline_run": headline["label"],
        "servers": (many[0] if many else headline)["servers"],
        "rss_mb_per_1000": rss_per_1000(one) if one else None,
        "runs": runs,
    }


def table(latest: dict[str, Any]) -> str:
    blocks = [_run_table(run) for run in latest["runs"]]
    rss = latest["rss_mb_per_1000"]
    if rss:
        sizes = ", ".join(str(n) for n, _ in rss["operator_points"] if n)
        blocks.append(f"peak RSS per 1,000 objects in MB ({rss['from']}: {sizes} objects): "
                      f"operator {_fmt(rss['operator'])}, baseline {_fmt(rss['baseline'])}")
    blocks.append(_targets(latest))
    return "\n\n".join(blocks)


def _run_table(run: dict[str, Any]) -> str:
    e, b = run["engine"], run["baseline"]
    writes, cpu = run["apiserver_writes_per_object"], run["operator_cpu_ms_per_object"]
    rows: list[tuple[str, Any, Any]] = [
        ("converge_s", run["converge_s"], run["baseline_converge_s"]),
        ("theoretical_min_s (slowest queue)", run["theoretical_min_s"],
         b and run["theoretical_min_s"]),
        ("ratio_to_min", run["ratio_to_min"], run["baseline_ratio_to_min"]),
        ("cloud_calls_per_object", e["cloud_calls_per_object"], b and b["cloud_calls_per_object"]),
        ("busy share (VPN.0030 / all calls)", e["busy_ratio"], b and b["busy_ratio"]),
        ("apiserver_writes_per_object", writes["operator"], writes["baseline"]),
        ("operator_cpu_ms_per_object", cpu["operator"], cpu["baseline"]),
        ("operator_rss_mb (peak)", e["operator_rss_mb"], b and b["operator_rss_mb"]),
        ("operator_rss_mb (before the creates)", e.get("operator_rss_idle_mb"),
         b and b.get("operator_rss_idle_mb")),
    ]
    for k, (server_id, server) in enumerate(run["servers"].items()):
        use = server["queue_utilisation"]
        rows.append((f"queue_utilisation server {k} ({server_id[:8]})", use["operator"],
                     use["baseline"]))
    width = max(len(r[0]) for r in rows)
    settings = run["settings"]
    lines = [f"{run['label']}: {run['layout']}; apply_delay {settings['apply_delay']} s, "
             f"queue_capacity {settings['queue_capacity']}"
             + (f"; PROFILED ({settings['profile']}): timings are not comparable"
                if settings.get("profile") else ""),
             f"{'figure':<{width}}  {'operator':>10}  {'baseline':>10}",
             f"{'-' * width}  {'-' * 10}  {'-' * 10}"]
    lines += [f"{name:<{width}}  {_fmt(ours):>10}  {_fmt(naive):>10}" for name, ours, naive in rows]
    for role, by_request in writes["by_request"].items():
        if by_request:
            lines.append(f"API writes per object ({role}): " + ", ".join(
                f"{request} {n}" for request, n in sorted(by_request.items())))
    lines.append(f"drift sweep (operator): {run['drift_sweep_calls']} calls per resync period "
                 f"for {run['drift_sweep_pages']} pages to read "
                 f"(constant {run['drift_sweep_constant']})")
    return "\n".join(lines)


def _targets(latest: dict[str, Any]) -> str:
    lines = []
    for key, op, limit in TARGETS:
        value = latest.get(key)
        if value is None:
            verdict = "not measured"
        else:
            verdict = "met" if (value <= limit if op == "<=" else value >= limit) else "MISSED"
        lines.append(f"target {key} {op} {limit} ({latest['headline_run']}): "
                     f"{_fmt(value)} {verdict}")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None or value is False:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)
