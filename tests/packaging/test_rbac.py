"""The chart installed into a real API server, and the operator run with the chart's
ServiceAccount identity (a token from `kubectl create token`) and the chart's own arguments:
the seed flows must pass with exactly those permissions, and the identity must not be able
to do more than the operator needs.

This module starts a test bed of its own: the e2e suite's operator watches every namespace of
the session's test bed, and two operators on one object break each other's assertions."""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.packaging.chart import CHART, ROOT, VALUE_SETS
from tests.support.emulator import SESSION_CONFIG, EmulatorProcess, free_port
from tests.support.operator import OperatorProcess, operator_env, wait_ready
from tests.support.testbed import CRDS, Testbed, start_testbed, stop_testbed

from hwcloud_access.api.base import STATUS_BEFORE_FIRST_PASS
from hwcloud_access.reconcile.kube import CREDENTIALS_SELECTOR

pytestmark = pytest.mark.e2e

API = "access.hwcloud.dev/v1alpha1"
SERVER = "6f1c1e2a-8d0b-4c59-9b0e-3c2a7f5d9a01"
INSTANCE = "11a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8"
# What kopf says when RBAC is short of what it needs (it carries on, degraded).
SHORT_OF_PERMISSIONS = ("Forbidden", "forbidden", " 403", "Not enough permissions")
SECRET_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete",
                "deletecollection")


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    state = tmp_path_factory.mktemp("packaging-testbed")
    testbed = start_testbed(state)
    try:
        yield testbed
    finally:
        stop_testbed(state)


@dataclass
class Release:
    testbed: Testbed
    name: str
    namespace: str
    service_account: str
    kubeconfig: Path  # the ServiceAccount's identity, nothing else
    args: list[str]  # the Deployment's container args, with free local ports

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"

    def can(self, verb: str, resource: str, namespace: str | None = None) -> bool:
        """`kubectl auth can-i` as the ServiceAccount (the admin impersonates it)."""
        scope = ["-n", namespace] if namespace else ["--all-namespaces"]
        result = self.testbed.kubectl("auth", "can-i", verb, resource, *scope,
                                      f"--as={self.user}", check=False)
        assert result.stdout.strip() in ("yes", "no"), result.stderr
        return result.stdout.strip() == "yes"

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """kubectl with the ServiceAccount's own token."""
        env = {**self.testbed.env(), "KUBECONFIG": str(self.kubeconfig)}
        return subprocess.run([str(self.testbed.bin / "kubectl"), *args], text=True,
                              capture_output=True, env=env, timeout=60)

    def operator(self, emulator: EmulatorProcess, log: Path) -> OperatorProcess:
        """`hwcloud-access run` as the pod would run it: the chart's args, its identity,
        POD_NAMESPACE from the downward API; the default account points at the emulator."""
        env = {**operator_env(self.testbed, emulator), "KUBECONFIG": str(self.kubeconfig),
               "POD_NAMESPACE": self.namespace}
        return OperatorProcess(env, log, *map(self._local_ports, self.args))

    @staticmethod
    def _local_ports(arg: str) -> str:
        """Pods have a network each; local processes need ports of their own."""
        if arg.startswith("--liveness="):
            return f"--liveness=http://127.0.0.1:{free_port()}/healthz"
        if arg.startswith("--metrics-port="):
            return f"--metrics-port={free_port()}"
        return arg


def install(testbed: Testbed, name: str, namespace: str, values: dict, tmp: Path) -> Release:
    values_file = tmp / f"{name}-values.json"
    values_file.write_text(json.dumps(values))
    result = subprocess.run(
        [str(testbed.bin / "helm"), "install", name, str(CHART), "--namespace", namespace,
         "--create-namespace", "-f", str(values_file)],
        text=True, capture_output=True, env=testbed.env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"installed as {name}-hwcloud-access-operator in {namespace}" in result.stdout  # NOTES
    fullname = f"{name}-hwcloud-access-operator"
    deployment = json.loads(testbed.kubectl("get", "deployment", fullname, "-n", namespace,
                                            "-o", "json").stdout)
    pod = deployment["spec"]["template"]["spec"]
    args = list(pod["containers"][0]["args"])
    account = pod["serviceAccountName"]
    token = testbed.kubectl("create", "token", account, "-n", namespace,
                            "--duration=1h").stdout.strip()
    admin = json.loads(testbed.kubeconfig.read_text())
    kubeconfig = tmp / f"{name}-serviceaccount.kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "sa",
        "clusters": admin["clusters"],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": admin["clusters"][0]["name"],
                                                "user": "sa", "namespace": namespace}}],
    }))
    return Release(testbed, name, namespace, account, kubeconfig, args)


