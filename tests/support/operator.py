"""The operator as a real subprocess (`hwcloud-access run`) against the test bed and an
emulator, plus waiting helpers for e2e tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.emulator import EmulatorProcess, free_port
from tests.support.testbed import Testbed

GROUP = "access.hwcloud.dev"


def operator_env(testbed: Testbed, emulator: EmulatorProcess) -> dict[str, str]:
    info = emulator.config
    return {
        **testbed.env(),
        "HW_REGION_NAME": info.region,
        "HW_PROJECT_ID": info.project_id,
        "HW_ACCESS_KEY": info.access_key,
        "HW_SECRET_KEY": info.secret_key,
        "HW_VPN_ENDPOINT": emulator.url,
        "HW_DMS_ENDPOINT": emulator.url,
        "HW_IAM_ENDPOINT": emulator.url,
    }


class OperatorProcess:
    def __init__(self, env: dict[str, str], log_path: Path, *args: str,
                 startup_timeout: float = 30.0) -> None:
        self.env = env
        self.log_path = log_path
        self.args = list(args)
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.metrics_url = ""
        self.liveness_url = ""

    def start(self) -> OperatorProcess:
        earlier = len(self.log())  # a restart appends: wait for this start's own line
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hwcloud_access.cli", "run", *self.args],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.startup_timeout
        while "Activity 'startup' succeeded" not in self.log()[earlier:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()  # not left running to act on later tests' objects
                raise RuntimeError(f"the operator did not start:\n{self.log()[-3000:]}")
            time.sleep(0.2)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as when a node dies."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()


def wait_for(check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.3,
             what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def condition(obj: dict | None, type_: str = "Ready") -> dict:
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item["type"] == type_:
            return item
    return {}


def wait_ready(testbed: Testbed, kind: str, name: str, namespace: str,
               timeout: float = 60.0) -> dict:
    def ready() -> dict | None:
        obj = testbed.get(kind, name, namespace)
        current = condition(obj)
        if current.get("status") == "True" and \
                current.get("observedGeneration") == obj["metadata"]["generation"]:
            return obj
        return None

    return wait_for(ready, timeout, what=f"{kind} {namespace}/{name} Ready")


def wait_reason(testbed: Testbed, kind: str, name: str, namespace: str, reason: str,
                timeout: float = 30.0) -> dict:
    return wait_for(lambda: (obj := testbed.get(kind, name, namespace))
                    and condition(obj).get("reason") == reason and obj,
                    timeout, what=f"{kind} {namespace}/{name} reason {reason}")


@pytest.fixture(scope="session")
def operator_stack(crds: Testbed, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[tuple[Testbed, EmulatorProcess, OperatorProcess]]:
    """Test bed + CRDs + an emulator (apply_delay 0.3 s) + the operator (resync 3 s)."""
    emulator = EmulatorProcess({"apply_delay": 0.3, "queue_capacity": 10}).start()
    logs = tmp_path_factory.mktemp("operator")
    metrics, liveness = free_port(), free_port()
    operator = OperatorProcess(
        operator_env(crds, emulator), logs / "operator.log", "-A", "--resync-interval", "3",
        "--metrics-port", str(metrics), "--liveness", f"http://127.0.0.1:{liveness}/healthz")
    operator.metrics_url = f"http://127.0.0.1:{metrics}/metrics"
    operator.liveness_url = f"http://127.0.0.1:{liveness}/healthz"
    operator.start()
    try:
        yield crds, emulator, operator
    finally:
        operator.stop()
        emulator.stop()
        if os.environ.get("HWCLOUD_SHOW_OPERATOR_LOG"):
            print(operator.log())
