"""Pytest fixtures for the real API server (tools/testbed): start once per session."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TESTBED = ROOT / "tools" / "testbed"
CRDS = ROOT / "deploy" / "crds"


@dataclass
class Testbed:
    __test__ = False  # not a test class, despite the name

    dir: Path

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def bin(self) -> Path:
        return self.dir / "bin"

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig),
                "KUBECACHEDIR": str(self.dir / "kube-cache"),
                "PATH": f"{self.bin}:{os.environ['PATH']}"}

    def kubectl(self, *args: str, input: str | None = None,
                check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(self.bin / "kubectl"), *args], input=input, text=True,
                                capture_output=True, env=self.env(), timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
        return result

    def apply(self, manifest: dict | str, namespace: str | None = None,
              check: bool = True) -> subprocess.CompletedProcess[str]:
        text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest)
        args = ["apply", "-f", "-"] + (["-n", namespace] if namespace else [])
        return self.kubectl(*args, input=text, check=check)

    def audit(self) -> list[dict]:
        """The API server's audit events so far: every request on Secrets (tools/testbed)."""
        path = self.dir / "audit.log"
        assert path.exists(), f"no {path}: a test bed started before tools/testbed wrote " \
            "an audit log; start it again"
        complete = path.read_text().split("\n")[:-1]  # not a line being written
        return [json.loads(line) for line in complete if line]

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        args = ["get", kind, name, "-o", "yaml"] + (["-n", namespace] if namespace else [])
        result = self.kubectl(*args, check=False)
        if result.returncode != 0:
            if "NotFound" in result.stderr:
                return None
            raise AssertionError(result.stderr)
        return yaml.safe_load(result.stdout)


def start_testbed(state: Path, timeout: float = 1800) -> Testbed:
    """A private test bed in `state` (tools/testbed up), e.g. for a module-scoped fixture or
    a script; stop it with `stop_testbed(state)`. Independent of the session `testbed`."""
    subprocess.run([str(TESTBED), "up", "--dir", str(state)], check=True, timeout=timeout,
                   stdout=subprocess.DEVNULL)
    return Testbed(state)


def stop_testbed(state: Path) -> None:
    subprocess.run([str(TESTBED), "down", "--dir", str(state)], check=True, timeout=120,
                   stdout=subprocess.DEVNULL)


@contextlib.contextmanager
def private_testbed(state: Path) -> Iterator[Testbed]:
    """A test bed of its own in `state` with the CRDs installed, stopped when the block ends:
    for operators that must not meet the e2e session's one (it watches every namespace)."""
    testbed = start_testbed(state)
    try:
        yield install_crds(testbed)
    finally:
        stop_testbed(state)


@pytest.fixture(scope="session")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    """A running API server. HWCLOUD_TESTBED_DIR reuses one started by hand (faster loops)."""
    reuse = os.environ.get("HWCLOUD_TESTBED_DIR")
    if reuse:
        yield Testbed(Path(reuse))
        return
    state = tmp_path_factory.mktemp("testbed")
    subprocess.run([str(TESTBED), "up", "--dir", str(state)], check=True, timeout=1800)
    try:
        yield Testbed(state)
    finally:
        subprocess.run([str(TESTBED), "down", "--dir", str(state)], check=True, timeout=120)


def install_crds(testbed: Testbed) -> Testbed:
    """The generated CRDs installed and Established in `testbed`."""
    testbed.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    testbed.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(CRDS))
    testbed.kubectl("api-resources")  # refreshes kubectl's discovery cache (categories)
    return testbed


@pytest.fixture(scope="session")
def crds(testbed: Testbed) -> Testbed:
    """The generated CRDs installed and Established."""
    return install_crds(testbed)


@pytest.fixture
def namespace(testbed: Testbed) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards (without waiting)."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    testbed.kubectl("create", "namespace", name)
    yield name
    testbed.kubectl("delete", "namespace", name, "--wait=false", check=False)
