"""`make bench`: the operator at scale against the emulator, and a naive baseline.

    make bench                       1,000 VpnUsers in 2 groups + 200 MqUsers
    make bench BENCH_N=200 BENCH_MQ_N=50 BENCH_APPLY_DELAY=0.2 BENCH_QUEUE_CAPACITY=10

One run:
1. A real API server (tools/testbed, in .bench/testbed; BENCH_TESTBED_DIR reuses a running
   one), the CRDs, an emulator (apply_delay BENCH_APPLY_DELAY, queue_capacity
   BENCH_QUEUE_CAPACITY) and `hwcloud-access run -n <ns> --resync-interval BENCH_RESYNC`.
2. Creates every object from a thread pool and follows them with one watch per kind
   until all are Ready; samples the operator's RSS and CPU from /proc meanwhile.
3. Idle drift sweep: once all are Ready and the calls have stopped, resets the emulator's
   stats and watches them for two resync periods; each listing's sweep is one burst of
   list calls, so the cost of one sweep is read per burst.
4. Stops the operator; the same objects through tools/bench/naive_operator.py, against a
   fresh emulator, in a fresh namespace (BENCH_BASELINE=0 skips it).
5. Prints a table and writes .bench/latest.json (and .bench/run-<time>.json).

Other knobs: BENCH_GROUPS (2), BENCH_RESYNC (20 s), BENCH_TIMEOUT (s, default scales
with N), BENCH_BASELINE_DELAY (the baseline's fixed retry delay, 1 s), BENCH_KEEP=1 keeps
the test bed running.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.faults.fleet import (  # noqa: E402
    Sampler,
    api_client,
    create_all,
    fleet,
    proc_rss_mb,
    wait_all_ready,
)
from tests.support.emulator import EmulatorProcess, free_port  # noqa: E402
from tests.support.operator import OperatorProcess, operator_env  # noqa: E402
from tests.support.testbed import Testbed, start_testbed, stop_testbed  # noqa: E402

from hwcloud_access.cloud import MQ_PAGE_SIZE, VPN_PAGE_SIZE  # noqa: E402

OUT = ROOT / ".bench"
LIST_OPS = ("list_users", "list_groups", "list_mq_users")


def env_num(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- figures from the emulator's stats ----------------------------------------------------
def by_operation(stats: dict[str, Any]) -> dict[str, int]:
    return {op: sum(statuses.values()) for op, statuses in stats["calls"].items()}


def call_figures(stats: dict[str, Any], objects: int) -> dict[str, Any]:
    ops = by_operation(stats)
    total = stats["total"]
    creates = sum(n for op, n in ops.items()
                  if op.startswith("create") or op == "batch_create_users")
    writes_vpn = sum(n for op, n in ops.items() if op in (
        "create_user", "create_group", "update_user", "update_group", "batch_create_users",
        "reset_password", "delete_user", "delete_group"))
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


def scrape_metrics(port: int | None) -> dict[str, dict[str, float]]:
    """The operator's labelled metrics: {name: {labels: value}} (empty without a port)."""
    if not port:
        return {}
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    except OSError:
        return {}
    out: dict[str, dict[str, float]] = {}
    for line in text.decode().splitlines():
        if "{" in line and not line.startswith("#"):
            name, rest = line.split("{", 1)
            labels, value = rest.rsplit(" ", 1)
            out.setdefault(name, {})["{" + labels] = float(value)
    return out


def reconcile_summary(metrics: dict[str, float]) -> dict[str, float]:
    """Reconcile passes by result (all kinds)."""
    out: dict[str, float] = {}
    for labels, value in metrics.items():
        result = labels.split('result="', 1)[1].split('"', 1)[0]
        out[result] = out.get(result, 0) + value
    return out