@pytest.fixture(scope="module")
def cluster_release(bed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Release:
    return install(bed, "hw", "hwcloud-system", VALUE_SETS["default"],
                   tmp_path_factory.mktemp("hw"))


@pytest.fixture(scope="module")
def namespaced_release(bed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Release:
    """Watching team-a and team-b only, two replicas (so kopf peering, KopfPeering objects)."""
    for namespace in ("team-a", "team-b", "team-c"):
        bed.kubectl("create", "namespace", namespace)
    return install(bed, "hwns", "hwcloud-ops", VALUE_SETS["namespaced-peering"],
                   tmp_path_factory.mktemp("hwns"))


def seed_flows(testbed: Testbed, emulator: EmulatorProcess, ns: str,
               account: str | None = None) -> None:
    """A VpnUserGroup, a VpnUser in it with a generated password, an MqUser with a generated
    secret key (through `account` if given): all Ready, and the cloud has what the Secrets say."""
    tag = uuid.uuid4().hex[:8]
    ref = {"accountRef": {"name": account}} if account else {}
    testbed.apply({"apiVersion": API, "kind": "VpnUserGroup", "metadata": {"name": "devs"},
                   "spec": {"vpnServerId": SERVER, "name": f"devs-{tag}", **ref}}, ns)
    testbed.apply({"apiVersion": API, "kind": "VpnUser", "metadata": {"name": "alice"},
                   "spec": {"vpnServerId": SERVER, "name": f"alice-{tag}",
                            "groupRef": {"name": "devs"}, **ref}}, ns)
    testbed.apply({"apiVersion": API, "kind": "MqUser", "metadata": {"name": "orders"},
                   "spec": {"instanceId": INSTANCE, "accessKey": f"orders_{tag}",
                            "defaultTopicPerm": "SUB", **ref}}, ns)
    wait_ready(testbed, "VpnUserGroup", "devs", ns)
    alice = wait_ready(testbed, "VpnUser", "alice", ns)
    orders = wait_ready(testbed, "MqUser", "orders", ns)
    password = read_secret(testbed, ns, alice["status"]["credentialsSecret"])["password"]
    assert emulator.check_password(f"alice-{tag}", password)
    secret_key = read_secret(testbed, ns, orders["status"]["credentialsSecret"])["secretKey"]
    assert emulator.check_mq_secret(f"orders_{tag}", secret_key)
    # kopf posted the operator's Events (create on events).
    reasons = testbed.kubectl("get", "events", "-n", ns, "-o",
                              "jsonpath={.items[*].reason}").stdout.split()
    assert "Created" in reasons


def read_secret(testbed: Testbed, namespace: str, name: str) -> dict[str, str]:
    obj = testbed.get("secret", name, namespace)
    assert obj is not None, f"Secret {namespace}/{name} missing"
    return {key: base64.b64decode(value).decode() for key, value in obj["data"].items()}


def assert_no_permission_trouble(operator: OperatorProcess) -> None:
    log = operator.log()
    trouble = [line for line in log.splitlines() if any(s in line for s in SHORT_OF_PERMISSIONS)]
    assert not trouble, "\n".join(trouble[:20])


# ------------------------------------------------------------------ all namespaces
def test_cluster_wide_identity_runs_the_seed_flows(cluster_release: Release,
                                                   emulator: EmulatorProcess,
                                                   tmp_path: Path) -> None:
    release, testbed = cluster_release, cluster_release.testbed
    assert "--all-namespaces" in release.args
    testbed.kubectl("create", "namespace", "apps")
    operator = release.operator(emulator, tmp_path / "operator.log").start()
    try:
        seed_flows(testbed, emulator, "apps")
        # Created on first start, in its own namespace (get + create on Secrets there).
        assert testbed.get("secret", "hwcloud-access-fingerprint-key", release.namespace)
        assert_no_permission_trouble(operator)
    finally:
        operator.stop()


def test_cluster_wide_identity_cannot_do_more(cluster_release: Release) -> None:
    can = cluster_release.can
    assert can("list", "secrets") and can("create", "secrets", "apps")  # needed, see README
    assert can("patch", "vpnusers.access.hwcloud.dev/status", "apps")
    for verb, resource in [("update", "secrets"), ("patch", "secrets"), ("delete", "secrets"),
                           ("create", "vpnusers.access.hwcloud.dev"),
                           ("update", "vpnusers.access.hwcloud.dev"),
                           ("delete", "mqusers.access.hwcloud.dev"),
                           ("delete", "huaweicloudaccounts.access.hwcloud.dev"),
                           ("get", "configmaps"), ("list", "pods"), ("create", "pods"),
                           ("get", "namespaces"), ("update", "namespaces"),
                           ("create", "customresourcedefinitions"),
                           ("create", "clusterroles"), ("create", "rolebindings"),
                           ("create", "serviceaccounts/token"), ("list", "events")]:
        assert not can(verb, resource), f"{cluster_release.user} may {verb} {resource}"


# ------------------------------------------------------------------ watched namespaces
def test_namespaced_identity_runs_the_seed_flows(namespaced_release: Release,
                                                 emulator: EmulatorProcess,
                                                 tmp_path: Path) -> None:
    release, testbed = namespaced_release, namespaced_release.testbed
    assert {"--namespace=team-a", "--namespace=team-b"} <= set(release.args)
    assert "--peering=hwns-hwcloud-access-operator" in release.args
    info = emulator.config
    # An account whose credentials Secret lives in the operator's own namespace.
    testbed.apply({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "emulator-aksk", "namespace": release.namespace},
                   "stringData": {"accessKey": info.access_key, "secretKey": info.secret_key}})
    testbed.apply({"apiVersion": API, "kind": "HuaweiCloudAccount",
                   "metadata": {"name": "pkg-emulator"},
                   "spec": {"region": info.region, "projectId": info.project_id,
                            "credentialsSecretRef": {"name": "emulator-aksk",
                                                     "namespace": release.namespace},
                            "endpoints": {"vpn": emulator.url, "dms": emulator.url,
                                          "iam": emulator.url}}})
    # Outside the watched namespaces: must be left alone.
    testbed.apply({"apiVersion": API, "kind": "VpnUserGroup", "metadata": {"name": "ignored"},
                   "spec": {"vpnServerId": SERVER, "name": f"ignored-{uuid.uuid4().hex[:8]}"}},
                  "team-c")
    operator = release.operator(emulator, tmp_path / "operator.log").start()
    try:
        wait_ready(testbed, "HuaweiCloudAccount", "pkg-emulator", "")
        seed_flows(testbed, emulator, "team-a", account="pkg-emulator")
        seed_flows(testbed, emulator, "team-b")  # the default account (HW_* environment)
        assert testbed.get("secret", "hwcloud-access-fingerprint-key", release.namespace)
        ignored = testbed.get("VpnUserGroup", "ignored", "team-c")
        assert ignored["status"] == STATUS_BEFORE_FIRST_PASS, "untouched: the CRD's default"
        assert not ignored["metadata"].get("finalizers")
        # kopf's keep-alive landed in the KopfPeering of each watched namespace.
        for namespace in ("team-a", "team-b"):
            peering = testbed.get("kopfpeering", "hwns-hwcloud-access-operator", namespace)
            assert peering.get("status"), f"no keep-alive in {namespace}"
        assert_no_permission_trouble(operator)
    finally:
        operator.stop()


def test_namespaced_identity_cannot_reach_other_namespaces(namespaced_release: Release) -> None:
    release = namespaced_release
    can = release.can
    assert can("get", "secrets", "team-a") and can("list", "secrets", "team-b")
    assert can("patch", "vpnusers.access.hwcloud.dev", "team-a")
    assert can("get", "secrets", release.namespace) and can("create", "secrets",
                                                             release.namespace)
    assert can("patch", "huaweicloudaccounts.access.hwcloud.dev")  # cluster-scoped kind
    for verb, resource, namespace in [
            ("get", "secrets", "team-c"), ("list", "secrets", None),
            ("list", "secrets", release.namespace), ("watch", "secrets", "default"),
            ("create", "secrets", "team-c"), ("list", "vpnusers.access.hwcloud.dev", "team-c"),
            ("patch", "mqusers.access.hwcloud.dev", "team-c"),
            ("list", "vpnusergroups.access.hwcloud.dev", None),
            ("create", "events", "team-c"), ("delete", "secrets", "team-a"),
            ("update", "secrets", "team-a"), ("delete", "vpnusers.access.hwcloud.dev", "team-a"),
            ("patch", "clusterkopfpeerings.kopf.dev", None)]:
        assert not can(verb, resource, namespace), \
            f"{release.user} may {verb} {resource} in {namespace or 'all namespaces'}"
    # And an actual request with its token, refused by the API server.
    refused = release.kubectl("get", "secret", "anything", "-n", "team-c")
    assert refused.returncode != 0 and "Forbidden" in refused.stderr, refused.stderr
    refused = release.kubectl("get", "secrets", "--all-namespaces")
    assert refused.returncode != 0 and "Forbidden" in refused.stderr, refused.stderr


def readme_permission(resource: str) -> tuple[set[str], str]:
    """(verbs, why) of the resource's row in the README's permissions table."""
    for line in (ROOT / "README.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] == f"`{resource}`":
            return {verb.strip() for verb in cells[1].split(",")}, cells[2]
    raise AssertionError(f"no `{resource}` row in the README's permissions table")


def test_secret_permissions_are_the_readmes(cluster_release: Release,
                                            namespaced_release: Release) -> None:
    """get, list, watch, create on Secrets, wherever the operator watches (RBAC can narrow
    neither get to the names specs give nor list/watch to the label its watch selects), and
    get, create only in its own namespace with watchNamespaces."""
    verbs, why = readme_permission("secrets")
    assert verbs == {"get", "list", "watch", "create"}
    assert CREDENTIALS_SELECTOR in why
    for verb in SECRET_VERBS:
        assert cluster_release.can(verb, "secrets") == (verb in verbs), verb
        for namespace in ("team-a", "team-b"):
            assert namespaced_release.can(verb, "secrets", namespace) == (verb in verbs), \
                (verb, namespace)
        assert namespaced_release.can(verb, "secrets", namespaced_release.namespace) == \
            (verb in ("get", "create")), verb
        assert not namespaced_release.can(verb, "secrets", "team-c"), verb


def test_two_replicas_one_acts(namespaced_release: Release, tmp_path: Path) -> None:
    """The chart's two replicas on its KopfPeerings: a group gets Ready, and only one replica
    called the cloud (each has an access key of its own: the emulator counts by key)."""
    release, testbed = namespaced_release, namespaced_release.testbed
    keys = {name: {"access_key": f"HWREPLICAAK00000000{number}",
                   "secret_key": f"replicaSecretKey{number}" + "0" * 30}
            for number, name in enumerate(("first", "second"), 1)}
    replicas: list[OperatorProcess] = []
    with EmulatorProcess({**SESSION_CONFIG, "credentials": list(keys.values())}) as emulator:
        try:
            for name, key in keys.items():
                replica = release.operator(emulator, tmp_path / f"{name}.log")
                replica.env.update(HW_ACCESS_KEY=key["access_key"],
                                   HW_SECRET_KEY=key["secret_key"])
                replicas.append(replica.start())
            testbed.apply({"apiVersion": API, "kind": "VpnUserGroup",
                           "metadata": {"name": "peer"},
                           "spec": {"vpnServerId": SERVER,
                                    "name": f"peer-{uuid.uuid4().hex[:8]}"}}, "team-b")
            wait_ready(testbed, "VpnUserGroup", "peer", "team-b", timeout=30)
            callers = emulator.stats()["clients"]
            assert len(callers) == 1, f"both replicas called the cloud: {callers}"
        finally:
            for replica in replicas:
                replica.stop()


def test_crds_installed_by_the_chart_are_the_generated_ones(bed: Testbed,
                                                            cluster_release: Release) -> None:
    for path in CRDS.glob("*.yaml"):
        result = bed.kubectl("diff", "--server-side", "--force-conflicts", "-f", str(path),
                             check=False)
        assert result.returncode == 0, f"{path.name} differs on the server:\n{result.stdout}"
