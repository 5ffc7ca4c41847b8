"""Many objects at once: manifests, bulk creation, readiness by watching, process sampling,
and the secret-leak scan. Shared by the fault suite and the benchmark (tools/bench/bench.py).

Nothing here waits per object: objects are created from a thread pool, readiness is read
from one watch per kind (a listing of 5,000 objects per second would cost the API server
more CPU than the operator it measures).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import kubernetes
import kubernetes.watch
from tests.support.testbed import Testbed

GROUP, VERSION = "access.hwcloud.dev", "v1alpha1"
API = f"{GROUP}/{VERSION}"
SERVER = "6f1c1e2a-8d0b-4c59-9b0e-3c2a7f5d9a01"
INSTANCE = "11a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8"
PLURALS = {"VpnUserGroup": "vpnusergroups", "VpnUser": "vpnusers", "MqUser": "mqusers"}
MANAGED = "vpnusergroups,vpnusers,mqusers"
SECRET_KEYS = {"VpnUser": "password", "MqUser": "secretKey"}  # the owned Secrets' secret key
FIGURES: dict[str, Any] = {}  # the fault suite's figures, printed by its conftest


def faults_size() -> int:
    """Objects in the fault suite's run: HWCLOUD_FAULTS_N (default 60; `make faults`: 1000)."""
    return int(os.environ.get("HWCLOUD_FAULTS_N", "60"))


# -- manifests ----------------------------------------------------------------------------
def fleet(users: int, mq_users: int, groups: int = 2, *, prefix: str = "",
          account: str | None = None, server: str = SERVER,
          instance: str = INSTANCE) -> list[dict[str, Any]]:
    """`groups` VpnUserGroups, `users` VpnUsers spread over them (groupRef), `mq_users`
    MqUsers; generated credentials. Cloud names carry `prefix`; `account` sets accountRef."""
    extra = {"accountRef": {"name": account}} if account else {}
    out: list[dict[str, Any]] = []
    for g in range(groups):
        out.append({"apiVersion": API, "kind": "VpnUserGroup",
                    "metadata": {"name": f"{prefix}grp-{g}"},
                    "spec": {"vpnServerId": server, "name": f"{prefix}grp-{g}",
                             "description": f"bench group {g}", **extra}})
    for u in range(users):
        spec: dict[str, Any] = {"vpnServerId": server, "name": f"{prefix}u{u:05d}",
                                "description": f"user {u}", **extra}
        if groups:
            spec["groupRef"] = {"name": f"{prefix}grp-{u % groups}"}
        out.append({"apiVersion": API, "kind": "VpnUser",
                    "metadata": {"name": f"{prefix}u-{u:05d}"}, "spec": spec})
    for m in range(mq_users):
        out.append({"apiVersion": API, "kind": "MqUser",
                    "metadata": {"name": f"{prefix}mq-{m:05d}"},
                    "spec": {"instanceId": instance, "accessKey": f"{prefix}mquser{m:05d}",
                             "defaultTopicPerm": "PUB|SUB", "defaultGroupPerm": "SUB",
                             "topicPerms": [{"name": "orders", "perm": "PUB"}], **extra}})
    return out


def iam_account(name: str, namespace: str, endpoint: str, *, region: str, project_id: str,
                domain: str, user: str, password: str) -> list[dict[str, Any]]:
    """A HuaweiCloudAccount with authType IAMPassword and its credentials Secret."""
    secret = f"{name}-iam"
    return [
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": secret, "namespace": namespace},
         "data": {k: base64.b64encode(v.encode()).decode()
                  for k, v in {"domain": domain, "user": user, "password": password}.items()}},
        {"apiVersion": API, "kind": "HuaweiCloudAccount", "metadata": {"name": name},
         "spec": {"region": region, "projectId": project_id, "authType": "IAMPassword",
                  "credentialsSecretRef": {"name": secret, "namespace": namespace},
                  "endpoints": {"vpn": endpoint, "dms": endpoint, "iam": endpoint}}},
    ]


# -- the API server -----------------------------------------------------------------------
def api_client(testbed: Testbed, pool: int = 32) -> kubernetes.client.ApiClient:
    config = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(str(testbed.kubeconfig), client_configuration=config)
    config.connection_pool_maxsize = pool
    return kubernetes.client.ApiClient(config)


def _retried(call: Callable[[], Any], ignored: int) -> None:
    """One API call, tried again on 5xx and 429 (the API server under load); an answer of
    status `ignored` (409 to a create, 404 to a delete) counts as done."""
    for attempt in range(5):
        try:
            call()
            return
        except kubernetes.client.ApiException as error:
            if error.status == ignored:
                return
            if error.status < 500 and error.status != 429 or attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def _in_pool(calls: Iterable[Callable[[], None]], threads: int) -> float:
    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda call: call(), calls))
    return time.monotonic() - started


