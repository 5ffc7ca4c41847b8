"""`hwcloud-access demo`: the whole product on this machine, from a repository checkout.

Starts the test bed API server (tools/testbed), installs the CRDs, applies every example,
and prints `kubectl get hwcloud`. Run from the repository root (`make demo`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml


class Demo:
    def __init__(self, root: Path, state: Path) -> None:
        self.root = root
        self.state = state
        self.testbed_dir = state / "testbed"
        self.env = {**os.environ, "KUBECONFIG": str(self.testbed_dir / "kubeconfig"),
                    "KUBECACHEDIR": str(state / "kube-cache")}

    def step(self, message: str) -> None:
        print(f"==> {message}", flush=True)

    def kubectl(self, *args: str, input: str | None = None) -> str:
        result = subprocess.run([str(self.testbed_dir / "bin" / "kubectl"), *args], env=self.env,
                                input=input, text=True, capture_output=True)
        if result.returncode != 0:
            raise SystemExit(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def testbed(self, action: str) -> None:
        subprocess.run([str(self.root / "tools" / "testbed"), action, "--dir",
                        str(self.testbed_dir)], check=True)

    def examples(self) -> list[Path]:
        """Example files holding Kubernetes objects (examples/emulator.yaml is a config)."""
        return [p for p in sorted((self.root / "examples").glob("*.yaml"))
                if any(d and "kind" in d for d in yaml.safe_load_all(p.read_text()))]

    def run(self) -> None:
        self.step("starting the test bed API server")
        self.testbed("down")
        self.testbed("up")
        self.step("installing the CRDs")
        crds = str(self.root / "deploy" / "crds")
        self.kubectl("apply", "-f", crds)
        self.kubectl("wait", "--for=condition=Established", "-f", crds)
        self.kubectl("api-resources")
        self.step("applying the examples")
        for path in self.examples():
            print(self.kubectl("apply", "-f", str(path)), end="")
        self.step("kubectl get hwcloud")
        print(self.kubectl("get", "hwcloud", "-A"))
        print("The operator is not part of this build yet: the resources are stored, not "
              "reconciled.")
        self.testbed("down")


def main(argv: list[str]) -> int:
    root = Path.cwd()
    if not (root / "tools" / "testbed").exists():
        sys.exit("run the demo from the repository root (make demo)")
    Demo(root, root / ".demo").run()
    return 0
