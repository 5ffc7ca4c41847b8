"""The admin API under ``/_emulator/`` (no authentication; loopback test tool only).

Nothing it returns holds a password or secret key: users show ``password_set``,
``password_version`` and ``password_sha256`` (sha256 of the current password, so a test can
compare it with the value it expects), MQ users the same for the secret key.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from hwcloud_emulator import passwords
from hwcloud_emulator.config import deep_merge, format_validation_error
from hwcloud_emulator.core import Emulator
from hwcloud_emulator.gateway import EMULATOR_KEY
from hwcloud_emulator.rocketmq import render as render_mq
from hwcloud_emulator.state import DelayedState, MqInstanceState, VpnServerState
from hwcloud_emulator.vpn import render_group, render_user

PREFIX = "/_emulator"


def _emu(request: web.Request) -> Emulator:
    return request.app[EMULATOR_KEY]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _json(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _pending(state: DelayedState, now: float) -> list[dict[str, Any]]:
    out = []
    for due, (kind, payload) in state.queue:
        item: dict[str, Any] = {"op": kind, "due_in": round(max(0.0, due - now), 3)}
        if kind == "put_user" or kind == "put_group":
            item.update(id=payload.id, name=payload.name)
        elif kind == "put_mq":
            item.update(access_key=payload.access_key)
        else:
            item.update(id=payload)
        out.append(item)
    return out


def _server_state(server: VpnServerState, capacity: int, now: float) -> dict[str, Any]:
    view = server.visible
    users = []
    for uid in view.ordered_users()[1]:
        user = view.users[uid]
        users.append(
            {
                **render_user(view, user),
                "password_set": bool(user.pw_history),
                "password_version": user.pw_version,
                "password_sha256": user.pw_fingerprint,
            }
        )
    return {
        "status": server.cfg.status,
        "client_auth_type": server.cfg.client_auth_type,
        "client_cidr": server.cfg.client_cidr,
        "default_group_id": server.default_group_id,
        "queue": {"pending": len(server.queue), "capacity": capacity},
        "groups": [render_group(view, view.groups[g]) for g in view.ordered_groups()[1]],
        "users": users,
        "pending": _pending(server, now),
        "accepted": {"groups": len(server.future.groups), "users": len(server.future.users)},
    }


def _instance_state(instance: MqInstanceState, now: float) -> dict[str, Any]:
    view = instance.visible
    users = []
    for key in view.ordered()[1]:
        user = view.users[key]
        rendered = render_mq(user)
        rendered.pop("secret_key")
        users.append(
            {
                **rendered,
                "secret_set": True,
                "secret_version": user.secret_version,
                "secret_sha256": user.secret_fingerprint,
            }
        )
    return {
        "acl_enabled": instance.cfg.acl_enabled,
        "users": users,
        "pending": _pending(instance, now),
        "accepted": {"users": len(instance.future.users)},
    }


async def get_state(request: web.Request) -> web.Response:
    emu = _emu(request)
    emu.settle_all()
    now = emu.now()
    return web.json_response(
        {
            "region": emu.config.region,
            "project_id": emu.config.project_id,
            "vpn_servers": {
                sid: _server_state(s, emu.config.queue_capacity, now) for sid, s in emu.vpn.items()
            },
            "rocketmq_instances": {iid: _instance_state(i, now) for iid, i in emu.mq.items()},
            "tokens": len(emu.tokens),
        }
    )


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(_emu(request).faults.model_dump())


async def put_faults(request: web.Request) -> web.Response:
    emu = _emu(request)
    try:
        changes = await _json(request)
        faults = emu.replace_faults(deep_merge(emu.faults.model_dump(), changes))
    except ValidationError as exc:
        return _error(400, format_validation_error(exc, "faults."))
    except ValueError as exc:
        return _error(400, str(exc))
    return web.json_response(faults.model_dump())


async def get_config(request: web.Request) -> web.Response:
    emu = _emu(request)
    data = emu.config.public_dict()
    data["faults"] = emu.faults.model_dump()
    return web.json_response(data)


async def put_config(request: web.Request) -> web.Response:
    emu = _emu(request)
    try:
        changes = await _json(request)
        config = emu.update_runtime(changes)
    except ValidationError as exc:
        return _error(400, format_validation_error(exc))
    except ValueError as exc:
        return _error(400, str(exc))
    data = config.public_dict()
    data["faults"] = emu.faults.model_dump()
    return web.json_response(data)


async def expire_tokens(request: web.Request) -> web.Response:
    return web.json_response({"expired": _emu(request).tokens.expire_all()})


async def get_stats(request: web.Request) -> web.Response:
    emu = _emu(request)
    emu.settle_all()  # the queues' applied counts up to now
    return web.json_response(emu.stats.as_dict())


async def reset_stats(request: web.Request) -> web.Response:
    emu = _emu(request)
    emu.stats.reset()
    return web.json_response(emu.stats.as_dict())


async def reset(request: web.Request) -> web.Response:
    _emu(request).reset()
    return web.json_response({"reset": True})


async def apply_now(request: web.Request) -> web.Response:
    """Apply every pending change at once (tests that do not want to wait)."""
    emu = _emu(request)
    count = 0
    now = emu.now()
    for state in [*emu.vpn.values(), *emu.mq.values()]:
        count += len(state.queue)
        state.apply_all_now(now)
    emu.mark_changed()
    return web.json_response({"applied": count})


async def check_secret(request: web.Request) -> web.Response:
    """Does a password / secret key match the one in effect? Answers only true or false.

    Body: ``{"user": "<id or name>", "password": "...", "vpn_server_id": optional}`` or
    ``{"access_key": "...", "secret_key": "...", "instance_id": optional}``.
    """
    emu = _emu(request)
    emu.settle_all()
    try:
        body = await _json(request)
    except ValueError as exc:
        return _error(400, str(exc))
    if "access_key" in body:
        instance_id = body.get("instance_id") or next(iter(emu.mq), None)
        instance = emu.mq.get(instance_id)
        user = instance.visible.users.get(body["access_key"]) if instance else None
        if user is None:
            return _error(404, "no such RocketMQ user")
        secret = body.get("secret_key")
        match = isinstance(secret, str) and passwords.verify_secret(secret, user.secret_hash)
        return web.json_response({"match": match})
    server_id = body.get("vpn_server_id") or next(iter(emu.vpn), None)
    server = emu.vpn.get(server_id)
    if server is None:
        return _error(404, "no such VPN server")
    key = body.get("user")
    view = server.visible
    vpn_user = view.users.get(key) or view.users.get(view.user_by_name.get(key, ""))
    if vpn_user is None:
        return _error(404, "no such VPN user")
    password = body.get("password")
    match = isinstance(password, str) and passwords.verify_secret(password, vpn_user.pw_history[0])
    return web.json_response({"match": match})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", PREFIX + "/healthz", health),
    ("GET", PREFIX + "/state", get_state),
    ("GET", PREFIX + "/faults", get_faults),
    ("PUT", PREFIX + "/faults", put_faults),
    ("GET", PREFIX + "/config", get_config),
    ("PUT", PREFIX + "/config", put_config),
    ("POST", PREFIX + "/expire-tokens", expire_tokens),
    ("GET", PREFIX + "/stats", get_stats),
    ("POST", PREFIX + "/stats/reset", reset_stats),
    ("POST", PREFIX + "/reset", reset),
    ("POST", PREFIX + "/apply-now", apply_now),
    ("POST", PREFIX + "/check-secret", check_secret),
]
