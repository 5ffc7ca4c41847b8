"""The emulator's state holder: config, faults, the per-server/instance states, tokens, stats.

One ``Emulator`` object serves every request (the server keeps it in the aiohttp app). All
handlers run on one event loop and never await between reading and changing state, so each
call is atomic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hwcloud_emulator import clock
from hwcloud_emulator.config import RUNTIME_KEYS, EmulatorConfig, Faults
from hwcloud_emulator.errors import DENIED_OF_SERVICE, CloudError, injected_error
from hwcloud_emulator.operations import WRITE_OPERATIONS
from hwcloud_emulator.state import MqInstanceState, VpnServerState
from hwcloud_emulator.stats import Stats
from hwcloud_emulator.tokens import TokenStore


class DropConnection(Exception):
    """Raised after a change was accepted: abort the connection without an answer."""


@dataclass(frozen=True)
class Identity:
    project_id: str
    principal: str  # an access key or an IAM user name (never a secret)
    method: str  # "aksk" | "token"


class Emulator:
    def __init__(self, config: EmulatorConfig, seed: int | None = None) -> None:
        self.config = config
        self.faults: Faults = config.faults.model_copy(deep=True)
        self.rng = random.Random(seed)
        self.tokens = TokenStore()
        self.secrets = {c.access_key: c.secret_key for c in config.credentials}
        self.vpn: dict[str, VpnServerState] = {s.id: VpnServerState(s) for s in config.vpn_servers}
        self.mq: dict[str, MqInstanceState] = {
            i.id: MqInstanceState(i) for i in config.rocketmq_instances
        }
        self.stats = Stats({
            "vpn_servers": {sid: server.counters for sid, server in self.vpn.items()},
            "rocketmq_instances": {iid: inst.counters for iid, inst in self.mq.items()},
        })
        self.dirty = False  # state changed since the last save

    # --- time and the apply queues
    @staticmethod
    def now() -> float:
        return clock.monotonic()

    def settle_all(self) -> int:
        now = self.now()
        applied = sum(s.settle(now) for s in self.vpn.values())
        applied += sum(i.settle(now) for i in self.mq.values())
        if applied:
            self.dirty = True
        return applied

    def mark_changed(self) -> None:
        self.dirty = True

    # --- runtime settings
    def update_runtime(self, changes: dict[str, object]) -> EmulatorConfig:
        unknown = sorted(set(changes) - set(RUNTIME_KEYS))
        if unknown:
            raise ValueError(f"cannot change {unknown} at run time; allowed: {list(RUNTIME_KEYS)}")
        data = self.config.model_dump()
        data.update(changes)
        self.config = EmulatorConfig.model_validate(data)
        return self.config

    def replace_faults(self, merged: dict[str, object]) -> Faults:
        self.faults = Faults.model_validate(merged)
        return self.faults

    # --- faults
    def check_policy(self, operation: str, service: str, identity: Identity) -> None:
        """``deny_operations``: the caller's identity policy denies the call, every time,
        before any change (the service's own 403, as an explicit Deny statement gives)."""
        if operation in self.faults.deny_operations:
            raise CloudError(
                DENIED_OF_SERVICE[service],
                f"User: {identity.principal} is not authorized to perform: {operation} "
                "with an explicit deny in the identity policy.",
            )

    def inject_request_faults(self, operation: str, service: str) -> None:
        """Before any change: throttling, one-shot failures and the random error rate."""
        f = self.faults
        if f.throttle_rate and self.rng.random() < f.throttle_rate:
            raise CloudError("THROTTLED")
        if f.fail_next > 0:
            f.fail_next -= 1
            raise injected_error(503, service)
        if f.error_rate and self.rng.random() < f.error_rate:
            raise injected_error(self.rng.choice(f.error_statuses), service)

    def is_busy_now(self, operation: str) -> bool:
        """Whether busy_rate forces a congestion answer for this write."""
        f = self.faults
        return operation in WRITE_OPERATIONS and f.busy_rate > 0 and self.rng.random() < f.busy_rate

    def maybe_drop(self, operation: str) -> None:
        """After a change was accepted: abort the answer if the drop faults say so."""
        f = self.faults
        if operation not in f.drop_operations:
            return
        if f.drop_next > 0:
            f.drop_next -= 1
            raise DropConnection()
        if f.drop_rate and self.rng.random() < f.drop_rate:
            raise DropConnection()

    # --- reset
    def reset(self) -> None:
        for server in self.vpn.values():
            server.reset()
        for instance in self.mq.values():
            instance.reset()
        self.dirty = True
