"""Rendering the Helm chart with the real `helm` binary (the test bed's, built from its Go
module) and looking into what it renders."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "hwcloud-access-operator"
RELEASE = "hw"
NAMESPACE = "hwcloud-system"
FULLNAME = f"{RELEASE}-hwcloud-access-operator"

# The value sets the tests render, lint and install.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "namespaced": {"watchNamespaces": ["team-a", "team-b"]},
    "peering": {"replicaCount": 2},
    "namespaced-peering": {"watchNamespaces": ["team-a", "team-b"], "replicaCount": 2},
    "account-created": {"defaultAccount": {
        "create": True, "region": "cn-north-4", "projectId": "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
        "accessKey": "AKEXAMPLE", "secretKey": "sk-example",
        "endpoints": {"vpn": "https://vpn.example.test"}}},
    "account-existing": {"defaultAccount": {"existingSecret": "my-hwcloud-account"}},
    "servicemonitor": {"metrics": {"serviceMonitor": {"enabled": True,
                                                      "labels": {"release": "prometheus"}}}},
    "monitoring": {  # tests/packaging/alerts-test.yaml expects these labels and runbook URLs
        "prometheusRule": {"enabled": True, "alertLabels": {"team": "platform"},
                           "runbookBaseUrl": "https://git.example.test/platform/"
                                             "hwcloud-access-operator/-/blob/main/README.md"},
        "grafanaDashboard": {"enabled": True}},
}


@functools.cache
def bin_dir() -> Path:
    """tools/build-binaries prints the cached directory (it builds only on the first run)."""
    out = subprocess.run([str(ROOT / "tools" / "build-binaries")], check=True, text=True,
                         stdout=subprocess.PIPE, timeout=1800).stdout
    return Path(out.strip().splitlines()[-1])


@functools.cache
def kube_version() -> str:
    """The test bed's Kubernetes version. `helm template` needs it: a helm built with
    `go install` assumes v1.20, below the chart's kubeVersion."""
    gomod = (ROOT / "tools" / "kube" / "go.mod").read_text()
    match = re.search(r"^require k8s\.io/kubernetes (v[\d.]+)$", gomod, re.M)
    assert match, "k8s.io/kubernetes not pinned in tools/kube/go.mod"
    return match.group(1)


def helm(*args: str, check: bool = True, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(bin_dir() / "helm"), *args], text=True, capture_output=True,
                            timeout=120, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stderr}")
    return result


def values_file(values: dict[str, Any], directory: Path) -> Path:
    path = directory / "values.yaml"
    path.write_text(json.dumps(values))  # JSON is YAML
    return path


@dataclass
class Rendered:
    docs: list[dict[str, Any]]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [doc for doc in self.docs if doc["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [doc for doc in self.of(kind) if name is None or doc["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
        return found[0]

    @property
    def deployment(self) -> dict[str, Any]:
        return self.one("Deployment")

    @property
    def container(self) -> dict[str, Any]:
        return self.deployment["spec"]["template"]["spec"]["containers"][0]

    @property
    def args(self) -> list[str]:
        return self.container["args"]

    def env(self) -> dict[str, dict[str, Any]]:
        return {item["name"]: item for item in self.container.get("env", [])}

    def rules(self) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """(Role or ClusterRole, rule) for every rule rendered."""
        for role in self.of("ClusterRole") + self.of("Role"):
            for rule in role.get("rules") or []:
                yield role, rule

    def grants(self, kind: str = "ClusterRole", namespace: str | None = None
               ) -> set[tuple[str, str, str]]:
        """{(apiGroup, resource, verb)} of the Roles/ClusterRoles of that kind (and namespace)."""
        out = set()
        for role, rule in self.rules():
            if role["kind"] != kind or (namespace and role["metadata"]["namespace"] != namespace):
                continue
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    for verb in rule.get("verbs", []):
                        out.add((group, resource, verb))
        return out


def render(values: dict[str, Any] | None = None, *, namespace: str = NAMESPACE,
           release: str = RELEASE) -> Rendered:
    with tempfile.TemporaryDirectory() as tmp:
        result = helm("template", release, str(CHART), "--namespace", namespace,
                      "--kube-version", kube_version(),
                      "-f", str(values_file(values or {}, Path(tmp))))
    return Rendered([doc for doc in yaml.safe_load_all(result.stdout) if doc])


def render_error(values: dict[str, Any]) -> str:
    """helm template's error for values it must refuse."""
    with tempfile.TemporaryDirectory() as tmp:
        result = helm("template", RELEASE, str(CHART), "--kube-version", kube_version(),
                      "-f", str(values_file(values, Path(tmp))), check=False)
    assert result.returncode != 0, f"helm template accepted {values}"
    return result.stderr