# -- the idle drift sweep -----------------------------------------------------------------
def drift_sweep(emulator: EmulatorProcess, resync: float, settle_timeout: float = 60.0
                ) -> dict[str, Any]:
    """Cost of one idle sweep: wait until no call for 3 s, reset the stats, watch two
    resync periods at 0.25 s; each listing's sweep is a burst of its list calls."""
    quiet_since, last_total = time.monotonic(), emulator.stats()["total"]
    deadline = time.monotonic() + settle_timeout
    non_list_seen = 0
    while time.monotonic() - quiet_since < 3.0 and time.monotonic() < deadline:
        time.sleep(0.25)
        stats = emulator.stats()
        if stats["total"] != last_total:
            ops = by_operation(stats)
            non_list = sum(n for op, n in ops.items() if op not in LIST_OPS)
            if non_list != non_list_seen:  # a sweep's list calls do not count as activity
                quiet_since, non_list_seen = time.monotonic(), non_list
            last_total = stats["total"]
    emulator.reset_stats()
    window = 2 * resync + 1.0
    started = time.monotonic()
    previous: dict[str, int] = {}
    bursts: dict[str, list[int]] = {op: [] for op in LIST_OPS}
    last_change: dict[str, float] = {}
    while time.monotonic() - started < window:
        time.sleep(0.25)
        now = time.monotonic()
        ops = by_operation(emulator.stats())
        for op in LIST_OPS:
            delta = ops.get(op, 0) - previous.get(op, 0)
            if delta:
                if now - last_change.get(op, -1e9) > 1.0:
                    bursts[op].append(0)  # a new sweep of this listing
                bursts[op][-1] += delta
                last_change[op] = now
        previous = ops
    final = emulator.stats()
    ops = by_operation(final)
    other = {op: n for op, n in ops.items() if op not in LIST_OPS}
    per_sweep = {op: (sum(b) / len(b) if b else 0.0) for op, b in bursts.items()}
    per_period_other = sum(other.values()) * resync / window
    return {
        "window_s": round(window, 1),
        "calls_in_window": final["total"],
        "sweeps_by_listing": {op: len(b) for op, b in bursts.items()},
        "calls_per_sweep_by_listing": {op: round(v, 2) for op, v in per_sweep.items()},
        "non_list_calls_in_window": other,
        "drift_sweep_calls": round(sum(per_sweep.values()) + per_period_other, 2),
    }


# -- one run ------------------------------------------------------------------------------
class Naive(OperatorProcess):
    """tools/bench/naive_operator.py as a subprocess (same life cycle as the operator)."""

    def start(self) -> Naive:
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "bench" / "naive_operator.py"), *self.args],
            env=self.env, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while "Activity 'startup' succeeded" not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the baseline did not start:\n{self.log()[-3000:]}")
            time.sleep(0.2)
        return self


class Profiled(OperatorProcess):
    """The operator under tools/bench/profile_operator.py (BENCH_PROFILE=cpu|mem|both)."""

    def start(self) -> Profiled:
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "bench" / "profile_operator.py"), "run",
             *self.args], env=self.env, stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 180
        while "Activity 'startup' succeeded" not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the operator did not start:\n{self.log()[-3000:]}")
            time.sleep(0.2)
        return self