def create_all(client: kubernetes.client.ApiClient, namespace: str,
               objects: Iterable[dict[str, Any]], threads: int = 16) -> float:
    """POSTs every object (a pool of `threads`); returns the seconds it took."""
    custom = kubernetes.client.CustomObjectsApi(client)
    core = kubernetes.client.CoreV1Api(client)

    def create(obj: dict[str, Any]) -> None:
        kind = obj["kind"]
        if kind == "Secret":
            core.create_namespaced_secret(obj["metadata"].get("namespace", namespace), obj)
        elif kind == "HuaweiCloudAccount":
            custom.create_cluster_custom_object(GROUP, VERSION, "huaweicloudaccounts", obj)
        else:
            custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURALS[kind], obj)

    return _in_pool((functools.partial(_retried, functools.partial(create, obj), 409)
                     for obj in objects), threads)


def delete_all(client: kubernetes.client.ApiClient, namespace: str,
               objects: Iterable[dict[str, Any]], threads: int = 16) -> float:
    """DELETEs every custom object (a pool of `threads`; kubectl deletes one at a time, and a
    deletecollection of 1,000 objects outlasts the API server's request timeout under load);
    returns the seconds it took."""
    custom = kubernetes.client.CustomObjectsApi(client)
    return _in_pool((functools.partial(_retried, functools.partial(
        custom.delete_namespaced_custom_object, GROUP, VERSION, namespace,
        PLURALS[obj["kind"]], obj["metadata"]["name"]), 404) for obj in objects), threads)


def list_managed(testbed: Testbed, namespace: str | None) -> list[dict[str, Any]]:
    """One `kubectl get vpnusergroups,vpnusers,mqusers -o json` (all namespaces on None)."""
    scope = ["-A"] if namespace is None else ["-n", namespace]
    result = testbed.kubectl("get", MANAGED, *scope, "-o", "json")
    return json.loads(result.stdout)["items"]


def is_ready(obj: dict[str, Any]) -> bool:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True" and \
                cond.get("observedGeneration") == obj["metadata"].get("generation")
    return False


def reasons(objects: Iterable[dict[str, Any]]) -> dict[str, int]:
    """How many objects have each Ready reason (not-Ready ones only)."""
    out: dict[str, int] = {}
    for obj in objects:
        if is_ready(obj):
            continue
        reason = "NoCondition"
        for cond in (obj.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Ready":
                reason = cond.get("reason") or "?"
        out[reason] = out.get(reason, 0) + 1
    return out


class ReadyWatch:
    """The managed objects of a namespace (None: all) as the API server streams them: one
    thread per kind lists once, then watches, and lists again when the watch expires."""

    def __init__(self, client: kubernetes.client.ApiClient, namespace: str | None) -> None:
        self._custom = kubernetes.client.CustomObjectsApi(client)
        self._namespace = namespace
        self._objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._follow, args=(plural,), daemon=True)
                         for plural in PLURALS.values()]
        self._listed: set[str] = set()

    def __enter__(self) -> ReadyWatch:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()  # the threads end with their current watch (daemon threads)

    def _list_call(self, plural: str) -> Callable[..., Any]:
        if self._namespace is None:
            return functools.partial(self._custom.list_cluster_custom_object, GROUP, VERSION,
                                     plural)
        return functools.partial(self._custom.list_namespaced_custom_object, GROUP, VERSION,
                                 self._namespace, plural)

    def _follow(self, plural: str) -> None:
        list_call = self._list_call(plural)
        while not self._stop.is_set():
            try:
                listing = list_call()
                with self._lock:
                    for key in [k for k in self._objects if k[0] == plural]:
                        del self._objects[key]
                    for obj in listing["items"]:
                        self._objects[self._key(plural, obj)] = obj
                    self._listed.add(plural)
                stream = kubernetes.watch.Watch().stream(
                    list_call, resource_version=listing["metadata"]["resourceVersion"],
                    timeout_seconds=30)
                for event in stream:
                    obj = event["object"]
                    with self._lock:
                        if event["type"] == "DELETED":
                            self._objects.pop(self._key(plural, obj), None)
                        elif event["type"] in ("ADDED", "MODIFIED"):
                            self._objects[self._key(plural, obj)] = obj
                    if self._stop.is_set():
                        return
            except Exception:  # noqa: BLE001 - expired watch or API hiccup: list again
                self._stop.wait(0.5)

    @staticmethod
    def _key(plural: str, obj: dict[str, Any]) -> tuple[str, str, str]:
        meta = obj["metadata"]
        return plural, meta.get("namespace", ""), meta["name"]

    def items(self) -> list[dict[str, Any]] | None:
        """Every object now, or None until each kind has been listed once."""
        with self._lock:
            if len(self._listed) < len(self._threads):
                return None
            return list(self._objects.values())


@dataclass
class Progress:
    """Readiness over time, read from the watches."""

    started: float  # monotonic time of the first create
    timeline: list[tuple[float, int]] = field(default_factory=list)  # (seconds, ready)
    converged: float | None = None  # seconds from `started` to the first look with all Ready
    last: list[dict[str, Any]] = field(default_factory=list)


