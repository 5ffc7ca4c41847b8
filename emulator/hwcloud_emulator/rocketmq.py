"""DMS for RocketMQ v2: instance users (ACL accounts).

Paths, JSON fields and status codes follow ``huaweicloudsdkrocketmq.v2`` (``create_user``,
``list_user``, ``show_user``, ``update_user``, ``delete_user``). Changes take effect after
``rocketmq_apply_delay`` seconds (0: at once); there is no queue limit.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from aiohttp import web

from hwcloud_emulator import passwords, rules
from hwcloud_emulator.core import Emulator
from hwcloud_emulator.errors import CloudError
from hwcloud_emulator.gateway import EMULATOR_KEY
from hwcloud_emulator.state import MqInstanceState, MqUser, Op

BASE = "/v2/{project_id}/instances/{instance_id}/users"
MASK = "**************"
MAX_LIMIT = 50
DEFAULT_LIMIT = 10
DEFAULT_TOPIC_PERM = "DENY"
DEFAULT_GROUP_PERM = "SUB"


def _instance(request: web.Request, write: bool = False) -> tuple[Emulator, MqInstanceState]:
    emu: Emulator = request.app[EMULATOR_KEY]
    instance_id = request.match_info["instance_id"]
    instance = emu.mq.get(instance_id)
    if instance is None:
        raise CloudError("DMS_INSTANCE_NOT_FOUND")
    if not instance.cfg.acl_enabled:
        raise CloudError("DMS_ACL_DISABLED")
    instance.settle(emu.now())
    if write and emu.is_busy_now(request["operation"]):
        raise CloudError("DMS_STATUS")
    return emu, instance


def _body(request: web.Request) -> dict[str, Any]:
    raw = request.get("body", b"")
    try:
        data = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError):
        raise CloudError("DMS_INVALID", "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise CloudError("DMS_INVALID", "the request body must be a JSON object")
    return data


def _fail(reason: str | None) -> None:
    if reason:
        raise CloudError("DMS_INVALID", reason)


def render(user: MqUser) -> dict[str, Any]:
    return {
        "access_key": user.access_key,
        "secret_key": MASK,
        "white_remote_address": user.white_remote_address,
        "admin": user.admin,
        "default_topic_perm": user.default_topic_perm,
        "default_group_perm": user.default_group_perm,
        "topic_perms": [{"name": n, "perm": p} for n, p in user.topic_perms],
        "group_perms": [{"name": n, "perm": p} for n, p in user.group_perms],
    }


def _perms(body: dict[str, Any], key: str) -> tuple[tuple[str, str], ...] | None:
    value = body.get(key)
    _fail(rules.check_perms(value, key))
    if value is None:
        return None
    return tuple((item["name"], item["perm"]) for item in value)


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    """The optional, non-key fields of a create/update body, validated (None = not given)."""
    white = body.get("white_remote_address")
    _fail(rules.check_white_remote_address(white))
    admin = body.get("admin")
    if admin is not None and not isinstance(admin, bool):
        raise CloudError("DMS_INVALID", "admin must be true or false")
    topic_perm = body.get("default_topic_perm")
    if topic_perm is not None and topic_perm not in rules.ACL_PERMS:
        raise CloudError(
            "DMS_INVALID", f"default_topic_perm must be one of {', '.join(rules.ACL_PERMS)}"
        )
    group_perm = body.get("default_group_perm")
    if group_perm is not None and group_perm not in rules.DEFAULT_GROUP_PERMS:
        raise CloudError(
            "DMS_INVALID",
            f"default_group_perm must be one of {', '.join(rules.DEFAULT_GROUP_PERMS)}",
        )
    return {
        "white_remote_address": white,
        "admin": admin,
        "default_topic_perm": topic_perm,
        "default_group_perm": group_perm,
        "topic_perms": _perms(body, "topic_perms"),
        "group_perms": _perms(body, "group_perms"),
    }


def _accept(
    request: web.Request,
    emu: Emulator,
    instance: MqInstanceState,
    ops: list[Op],
    payload: dict[str, Any],
    token: str | None = None,
) -> web.Response:
    instance.commit(ops, emu.now(), emu.config.rocketmq_apply_delay)
    emu.mark_changed()
    if token is not None:
        instance.client_tokens[token] = (200, payload)
    emu.maybe_drop(request["operation"])
    return web.json_response(payload, status=200)


def _user_in(instance: MqInstanceState, name: str, visible: bool) -> MqUser:
    view = instance.visible if visible else instance.future
    user = view.users.get(name)
    if user is None:
        raise CloudError("DMS_USER_NOT_FOUND", name)
    return user


async def create_mq_user(request: web.Request) -> web.Response:
    emu, instance = _instance(request)
    token = request.headers.get("X-Client-Token")
    if token is not None:
        if not rules.check_uuid(token):
            raise CloudError("DMS_INVALID", "X-Client-Token must be a 36-character UUID")
        token = token.lower()
        if token in instance.client_tokens:
            return web.json_response(instance.client_tokens[token][1], status=200)
    emu, instance = _instance(request, write=True)
    body = _body(request)
    access_key = body.get("access_key")
    _fail(rules.check_mq_access_key(access_key))
    secret = body.get("secret_key")
    _fail(rules.check_mq_secret_key(secret, access_key))
    fields = _fields(body)
    if access_key in instance.future.users:
        raise CloudError("DMS_USER_EXISTS", access_key)
    stamp = instance.stamper()
    user = MqUser(
        access_key=access_key,
        seq=instance.next_seq(),
        secret_hash=passwords.hash_secret(secret),
        secret_version=1,
        secret_fingerprint=passwords.fingerprint(secret),
        white_remote_address=fields["white_remote_address"] or "",
        admin=bool(fields["admin"]),
        default_topic_perm=fields["default_topic_perm"] or DEFAULT_TOPIC_PERM,
        default_group_perm=fields["default_group_perm"] or DEFAULT_GROUP_PERM,
        topic_perms=fields["topic_perms"] or (),
        group_perms=fields["group_perms"] or (),
        created_at=stamp,
        updated_at=stamp,
    )
    return _accept(request, emu, instance, [("put_mq", user)], render(user), token)


async def list_mq_users(request: web.Request) -> web.Response:
    _, instance = _instance(request)

    def number(key: str, default: int, low: int, high: int | None) -> int:
        raw = request.query.get(key)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise CloudError("DMS_INVALID", f"{key} must be an integer") from None
        if value < low or (high is not None and value > high):
            bound = f"{low} to {high}" if high is not None else f"at least {low}"
            raise CloudError("DMS_INVALID", f"{key} must be {bound}")
        return value

    limit = number("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = number("offset", 0, 0, None)
    view = instance.visible
    _, keys = view.ordered()
    users = [render(view.users[k]) for k in keys[offset : offset + limit]]
    return web.json_response({"users": users, "total": len(keys)}, status=200)


async def show_mq_user(request: web.Request) -> web.Response:
    _, instance = _instance(request)
    user = _user_in(instance, request.match_info["user_name"], visible=True)
    return web.json_response(render(user), status=200)


async def update_mq_user(request: web.Request) -> web.Response:
    emu, instance = _instance(request, write=True)
    user = _user_in(instance, request.match_info["user_name"], visible=False)
    body = _body(request)
    access_key = body.get("access_key")
    if access_key not in (None, "", user.access_key):
        raise CloudError("DMS_INVALID", "access_key cannot be changed")
    secret = body.get("secret_key")
    changes: dict[str, Any] = {}
    if secret not in (None, ""):
        _fail(rules.check_mq_secret_key(secret, user.access_key))
        changes.update(
            secret_hash=passwords.hash_secret(secret),
            secret_version=user.secret_version + 1,
            secret_fingerprint=passwords.fingerprint(secret),
        )
    for key, value in _fields(body).items():
        if value is not None:
            changes[key] = value
    new = replace(user, updated_at=instance.stamper(), **changes)
    return _accept(request, emu, instance, [("put_mq", new)], render(new))


async def delete_mq_user(request: web.Request) -> web.Response:
    emu, instance = _instance(request, write=True)
    user = _user_in(instance, request.match_info["user_name"], visible=False)
    return _accept(
        request, emu, instance, [("del_mq", user.access_key)], {"message": "delete user success."}
    )


ROUTES: list[tuple[str, str, Any, str]] = [
    ("POST", BASE, create_mq_user, "create_mq_user"),
    ("GET", BASE, list_mq_users, "list_mq_users"),
    ("GET", BASE + "/{user_name}", show_mq_user, "show_mq_user"),
    ("PUT", BASE + "/{user_name}", update_mq_user, "update_mq_user"),
    ("DELETE", BASE + "/{user_name}", delete_mq_user, "delete_mq_user"),
]
