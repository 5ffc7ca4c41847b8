"""The state file: JSON written atomically (temp file + rename), loaded at start.

It holds, per VPN server and RocketMQ instance, the applied objects, the pending changes
(with the seconds they still had to wait), the X-Client-Token answers and the counters.
Passwords and secret keys appear only as salted hashes (see passwords.py); the in-memory
sha256 fingerprints are not written, so after a restart they read back as null until the
next rotation. Servers/instances no longer in the config are ignored on load.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections import deque
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hwcloud_emulator.core import Emulator
from hwcloud_emulator.state import (
    DelayedState,
    MqInstanceState,
    MqUser,
    MqView,
    Op,
    VpnGroup,
    VpnServerState,
    VpnUser,
    VpnView,
)

log = logging.getLogger("hwcloud_emulator")
VERSION = 1


# ------------------------------------------------------------------ encoding


def _user_out(user: VpnUser) -> dict[str, Any]:
    data = asdict(user)
    data.pop("pw_fingerprint")
    data["pw_history"] = list(user.pw_history)
    return data


def _user_in(data: dict[str, Any]) -> VpnUser:
    return VpnUser(**{**data, "pw_history": tuple(data["pw_history"]), "pw_fingerprint": None})


def _mq_out(user: MqUser) -> dict[str, Any]:
    data = asdict(user)
    data.pop("secret_fingerprint")
    data["topic_perms"] = [list(p) for p in user.topic_perms]
    data["group_perms"] = [list(p) for p in user.group_perms]
    return data


def _mq_in(data: dict[str, Any]) -> MqUser:
    return MqUser(
        **{
            **data,
            "topic_perms": tuple(tuple(p) for p in data["topic_perms"]),
            "group_perms": tuple(tuple(p) for p in data["group_perms"]),
            "secret_fingerprint": None,
        }
    )


def _op_out(op: Op) -> dict[str, Any]:
    kind, payload = op
    if kind == "put_user":
        return {"op": kind, "record": _user_out(payload)}
    if kind == "put_group":
        return {"op": kind, "record": asdict(payload)}
    if kind == "put_mq":
        return {"op": kind, "record": _mq_out(payload)}
    return {"op": kind, "key": payload}


def _op_in(data: dict[str, Any]) -> Op:
    kind = data["op"]
    if kind == "put_user":
        return kind, _user_in(data["record"])
    if kind == "put_group":
        return kind, VpnGroup(**data["record"])
    if kind == "put_mq":
        return kind, _mq_in(data["record"])
    return kind, data["key"]


def _common_out(state: DelayedState, now: float) -> dict[str, Any]:
    return {
        "seq": state.seq,
        "pending": [{"in": max(0.0, due - now), **_op_out(op)} for due, op in state.queue],
        "client_tokens": {k: [status, body] for k, (status, body) in state.client_tokens.items()},
    }


def _common_in(state: DelayedState, data: dict[str, Any], now: float) -> None:
    state.queue = deque()
    for item in data.get("pending", []):
        op = _op_in(item)
        state.future.apply(op)
        state.queue.append((now + float(item.get("in", 0.0)), op))
        if op[0].startswith("put_"):
            state.stamper.seen(op[1].updated_at)
    state.seq = max(state.seq, int(data.get("seq", 0)))
    state.client_tokens = {k: (v[0], v[1]) for k, v in data.get("client_tokens", {}).items()}


def snapshot(emu: Emulator) -> dict[str, Any]:
    now = emu.now()
    emu.settle_all()
    servers = {}
    for sid, server in emu.vpn.items():
        view = server.visible
        servers[sid] = {
            **_common_out(server, now),
            "groups": [asdict(view.groups[g]) for g in view.ordered_groups()[1]],
            "users": [_user_out(view.users[u]) for u in view.ordered_users()[1]],
        }
    instances = {}
    for iid, instance in emu.mq.items():
        view = instance.visible
        instances[iid] = {
            **_common_out(instance, now),
            "users": [_mq_out(view.users[k]) for k in view.ordered()[1]],
        }
    return {
        "version": VERSION,
        "project_id": emu.config.project_id,
        "vpn_servers": servers,
        "rocketmq_instances": instances,
    }


def _load_server(server: VpnServerState, data: dict[str, Any], now: float) -> None:
    server.future, server.visible = VpnView(), VpnView()
    for raw in data.get("groups", []):
        group = VpnGroup(**raw)
        server.future.put_group(group)
        server.visible.put_group(group)
        server.stamper.seen(group.updated_at)
    if server.default_group_id not in server.visible.groups:
        server._add_default_group()
    for raw in data.get("users", []):
        user = _user_in(raw)
        server.future.put_user(user)
        server.visible.put_user(user)
        server.stamper.seen(user.updated_at)
    _common_in(server, data, now)


def _load_instance(instance: MqInstanceState, data: dict[str, Any], now: float) -> None:
    instance.future, instance.visible = MqView(), MqView()
    for raw in data.get("users", []):
        user = _mq_in(raw)
        instance.future.apply(("put_mq", user))
        instance.visible.apply(("put_mq", user))
        instance.stamper.seen(user.updated_at)
    _common_in(instance, data, now)


def restore(emu: Emulator, data: dict[str, Any]) -> None:
    if data.get("version") != VERSION:
        raise ValueError(f"unsupported state file version {data.get('version')!r}")
    now = emu.now()
    for sid, raw in data.get("vpn_servers", {}).items():
        if sid in emu.vpn:
            _load_server(emu.vpn[sid], raw, now)
    for iid, raw in data.get("rocketmq_instances", {}).items():
        if iid in emu.mq:
            _load_instance(emu.mq[iid], raw, now)


# ------------------------------------------------------------------ files


def save(emu: Emulator, path: str | os.PathLike[str]) -> None:
    """Write the state atomically: a temp file in the same folder, then rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(snapshot(emu), separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    emu.dirty = False


class StateFileError(Exception):
    """The state file exists but cannot be read back."""


def load(emu: Emulator, path: str | os.PathLike[str]) -> bool:
    """Load the state file if it exists; returns whether it did."""
    target = Path(path)
    if not target.exists():
        return False
    try:
        with target.open(encoding="utf-8") as handle:
            data = json.load(handle)
        restore(emu, data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StateFileError(f"cannot load the state file {target}: {exc}") from None
    log.info("loaded emulator state from %s", target)
    return True