def wait_all_ready(testbed: Testbed, namespace: str | None, expected: int, *, started: float,
                   timeout: float, interval: float = 1.0,
                   on_poll: Callable[[Progress, int], None] | None = None) -> Progress:
    """Looks at the watched objects every `interval` until `expected` are Ready."""
    progress = Progress(started)
    deadline = time.monotonic() + timeout
    with ReadyWatch(api_client(testbed, pool=4), namespace) as watch:
        while True:
            looked = time.monotonic()
            items = watch.items()
            if items is not None:
                ready = sum(map(is_ready, items))
                progress.timeline.append((round(looked - started, 2), ready))
                progress.last = items
                if on_poll is not None:
                    on_poll(progress, ready)
                if ready >= expected and len(items) >= expected:
                    progress.converged = looked - started
                    return progress
            if time.monotonic() > deadline:
                raise AssertionError(f"{ready if items else 0}/{expected} Ready after "
                                     f"{timeout:.0f}s; not Ready by reason: "
                                     f"{reasons(items or [])}")
            time.sleep(max(0.0, interval - (time.monotonic() - looked)))


# -- /proc sampling -----------------------------------------------------------------------
CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def proc_rss_mb(pid: int) -> tuple[float, float] | None:
    """(VmRSS, VmHWM) in MiB."""
    values: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, amount = line.split(":", 1)
                    values[key] = int(amount.split()[0]) / 1024
    except OSError:
        return None
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def proc_fds(pid: int) -> tuple[int, int]:
    """(open sockets, threads) of a process."""
    sockets = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                sockets += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
            except OSError:
                pass
        threads = len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0, 0
    return sockets, threads


def socket_peers(pid: int) -> dict[int, int]:
    """The process's TCP connections by remote port (from /proc/net/tcp and its fds)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return {}
    peers: dict[int, int] = {}
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as handle:
                next(handle)
                for line in handle:
                    fields = line.split()
                    if fields[9] in inodes:
                        port = int(fields[2].rsplit(":", 1)[1], 16)
                        peers[port] = peers.get(port, 0) + 1
        except OSError:
            continue
    return peers


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as handle:
        parts = [int(x) for x in handle.readline().split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


class Sampler(threading.Thread):
    """Samples RSS and CPU of some processes every `interval` seconds until stopped."""

    def __init__(self, pids: dict[str, int], interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pids = dict(pids)
        self.interval = interval
        self.peak_rss: dict[str, float] = {name: 0.0 for name in pids}
        self.hwm: dict[str, float] = {name: 0.0 for name in pids}
        self.cpu: dict[str, float] = {}
        self.peak_sockets: dict[str, int] = {name: 0 for name in pids}
        self.peak_threads: dict[str, int] = {name: 0 for name in pids}
        self.peers_at_peak: dict[int, int] = {}  # the operator's connections by remote port
        self.cpu_start = {name: proc_cpu_seconds(pid) or 0.0 for name, pid in pids.items()}
        self.machine_start = machine_cpu()
        self.samples = 0
        self._stop_event = threading.Event()

    def sample(self) -> None:
        for name, pid in self.pids.items():
            rss = proc_rss_mb(pid)
            if rss is not None:
                self.peak_rss[name] = max(self.peak_rss[name], rss[0])
                self.hwm[name] = max(self.hwm[name], rss[1])
            sockets, threads = proc_fds(pid)
            if sockets > self.peak_sockets[name] and name == "operator":
                self.peers_at_peak = socket_peers(pid)
            self.peak_sockets[name] = max(self.peak_sockets[name], sockets)
            self.peak_threads[name] = max(self.peak_threads[name], threads)
            cpu = proc_cpu_seconds(pid)
            if cpu is not None:
                self.cpu[name] = cpu - self.cpu_start[name]
        self.samples += 1

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def machine_busy(self) -> float:
        """Share of the machine's CPU time (all cores) that was busy since the start."""
        busy, total = machine_cpu()
        return (busy - self.machine_start[0]) / max(1, total - self.machine_start[1])

    def stop(self) -> None:
        self.sample()
        self._stop_event.set()
        self.join(5)


# -- secret leaks -------------------------------------------------------------------------
def owned_secret_values(testbed: Testbed, namespace: str,
                        objects: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Every generated password / secret key, read from the owned Secrets: {secret: value}."""
    items = json.loads(testbed.kubectl("get", "secrets", "-n", namespace, "-o", "json").stdout)
    by_name = {s["metadata"]["name"]: s for s in items["items"]}
    out: dict[str, str] = {}
    for obj in objects:
        name = (obj.get("status") or {}).get("credentialsSecret")
        secret = by_name.get(name or "")
        if secret is None:
            continue
        key = SECRET_KEYS.get(obj["kind"], "")
        value = (secret.get("data") or {}).get(key)
        if value:
            out[f"{name}/{key}"] = base64.b64decode(value).decode()
    return out


def leaks(texts: dict[str, str], secrets: dict[str, str]) -> list[tuple[str, str]]:
    """(where, which secret) for every secret value found in any text."""
    found = []
    for where, text in texts.items():
        for which, value in secrets.items():
            if value and value in text:
                found.append((where, which))
    return found
