"""`make bench`: the operator at scale against the emulator, and a naive baseline.

    make bench                       both scenarios at their default sizes (below)
    make bench BENCH_SCENARIOS=one BENCH_SIZES=1000,2500,5000     RSS per 1,000 objects
    make bench BENCH_N=100 BENCH_MQ_N=20 BENCH_SERVERS=2 BENCH_USERS_PER_SERVER=50 \
        BENCH_INSTANCES=1 BENCH_MQ_PER_INSTANCE=10                a smoke run

Scenarios (tools/bench/layout.py; BENCH_SCENARIOS=one|many|both, default both):
- one: BENCH_N (1000) VpnUsers in BENCH_GROUPS (2) groups + BENCH_MQ_N (200) MqUsers on
  one VPN server and one RocketMQ instance; BENCH_SIZES="1000,2500,5000" runs it once per
  size (as BENCH_N) and reports the least-squares slope of peak RSS per 1,000 objects.
- many: BENCH_SERVERS (4) servers x BENCH_USERS_PER_SERVER (500) VpnUsers in
  BENCH_GROUPS_PER_SERVER (BENCH_GROUPS) groups, BENCH_INSTANCES (2) instances x
  BENCH_MQ_PER_INSTANCE (100) MqUsers, all in one emulator.

Each run, for the operator and then the baseline:
1. A real API server (tools/testbed, in .bench/testbed, shared by all runs;
   BENCH_TESTBED_DIR reuses a running one), the CRDs, a fresh emulator with the run's
   servers and instances (apply_delay BENCH_APPLY_DELAY, queue_capacity
   BENCH_QUEUE_CAPACITY) and `hwcloud-access run -n <ns> --resync-interval BENCH_RESYNC`.
2. Creates every object from a thread pool and follows them with one watch per kind
   until all are Ready; samples the operator's RSS and CPU from /proc meanwhile.
3. Idle drift sweep (the operator only): once all are Ready and the calls have stopped,
   resets the emulator's stats and watches them for two resync periods; each listing's
   sweep is one burst of list calls, so the cost of one sweep is read per burst.
4. Stops the operator; the same objects through tools/bench/naive_operator.py, against a
   fresh emulator, in a fresh namespace (BENCH_BASELINE=0 skips it).
Then prints a table per run and writes .bench/latest.json (and .bench/run-<time>.json).

Other knobs: BENCH_RESYNC (20 s), BENCH_TIMEOUT (s per run, default scales with the run),
BENCH_BASELINE_DELAY (the baseline's fixed retry delay, 1 s), BENCH_KEEP=1 keeps the test
bed running, BENCH_PROFILE=spy|cpu|mem|both profiles the operator (spy: sampling, from
outside, tools/bench/sampling.py; the others: tools/bench/profile_operator.py).
"""

from __future__ import annotations

import json
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
    proc_rss_mb,
    wait_all_ready,
)
from tests.support.emulator import EmulatorProcess, free_port  # noqa: E402
from tests.support.operator import OperatorProcess, operator_env  # noqa: E402
from tests.support.testbed import Testbed, start_testbed, stop_testbed  # noqa: E402
from tools.bench.figures import (  # noqa: E402
    by_operation,
    call_figures,
    queue_figures,
    requests_delta,
)
from tools.bench.layout import Layout, env_int, env_number, layouts_from_env  # noqa: E402
from tools.bench.report import combine, summarize, table  # noqa: E402
from tools.bench.sampling import SamplingProfile  # noqa: E402

