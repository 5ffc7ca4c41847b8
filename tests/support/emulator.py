"""Run the Huawei Cloud emulator as a real subprocess for tests.

Use in a conftest::

    from tests.support.emulator import emulator, fresh_emulator  # noqa: F401

- ``emulator`` (session scope): one emulator for the session, ``apply_delay`` 0.2 s,
  ``queue_capacity`` 10. Shared: use unique names, and put faults back if you set any.
- ``fresh_emulator`` (function scope): a factory, ``fresh_emulator(apply_delay=1.0,
  faults={"busy_rate": 0.5})`` starts a private emulator with that config merged over the
  defaults; every one started is stopped after the test.

Or directly: ``with EmulatorProcess({"apply_delay": 0}) as emu: ...``.
"""

from __future__ import annotations

import atexit
import copy
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from hwcloud_emulator.config import DEFAULTS, deep_merge

_RUNNING: set[EmulatorProcess] = set()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class EmulatorInfo:
    """What a client needs to talk to the running emulator."""

    url: str
    region: str
    project_id: str
    access_key: str
    secret_key: str
    vpn_server_id: str
    instance_id: str
    iam_domain: str
    iam_user: str
    iam_password: str
    raw: dict[str, Any] = field(repr=False, default_factory=dict)  # the config given


class EmulatorError(RuntimeError):
    pass


class EmulatorProcess:
    """``python -m hwcloud_emulator`` on a free loopback port."""

    def __init__(
        self,
        config: dict[str, Any] | None = None,
        *,
        state_file: str | os.PathLike[str] | None = None,
        startup_timeout: float = 20.0,
        seed: int | None = None,
        log_level: str | None = None,
    ) -> None:
        self.overrides = copy.deepcopy(config or {})
        self.state_file = str(state_file) if state_file else None
        self.startup_timeout = startup_timeout
        self.seed = seed
        self.log_level = log_level
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="hwcloud-emulator-")
        merged = deep_merge(DEFAULTS, self.overrides)
        self.config_path = Path(self._dir.name) / "emulator.json"  # JSON is valid YAML
        self.config_path.write_text(json.dumps(self.overrides), encoding="utf-8")
        self.log_path = Path(self._dir.name) / "emulator.log"
        self._merged = merged
        self._client = httpx.Client(timeout=10.0)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> EmulatorProcess:
        last_error = ""
        for _ in range(3):
            self.port = free_port()
            cmd = [
                sys.executable,
                "-m",
                "hwcloud_emulator",
                "--port",
                str(self.port),
                "--config",
                str(self.config_path),
            ]
            if self.state_file:
                cmd += ["--state-file", self.state_file]
            if self.seed is not None:
                cmd += ["--seed", str(self.seed)]
            if self.log_level:
                cmd += ["--log-level", self.log_level]
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            _RUNNING.add(self)
            if self._wait_ready():
                return self
            last_error = self.log_text()
            self.stop()
            if "address already in use" not in last_error.lower():
                break
        raise EmulatorError(f"the emulator did not start:\n{last_error}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                if self._client.get(self.url + "/_emulator/state").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        proc, self.process = self.process, None
        _RUNNING.discard(self)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def close(self) -> None:
        self.stop()
        self._client.close()
        self._dir.cleanup()

    def restart(self) -> EmulatorProcess:
        """Stop (the state file is saved) and start again on a new port."""
        self.stop()
        return self.start()

    def __enter__(self) -> EmulatorProcess:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    # ------------------------------------------------------------ description
    @property
    def url(self) -> str:
        if self.port is None:
            raise EmulatorError("the emulator is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> EmulatorInfo:
        m = self._merged
        cred = m["credentials"][0]
        iam = m["iam_users"][0] if m["iam_users"] else {"domain": "", "name": "", "password": ""}
        return EmulatorInfo(
            url=self.url,
            region=m["region"],
            project_id=m["project_id"],
            access_key=cred["access_key"],
            secret_key=cred["secret_key"],
            vpn_server_id=m["vpn_servers"][0]["id"] if m["vpn_servers"] else "",
            instance_id=m["rocketmq_instances"][0]["id"] if m["rocketmq_instances"] else "",
            iam_domain=iam["domain"],
            iam_user=iam["name"],
            iam_password=iam["password"],
            raw=copy.deepcopy(self.overrides),
        )

    # ------------------------------------------------------------ admin API
    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._client.request(method, self.url + "/_emulator" + path, json=body)
        if response.status_code >= 400:
            raise EmulatorError(
                f"{method} /_emulator{path}: {response.status_code} {response.text}"
            )
        return response.json()

    def state(self) -> dict[str, Any]:
        return self._admin("GET", "/state")

    def vpn_state(self, server_id: str | None = None) -> dict[str, Any]:
        return self.state()["vpn_servers"][server_id or self.config.vpn_server_id]

    def mq_state(self, instance_id: str | None = None) -> dict[str, Any]:
        return self.state()["rocketmq_instances"][instance_id or self.config.instance_id]

    def faults(self) -> dict[str, Any]:
        return self._admin("GET", "/faults")

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        return self._admin("PUT", "/faults", changes)

    def clear_faults(self) -> dict[str, Any]:
        """The documented default faults: none at all (no denials either), and the default
        statuses and drop operations."""
        return self.set_faults(**DEFAULTS["faults"])

    def set_config(self, **changes: Any) -> dict[str, Any]:
        return self._admin("PUT", "/config", changes)

    def stats(self) -> dict[str, Any]:
        return self._admin("GET", "/stats")

    def reset_stats(self) -> dict[str, Any]:
        return self._admin("POST", "/stats/reset")

    def reset(self) -> dict[str, Any]:
        return self._admin("POST", "/reset")

    def expire_tokens(self) -> dict[str, Any]:
        return self._admin("POST", "/expire-tokens")

    def apply_now(self) -> dict[str, Any]:
        return self._admin("POST", "/apply-now")

    def check_password(self, user: str, password: str, server_id: str | None = None) -> bool:
        body = {"user": user, "password": password, "vpn_server_id": server_id}
        return bool(self._admin("POST", "/check-secret", body)["match"])

    def check_mq_secret(self, access_key: str, secret_key: str) -> bool:
        body = {"access_key": access_key, "secret_key": secret_key}
        return bool(self._admin("POST", "/check-secret", body)["match"])


@atexit.register
def _stop_leftovers() -> None:  # pragma: no cover - safety net
    for emu in list(_RUNNING):
        emu.stop()


SESSION_CONFIG = {"apply_delay": 0.2, "queue_capacity": 10}


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    """One emulator for the whole session (apply_delay 0.2 s, queue_capacity 10)."""
    emu = EmulatorProcess(SESSION_CONFIG)
    emu.start()
    try:
        yield emu
    finally:
        emu.close()


@pytest.fixture
def fresh_emulator() -> Iterator[Callable[..., EmulatorProcess]]:
    """A factory of private emulators: ``fresh_emulator(apply_delay=0.5, ...)``.

    Keyword arguments are config keys merged over the defaults; ``config=`` takes a dict,
    ``state_file=`` and ``seed=`` are passed on. All are stopped after the test.
    """
    started: list[EmulatorProcess] = []

    def start(
        config: dict[str, Any] | None = None,
        *,
        state_file: str | os.PathLike[str] | None = None,
        seed: int | None = None,
        **overrides: Any,
    ) -> EmulatorProcess:
        emu = EmulatorProcess(deep_merge(config or {}, overrides), state_file=state_file, seed=seed)
        started.append(emu)
        return emu.start()

    try:
        yield start
    finally:
        for emu in started:
            emu.close()