class StatsSampler(threading.Thread):
    """Once per second: the emulator's call counters (accepted creates over time) and the
    operator's VPN pacer (its write rate and how many calls wait for it)."""

    def __init__(self, emulator: EmulatorProcess, started: float,
                 metrics_port: int | None) -> None:
        super().__init__(daemon=True)
        self.emulator = emulator
        self.started = started
        self.metrics_port = metrics_port
        # (s, creates ok, busy, lists, pacer rate, pacer waiting)
        self.series: list[tuple[float, int, int, int, float | None, float | None]] = []
        self._stop_event = threading.Event()

    @staticmethod
    def _vpn_pacer(metrics: dict[str, dict[str, float]], metric: str) -> float | None:
        values = [v for labels, v in metrics.get(metric, {}).items() if 'pacer="vpn:' in labels]
        return round(sum(values), 2) if values else None

    def run(self) -> None:
        while not self._stop_event.wait(1.0):
            try:
                calls = self.emulator.stats()["calls"]
            except Exception:  # noqa: BLE001 - the emulator is being stopped
                return
            ok = sum(calls.get("create_user", {}).get(s, 0) for s in ("200", "201"))
            busy = calls.get("create_user", {}).get("400", 0)
            lists = sum(calls.get("list_users", {}).values())
            metrics = scrape_metrics(self.metrics_port)
            self.series.append((round(time.monotonic() - self.started, 1), ok, busy, lists,
                                self._vpn_pacer(metrics, "hwcloud_access_pacer_write_rate"),
                                self._vpn_pacer(metrics, "hwcloud_access_pacer_waiting")))

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)

    def figures(self, users: int, capacity: int, apply_delay: float) -> dict[str, Any]:
        """When the VPN user creates ran and how close their rate came to the queue's."""
        if not self.series:
            return {}
        first = next((t for t, ok, *_ in self.series if ok > 0), None)
        last = next((t for t, ok, *_ in self.series if ok >= users), None)
        best = 0.0
        for (t0, ok0, *_), (t1, ok1, *_) in zip(self.series, self.series[5:], strict=False):
            best = max(best, (ok1 - ok0) / (t1 - t0))
        span = (last - first) if first is not None and last is not None else None
        return {
            "vpn_creates_first_accepted_s": first,
            "vpn_creates_all_accepted_s": last,
            "vpn_create_rate_avg_per_s": round(users / span, 2) if span else None,
            "vpn_create_rate_best_5s_per_s": round(best, 2),
            "vpn_queue_rate_per_s": round(capacity / apply_delay, 2),
            "create_series": self.series,
        }


