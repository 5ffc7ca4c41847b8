"""`hwcloud-access demo`: the whole product on this machine, from a repository checkout.

Starts the test bed API server (tools/testbed), installs the CRDs, starts the emulator on
port 8930 (examples/huaweicloudaccount.yaml points there) and the operator with the
emulator as its default account, applies every example, waits until all are Ready and
prints `kubectl get hwcloud -A`. Everything is stopped at the end unless --keep is given.
Run from the repository root (`make demo`).

The emulator is a distribution of its own (emulator/, `hwcloud-emulator`) that `make venv`
installs beside the operator; the demo runs it as a subprocess and asks it for its default
credentials, so the operator's package neither imports it nor holds its keys.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from .api import ALL_KINDS
from .reconcile.dependencies import MEMBERS_SETTLE

EMULATOR_PORT = 8930
EMULATOR_URL = f"http://127.0.0.1:{EMULATOR_PORT}"
EMULATOR = [sys.executable, "-m", "hwcloud_emulator"]
KINDS = ",".join(kind.plural for kind in ALL_KINDS)
KEEP_HINT = ("done, everything stopped. To keep the API server, the emulator and the "
             "operator running and explore them: .venv/bin/hwcloud-access demo --keep "
             "(stop it with Ctrl-C)")


class Demo:
    def __init__(self, root: Path, state: Path) -> None:
        self.root = root
        self.state = state
        self.testbed_dir = state / "testbed"
        self.env = {**os.environ, "KUBECONFIG": str(self.testbed_dir / "kubeconfig"),
                    "KUBECACHEDIR": str(state / "kube-cache")}
        self.children: list[subprocess.Popen[bytes]] = []

    def step(self, message: str) -> None:
        print(f"==> {message}", flush=True)

    def kubectl(self, *args: str) -> str:
        result = subprocess.run([str(self.testbed_dir / "bin" / "kubectl"), *args], env=self.env,
                                text=True, capture_output=True)
        if result.returncode != 0:
            raise SystemExit(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def testbed(self, action: str) -> None:
        sys.stdout.flush()  # what we printed comes before what it prints, also into a pipe
        subprocess.run([str(self.root / "tools" / "testbed"), action, "--dir",
                        str(self.testbed_dir)], check=True)

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = open(self.state / f"{name}.log", "wb")  # noqa: SIM115 - owned by the child
        self.children.append(subprocess.Popen(argv, env=env, stdout=log,
                                               stderr=subprocess.STDOUT))

    def examples(self) -> list[Path]:
        """Example files holding Kubernetes objects (examples/emulator.yaml is a config)."""
        return [p for p in sorted((self.root / "examples").glob("*.yaml"))
                if any(d and "kind" in d for d in yaml.safe_load_all(p.read_text()))]

    def start_emulator(self) -> dict[str, Any]:
        """Starts the emulator with its defaults and returns its effective config."""
        shown = subprocess.run([*EMULATOR, "--print-config", "--show-secrets"], text=True,
                               capture_output=True)
        if shown.returncode != 0:
            raise SystemExit("the emulator (emulator/, hwcloud-emulator) does not run here; "
                             f"`make venv` installs it:\n{shown.stderr}")
        self.spawn("emulator", [*EMULATOR, "--port", str(EMULATOR_PORT)], self.env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{EMULATOR_URL}/_emulator/state", timeout=1).close()
                return yaml.safe_load(shown.stdout)
            except OSError:
                if self.children[-1].poll() is not None:
                    break
                time.sleep(0.2)
        raise SystemExit(f"the emulator did not start (is port {EMULATOR_PORT} free?); see "
                         f"{self.state / 'emulator.log'}")

    def start_operator(self, emulator: dict[str, Any]) -> None:
        """The operator, with the emulator's region, project and first AK/SK as its default
        account."""
        credentials = emulator["credentials"][0]
        env = {**self.env, "HW_REGION_NAME": emulator["region"],
               "HW_PROJECT_ID": emulator["project_id"],
               "HW_ACCESS_KEY": credentials["access_key"],
               "HW_SECRET_KEY": credentials["secret_key"],
               "HW_VPN_ENDPOINT": EMULATOR_URL, "HW_DMS_ENDPOINT": EMULATOR_URL,
               "HW_IAM_ENDPOINT": EMULATOR_URL}
        self.spawn("operator", [sys.executable, "-m", "hwcloud_access.cli", "run", "-A",
                                "--metrics-port", "9464"], env)

    def run(self, keep: bool) -> None:
        self.state.mkdir(exist_ok=True)
        self.step("starting the test bed API server")
        self.testbed("down")
        self.testbed("up")
        try:
            self.step("installing the CRDs")
            crds = str(self.root / "deploy" / "crds")
            self.kubectl("apply", "-f", crds)
            self.kubectl("wait", "--for=condition=Established", "-f", crds)
            self.kubectl("api-resources")
            self.step(f"starting the emulator on {EMULATOR_URL} and the operator "
                      f"(logs in {self.state})")
            self.start_operator(self.start_emulator())
            self.step("applying the examples")
            for path in self.examples():
                print(self.kubectl("apply", "-f", str(path)), end="")
            self.step("waiting until every resource is Ready")
            self.kubectl("wait", "--for=condition=Ready", KINDS, "--all", "-A",
                         "--timeout=180s")
            # A group counts its users in a pass a few seconds after they join
            # (reconcile/dependencies.py, MEMBERS_SETTLE): let the table show it.
            self.step("letting the groups count their new users")
            time.sleep(MEMBERS_SETTLE + 3)
            self.step("kubectl get hwcloud -A")
            print(self.kubectl("get", "hwcloud", "-A"))
            if keep:
                print(f"still running: eval \"$(tools/testbed env --dir {self.testbed_dir})\"; "
                      "stop with Ctrl-C")
                self.children[0].wait()
        finally:
            for child in self.children:
                child.terminate()
            for child in self.children:
                child.wait(15)
            self.testbed("down")
        if not keep:  # the last line, after the test bed's own
            print(KEEP_HINT, flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="hwcloud-access demo")
    parser.add_argument("--keep", action="store_true", help="keep everything running")
    args = parser.parse_args(argv)
    root = Path.cwd()
    if not (root / "tools" / "testbed").exists():
        sys.exit("run the demo from the repository root (make demo)")
    try:
        Demo(root, root / ".demo").run(args.keep)
    except KeyboardInterrupt:
        pass
    return 0