OUT = ROOT / ".bench"
LIST_OPS = ("list_users", "list_groups", "list_mq_users")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- the operator's metrics ---------------------------------------------------------------
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
    resync periods at 0.25 s; each server's (instance's) sweep of a listing is a burst of
    its list calls on that server, and one sweep of everything is one burst of each."""
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
    previous: dict[tuple[str, str], int] = {}
    bursts: dict[tuple[str, str], list[int]] = {}  # (listing, server): calls of each sweep
    last_change: dict[tuple[str, str], float] = {}
    while time.monotonic() - started < window:
        time.sleep(0.25)
        now = time.monotonic()
        counts = {(op, target): n for target, ops in emulator.stats()["targets"].items()
                  for op, n in ops.items() if op in LIST_OPS}
        for key, n in counts.items():
            delta = n - previous.get(key, 0)
            if delta:
                if now - last_change.get(key, -1e9) > 1.0:
                    bursts.setdefault(key, []).append(0)  # a new sweep of this listing
                bursts[key][-1] += delta
                last_change[key] = now
        previous = counts
    final = emulator.stats()
    ops = by_operation(final)
    other = {op: n for op, n in ops.items() if op not in LIST_OPS}
    per_sweep = {op: sum(sum(b) / len(b) for (listing, _), b in bursts.items() if listing == op)
                 for op in LIST_OPS}
    per_period_other = sum(other.values()) * resync / window
    return {
        "window_s": round(window, 1),
        "calls_in_window": final["total"],
        "sweeps_by_listing": {op: sum(len(b) for (listing, _), b in bursts.items()
                                      if listing == op) for op in LIST_OPS},
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

    def figures(self, users: int, queue_rate: float) -> dict[str, Any]:
        """When the VPN user creates ran and how close their rate came to the queues' (all
        servers together)."""
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
            "vpn_queue_rate_per_s": round(queue_rate, 2),
            "create_series": self.series,
        }


def run_one(testbed: Testbed, settings: dict[str, Any], layout: Layout, *, naive: bool,
            logs: Path) -> dict[str, Any]:
    label = f"{layout.label}-{'baseline' if naive else 'operator'}"
    capacity, delay = settings["queue_capacity"], settings["apply_delay"]
    namespace = f"bench-{label}-{uuid.uuid4().hex[:6]}"
    testbed.kubectl("create", "namespace", namespace)
    emulator = EmulatorProcess(layout.emulator_config(delay, capacity)).start()
    env = operator_env(testbed, emulator)
    metrics_port = None if naive else free_port()
    log_path = logs / f"{label}.log"
    log_path.unlink(missing_ok=True)
    args = ["-n", namespace, "--resync-interval", str(settings["resync_interval"]),
            "--metrics-port", str(metrics_port)]
    if naive:
        env["BENCH_BASELINE_DELAY"] = str(settings["baseline_delay"])
        operator: OperatorProcess = Naive(env, log_path, "-n", namespace)
    elif settings["profile"] in ("cpu", "mem", "both"):
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
        objects = layout.manifests()
        client = api_client(testbed)
        time.sleep(2.0)  # let start-up finish: the idle RSS below is the operator's floor
        idle = proc_rss_mb(pids["operator"])
        result["operator_rss_idle_mb"] = round(idle[0], 1) if idle else None
        requests_before = apiserver_requests(testbed)
        emulator.reset_stats()
        sampler = Sampler(pids)
        sampler.start()
        started, started_wall = time.monotonic(), time.time()
        calls_sampler = StatsSampler(emulator, started, metrics_port)
        calls_sampler.start()
        sampling = SamplingProfile(operator.process.pid, OUT / "profile", label) \
            if settings["profile"] == "spy" and not naive else None
        log(f"{label}: creating {len(objects)} objects in {namespace}")
        create_s = create_all(client, namespace, objects)
        log(f"{label}: created in {create_s:.1f}s; waiting for Ready (watching)")

        def report(progress, ready: int) -> None:
            if len(progress.timeline) % 10 == 1:
                log(f"{label}: {ready}/{len(objects)} Ready at {progress.timeline[-1][0]:.0f}s")

        progress = wait_all_ready(testbed, namespace, len(objects), started=started,
                                  timeout=run_timeout(settings, layout), on_poll=report)
        converged_at = time.monotonic()
        stats = emulator.stats()
        calls_sampler.stop()
        requests = requests_delta(requests_before, apiserver_requests(testbed), len(objects))
        if sampling is not None:
            log(f"{label}: sampling profile in {sampling.stop()}")
        elif settings["profile"] and not naive:
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
            **calls_sampler.figures(layout.vpn_users,
                                    len(layout.servers) * capacity / delay if delay else 0.0),
            **requests,
            "queues": {server: queue_figures(queue, capacity, delay, started_wall)
                       for server, queue in stats["queues"]["vpn_servers"].items()},
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


# the operators' resources (the API server's own Lease renewals would count otherwise)
API_RESOURCES = ("vpnusers", "vpnusergroups", "mqusers", "secrets", "events",
                 "huaweicloudaccounts", "kopfpeerings", "clusterkopfpeerings")


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
PROFILES = ("spy", "cpu", "mem", "both")


def settings_from_env() -> dict[str, Any]:
    """What every run shares (the objects per run come from tools/bench/layout.py)."""
    return {
        "apply_delay": env_number("BENCH_APPLY_DELAY", 0.5),
        "queue_capacity": env_int("BENCH_QUEUE_CAPACITY", 10, minimum=1),
        "resync_interval": env_number("BENCH_RESYNC", 20.0, minimum=1),
        "baseline": os.environ.get("BENCH_BASELINE", "1") not in ("0", "no", "false"),
        "baseline_delay": env_number("BENCH_BASELINE_DELAY", 1.0),
        "profile": profile_from_env(),
        "timeout": env_number("BENCH_TIMEOUT", 0.0) or None,
    }


def profile_from_env() -> str | None:
    profile = os.environ.get("BENCH_PROFILE", "").strip() or None
    if profile not in (None, *PROFILES):
        raise SystemExit(f"BENCH_PROFILE={profile!r}: one of {', '.join(PROFILES)}")
    return profile


def run_timeout(settings: dict[str, Any], layout: Layout) -> float:
    """BENCH_TIMEOUT, else ten times the minimum plus 0.1 s per object, at least 10 min."""
    minimum = layout.theoretical_min_s(settings["queue_capacity"], settings["apply_delay"])
    return settings["timeout"] or max(600.0, 10 * minimum + layout.objects / 10)


def _source() -> dict[str, Any]:
    """Which operator code was measured (others may be changing the tree meanwhile)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout

    return {"commit": git("rev-parse", "--short", "HEAD").strip(),
            "uncommitted_operator_files": git("status", "--porcelain", "--", "operator").split(
                "\n")[:-1]}


def main() -> int:
    settings = settings_from_env()
    layouts = layouts_from_env()
    OUT.mkdir(exist_ok=True)
    logs = OUT / "logs"
    logs.mkdir(exist_ok=True)
    log(f"settings: {json.dumps(settings)}; runs: "
        + "; ".join(f"{layout.label} ({layout.describe()})" for layout in layouts))
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
        runs = []
        for layout in layouts:
            engine = run_one(testbed, settings, layout, naive=False, logs=logs)
            baseline = None
            if settings["baseline"]:
                baseline = run_one(testbed, settings, layout, naive=True, logs=logs)
            runs.append({**summarize(settings, layout, engine, baseline),
                         "finished_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "machine": {"cpus": os.cpu_count(), "loadavg": os.getloadavg()}})
        latest = {**combine(runs), "source": _source()}
        text = json.dumps(latest, indent=2, default=str)
        (OUT / "latest.json").write_text(text)
        (OUT / f"run-{time.strftime('%Y%m%d-%H%M%S')}-{latest['headline_run']}.json"
         ).write_text(text)
        print()
        print(table(latest))
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