def run_one(label: str, testbed: Testbed, settings: dict[str, Any], *, naive: bool,
            logs: Path) -> dict[str, Any]:
    n, mq, groups = settings["objects_vpn_users"], settings["objects_mq_users"], settings["groups"]
    namespace = f"bench-{label}-{uuid.uuid4().hex[:6]}"
    testbed.kubectl("create", "namespace", namespace)
    emulator = EmulatorProcess({"apply_delay": settings["apply_delay"],
                                "queue_capacity": settings["queue_capacity"]}).start()
    env = operator_env(testbed, emulator)
    metrics_port = None if naive else free_port()
    log_path = logs / f"{label}.log"
    log_path.unlink(missing_ok=True)
    args = ["-n", namespace, "--resync-interval", str(settings["resync_interval"]),
            "--metrics-port", str(metrics_port)]
    if naive:
        env["BENCH_BASELINE_DELAY"] = str(settings["baseline_delay"])
        operator: OperatorProcess = Naive(env, log_path, "-n", namespace)
    elif settings["profile"]:
        env["BENCH_PROFILE"] = settings["profile"]
        env["BENCH_PROFILE_DIR"] = str(OUT / "profile")
        operator = Profiled(env, log_path, *args)
    else:
        operator = OperatorProcess(env, log_path, *args)
    result: dict[str, Any] = {"namespace": namespace, "log": str(log_path)}
    try:
        operator.start()
        assert operator.process is not None
        pids = {"operator": operator.process.pid}
        assert emulator.process is not None
        pids["emulator"] = emulator.process.pid
        apiserver = _apiserver_pid(testbed)
        if apiserver:
            pids["kube-apiserver"] = apiserver
        objects = fleet(n, mq, groups)
        client = api_client(testbed)
        time.sleep(2.0)  # let start-up finish: the idle RSS below is the operator's floor
        idle = proc_rss_mb(pids["operator"])
        result["operator_rss_idle_mb"] = round(idle[0], 1) if idle else None
        requests_before = apiserver_requests(testbed)
        emulator.reset_stats()
        sampler = Sampler(pids)
        sampler.start()
        started = time.monotonic()
        calls_sampler = StatsSampler(emulator, started, metrics_port)
        calls_sampler.start()
        log(f"{label}: creating {len(objects)} objects in {namespace}")
        create_s = create_all(client, namespace, objects)
        log(f"{label}: created in {create_s:.1f}s; waiting for Ready (watching)")

        def report(progress, ready: int) -> None:
            if len(progress.timeline) % 10 == 1:
                log(f"{label}: {ready}/{len(objects)} Ready at {progress.timeline[-1][0]:.0f}s")

        progress = wait_all_ready(testbed, namespace, len(objects), started=started,
                                  timeout=settings["timeout"], on_poll=report)
        converged_at = time.monotonic()
        stats = emulator.stats()
        calls_sampler.stop()
        requests = requests_delta(requests_before, apiserver_requests(testbed), len(objects))
        if settings["profile"] and not naive:
            operator.process.send_signal(signal.SIGUSR1)  # profile_operator.py dumps
        sampler.sample()
        cpu_at_converge = dict(sampler.cpu)
        machine_busy = sampler.machine_busy()
        last_transition = _last_ready_transition(progress.last)
        log(f"{label}: all {len(objects)} Ready in {progress.converged:.1f}s")
        result.update({
            "converge_s": round(progress.converged, 2),
            "converge_s_last_ready_transition": last_transition,
            "create_s": round(create_s, 2),
            "timeline": progress.timeline,
            **call_figures(stats, len(objects)),
            "reconciles": reconcile_summary(
                scrape_metrics(metrics_port).get("hwcloud_access_reconciles_total", {})),
            "cpu_s_at_converge": {k: round(v, 2) for k, v in cpu_at_converge.items()},
            "machine_cpu_busy_share": round(machine_busy, 3),
            **calls_sampler.figures(n, settings["queue_capacity"], settings["apply_delay"]),
            **requests,
        })
        if not naive:
            result["drift"] = drift_sweep(emulator, settings["resync_interval"])
            result["idle_s_after_converge"] = round(time.monotonic() - converged_at, 1)
        sampler.stop()
        result.update({
            "operator_rss_mb": round(max(sampler.peak_rss["operator"],
                                         sampler.hwm["operator"]), 1),
            "operator_rss_sampled_peak_mb": round(sampler.peak_rss["operator"], 1),
            "operator_rss_hwm_mb": round(sampler.hwm["operator"], 1),
            "peak_rss_mb": {k: round(v, 1) for k, v in sampler.peak_rss.items()},
            "cpu_s": {k: round(v, 2) for k, v in sampler.cpu.items()},
            "operator_peak_sockets": sampler.peak_sockets["operator"],
            "operator_peak_threads": sampler.peak_threads["operator"],
            "operator_connections_at_peak": _peers(sampler.peers_at_peak, testbed, emulator),
            "samples": sampler.samples,
            "log_lines": _log_summary(operator.log()),
        })
    finally:
        operator.stop()
        emulator.close()
    return result


API_RESOURCES = ("vpnusers", "vpnusergroups", "mqusers", "secrets", "events",
                 "huaweicloudaccounts")


def apiserver_requests(testbed: Testbed) -> dict[str, int]:
    """The API server's request counters (apiserver_request_total) for the resources the
    operator touches, by "VERB resource[/subresource]"."""
    result = testbed.kubectl("get", "--raw", "/metrics", check=False)
    out: dict[str, int] = {}
    for line in result.stdout.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels, value = line[len("apiserver_request_total{"):].rsplit("} ", 1)
        fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if fields.get("resource") not in API_RESOURCES:
            continue
        sub = f"/{fields['subresource']}" if fields.get("subresource") else ""
        key = f"{fields.get('verb')} {fields['resource']}{sub}"
        out[key] = out.get(key, 0) + int(float(value))
    return out


def requests_delta(before: dict[str, int], after: dict[str, int], objects: int
                   ) -> dict[str, Any]:
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    delta = {k: v for k, v in sorted(delta.items()) if v}
    # the harness's own requests: one POST per object, three LISTs per readiness poll
    harness = sum(v for k, v in delta.items() if k.startswith(("LIST ", "POST vpnusers",
                                                              "POST vpnusergroups",
                                                              "POST mqusers")))
    operator = sum(delta.values()) - harness
    return {"apiserver_requests": delta,
            "apiserver_requests_by_operator_per_object": round(operator / objects, 2),
            "apiserver_patches_per_object": round(sum(
                v for k, v in delta.items() if k.startswith("PATCH ")) / objects, 2)}


def _peers(peers: dict[int, int], testbed: Testbed, emulator: EmulatorProcess
           ) -> dict[str, int]:
    """Connections by what is at the other end."""
    server = testbed.kubectl("config", "view", "--minify", "-o",
                             "jsonpath={.clusters[0].cluster.server}", check=False).stdout
    api_port = int(server.rsplit(":", 1)[1]) if ":" in server else -1
    names = {api_port: "kube-apiserver", emulator.port: "emulator"}
    out: dict[str, int] = {}
    for port, n in peers.items():
        key = names.get(port, "other")
        out[key] = out.get(key, 0) + n
    return out


def _apiserver_pid(testbed: Testbed) -> int | None:
    pid_file = testbed.dir / "kube-apiserver.pid"
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _last_ready_transition(items: list[dict[str, Any]]) -> str | None:
    stamps = []
    for obj in items:
        for cond in (obj.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Ready" and cond.get("lastTransitionTime"):
                stamps.append(cond["lastTransitionTime"])
    return max(stamps) if stamps else None


def _log_summary(text: str) -> dict[str, int]:
    lines = text.splitlines()
    return {
        "lines": len(lines),
        "temporary_errors": sum("failed temporarily" in line for line in lines),
        "errors": sum(" ERROR " in line or "[ERROR" in line for line in lines),
        "warnings": sum(" WARNING " in line or "[WARNING" in line for line in lines),
    }


# -- the whole benchmark ------------------------------------------------------------------
def settings_from_env() -> dict[str, Any]:
    n = int(env_num("BENCH_N", 1000))
    mq = int(env_num("BENCH_MQ_N", 200))
    groups = int(env_num("BENCH_GROUPS", 2))
    delay = env_num("BENCH_APPLY_DELAY", 0.5)
    capacity = int(env_num("BENCH_QUEUE_CAPACITY", 10))
    theoretical = math.ceil((n + groups) / capacity) * delay  # one VPN server
    return {
        "objects_vpn_users": n, "objects_mq_users": mq, "groups": groups,
        "objects": n + mq + groups,
        "apply_delay": delay, "queue_capacity": capacity,
        "resync_interval": env_num("BENCH_RESYNC", 20.0),
        "baseline": os.environ.get("BENCH_BASELINE", "1") not in ("0", "no", "false"),
        "baseline_delay": env_num("BENCH_BASELINE_DELAY", 1.0),
        "theoretical_min_s": theoretical,
        "profile": os.environ.get("BENCH_PROFILE", "").strip() or None,
        "timeout": env_num("BENCH_TIMEOUT", max(600.0, 10 * theoretical + 5 * (n + mq) / 50)),
    }


def expected_sweep_pages(settings: dict[str, Any]) -> dict[str, int]:
    """Pages one idle sweep must read: users, groups (+ the server's default group), MQ."""
    return {
        "list_users": max(1, math.ceil(settings["objects_vpn_users"] / VPN_PAGE_SIZE)),
        "list_groups": max(1, math.ceil((settings["groups"] + 1) / VPN_PAGE_SIZE)),
        "list_mq_users": max(1, math.ceil(settings["objects_mq_users"] / MQ_PAGE_SIZE)),
    }


def summarize(settings: dict[str, Any], engine: dict[str, Any],
              baseline: dict[str, Any] | None) -> dict[str, Any]:
    pages = expected_sweep_pages(settings)
    drift = engine["drift"]
    summary: dict[str, Any] = {
        "objects": settings["objects"],
        "converge_s": engine["converge_s"],
        "theoretical_min_s": settings["theoretical_min_s"],
        "ratio_to_min": round(engine["converge_s"] / settings["theoretical_min_s"], 3),
        "baseline_converge_s": baseline["converge_s"] if baseline else None,
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
        "settings": {k: v for k, v in settings.items() if k != "timeout"},
        "engine": engine,
        "baseline": baseline,
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": _source(),
        "machine": {"cpus": os.cpu_count(), "loadavg": os.getloadavg()},
    }
    return summary


def _source() -> dict[str, Any]:
    """Which operator code was measured (others may be changing the tree meanwhile)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout

    return {"commit": git("rev-parse", "--short", "HEAD").strip(),
            "uncommitted_operator_files": git("status", "--porcelain", "--", "operator").split(
                "\n")[:-1]}


TARGETS = [
    ("ratio_to_min", "<=", 1.15),
    ("speedup_vs_baseline", ">=", 2.0),
    ("cloud_calls_per_object", "<=", 2.5),
    ("busy_ratio", "<=", 0.05),
    ("operator_rss_mb", "<=", 200.0),  # the target is stated at 5,000 objects
]


def table(summary: dict[str, Any]) -> str:
    s = summary
    e, b = s["engine"], s["baseline"]
    rows = [
        ("objects", s["objects"], b and s["objects"]),
        ("converge_s", s["converge_s"], s["baseline_converge_s"]),
        ("theoretical_min_s", s["theoretical_min_s"], s["theoretical_min_s"]),
        ("ratio_to_min", s["ratio_to_min"],
         b and round(b["converge_s"] / s["theoretical_min_s"], 3)),
        ("speedup_vs_baseline", s["speedup_vs_baseline"], None),
        ("cloud_calls_per_object", s["cloud_calls_per_object"], b and b["cloud_calls_per_object"]),
        ("create_calls_per_object", s["create_calls_per_object"],
         b and b["create_calls_per_object"]),
        ("busy_ratio (VPN.0030 share)", s["busy_ratio"], b and b["busy_ratio"]),
        ("operator_rss_mb (peak)", s["operator_rss_mb"], b and b["operator_rss_mb"]),
        ("operator_rss_mb (idle, before)", e.get("operator_rss_idle_mb"),
         b and b.get("operator_rss_idle_mb")),
        ("operator open sockets (peak)", e.get("operator_peak_sockets"),
         b and b.get("operator_peak_sockets")),
        ("  to kube-apiserver at the peak", e.get("operator_connections_at_peak", {}).get(
            "kube-apiserver"), b and b.get("operator_connections_at_peak", {}).get(
            "kube-apiserver")),
        ("  to the emulator at the peak", e.get("operator_connections_at_peak", {}).get(
            "emulator"), b and b.get("operator_connections_at_peak", {}).get("emulator")),
        ("operator threads (peak)", e.get("operator_peak_threads"),
         b and b.get("operator_peak_threads")),
        ("vpn creates accepted/s (avg)", e.get("vpn_create_rate_avg_per_s"),
         b and b.get("vpn_create_rate_avg_per_s")),
        ("vpn creates accepted/s (best 5s)", e.get("vpn_create_rate_best_5s_per_s"),
         b and b.get("vpn_create_rate_best_5s_per_s")),
        ("vpn queue rate/s (capacity/delay)", e.get("vpn_queue_rate_per_s"), None),
        ("all vpn creates accepted at s", e.get("vpn_creates_all_accepted_s"),
         b and b.get("vpn_creates_all_accepted_s")),
        ("operator_cpu_s (to Ready)", e["cpu_s_at_converge"].get("operator"),
         b and b["cpu_s_at_converge"].get("operator")),
        ("emulator_cpu_s (to Ready)", e["cpu_s_at_converge"].get("emulator"),
         b and b["cpu_s_at_converge"].get("emulator")),
        ("apiserver_cpu_s (to Ready)", e["cpu_s_at_converge"].get("kube-apiserver"),
         b and b["cpu_s_at_converge"].get("kube-apiserver")),
        ("machine_cpu_busy_share", e["machine_cpu_busy_share"],
         b and b["machine_cpu_busy_share"]),
        ("apiserver requests/object (not harness)",
         e.get("apiserver_requests_by_operator_per_object"),
         b and b.get("apiserver_requests_by_operator_per_object")),
        ("apiserver PATCHes/object", e.get("apiserver_patches_per_object"),
         b and b.get("apiserver_patches_per_object")),
        ("drift_sweep_calls", s["drift_sweep_calls"], None),
        ("drift_sweep_pages (expected)", s["drift_sweep_pages"], None),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{s['objects']} objects; apply_delay {s['settings']['apply_delay']}s, "
             f"queue_capacity {s['settings']['queue_capacity']}"
             + (f"; PROFILED ({s['settings']['profile']}): timings are not comparable"
                if s["settings"].get("profile") else ""),
             f"{'figure':<{width}}  {'operator':>12}  {'baseline':>12}",
             f"{'-' * width}  {'-' * 12}  {'-' * 12}"]
    for name, engine_value, baseline_value in rows:
        lines.append(f"{name:<{width}}  {_fmt(engine_value):>12}  {_fmt(baseline_value):>12}")
    lines.append("")
    lines.append("calls per object by operation (operator): " + ", ".join(
        f"{op} {n}" for op, n in sorted(s["calls_per_object_by_operation"].items())))
    if b:
        lines.append("calls per object by operation (baseline): " + ", ".join(
            f"{op} {n}" for op, n in sorted(b["calls_per_object_by_operation"].items())))
    lines.append(f"reconcile passes by result (operator): {e['reconciles']}")
    lines.append(f"API server requests (operator run): {e.get('apiserver_requests')}")
    if b:
        lines.append(f"API server requests (baseline run): {b.get('apiserver_requests')}")
    lines.append(f"drift sweep: {e['drift']}")
    lines.append("")
    for key, op, limit in TARGETS:
        value = s.get(key)
        if value is None:
            verdict = "not measured"
        else:
            ok = value <= limit if op == "<=" else value >= limit
            verdict = "met" if ok else "MISSED"
        lines.append(f"target {key} {op} {limit}: {_fmt(value)} {verdict}")
    lines.append(f"target drift_sweep_calls = pages + constant: {s['drift_sweep_calls']} = "
                 f"{s['drift_sweep_pages']} pages + {s['drift_sweep_constant']}")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None or value is False:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def main() -> int:
    settings = settings_from_env()
    OUT.mkdir(exist_ok=True)
    logs = OUT / "logs"
    logs.mkdir(exist_ok=True)
    log(f"settings: {json.dumps({k: v for k, v in settings.items()})}")
    reuse = os.environ.get("BENCH_TESTBED_DIR")
    if not reuse and (OUT / "testbed").exists():  # left over by an interrupted run
        subprocess.run([str(ROOT / "tools" / "testbed"), "down", "--dir", str(OUT / "testbed")],
                       check=False, capture_output=True)
        shutil.rmtree(OUT / "testbed", ignore_errors=True)
    testbed = Testbed(Path(reuse)) if reuse else start_testbed(OUT / "testbed")
    keep = bool(reuse) or os.environ.get("BENCH_KEEP") == "1"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        testbed.kubectl("apply", "--server-side", "--force-conflicts", "-f",
                        str(ROOT / "deploy" / "crds"))
        testbed.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f",
                        str(ROOT / "deploy" / "crds"))
        engine = run_one("operator", testbed, settings, naive=False, logs=logs)
        baseline = None
        if settings["baseline"]:
            baseline = run_one("baseline", testbed, settings, naive=True, logs=logs)
        summary = summarize(settings, engine, baseline)
        text = json.dumps(summary, indent=2, default=str)
        (OUT / "latest.json").write_text(text)
        (OUT / f"run-{time.strftime('%Y%m%d-%H%M%S')}-n{settings['objects']}.json").write_text(text)
        print()
        print(table(summary))
        print(f"\nwrote {OUT / 'latest.json'} (logs in {logs})")
    finally:
        if not keep:
            stop_testbed(testbed.dir)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as failure:  # a timeout waiting for Ready: say where it stood
        log(f"FAILED: {failure}")
        sys.exit(1)

