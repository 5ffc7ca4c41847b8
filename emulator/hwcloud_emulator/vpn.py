"""P2C VPN v5: VPN servers (read only), user groups and users.

Paths, JSON fields and status codes follow ``huaweicloudsdkvpn.v5`` (its ``vpn_client.py``
and model classes). Writes are validated against the *future* view and queued for the
*visible* view (see state.py); reads answer from the visible view.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

from aiohttp import web

from hwcloud_emulator import passwords, rules
from hwcloud_emulator.core import Emulator
from hwcloud_emulator.errors import CloudError
from hwcloud_emulator.gateway import EMULATOR_KEY
from hwcloud_emulator.state import (
    Op,
    VpnGroup,
    VpnServerState,
    VpnUser,
    VpnView,
    normalize_marker,
    page_after,
)

BASE = "/v5/{project_id}/p2c-vpn-gateways/vpn-servers/{vpn_server_id}"
MAX_LIMIT = 200
MAX_BATCH = 1000


# ---------------------------------------------------------------- helpers


def _emu(request: web.Request) -> Emulator:
    return request.app[EMULATOR_KEY]


def _server(request: web.Request) -> tuple[Emulator, VpnServerState]:
    emu = _emu(request)
    server_id = request.match_info["vpn_server_id"]
    server = emu.vpn.get(server_id)
    if server is None:
        raise CloudError("VPN_NOT_FOUND", f"VPN server {server_id}")
    server.settle(emu.now())
    return emu, server


def _writable(request: web.Request) -> tuple[Emulator, VpnServerState]:
    """The server of a write call, after the busy fault and the server status checks."""
    emu, server = _server(request)
    if emu.is_busy_now(request["operation"]):
        raise CloudError("VPN_BUSY")
    cfg = server.cfg
    if cfg.status != "ACTIVE":
        raise CloudError("VPN_INVALID", f"the VPN server is {cfg.status}, not ACTIVE")
    if cfg.client_auth_type != "LOCAL_PASSWORD":
        raise CloudError(
            "VPN_INVALID",
            f"the VPN server uses {cfg.client_auth_type} authentication, not LOCAL_PASSWORD",
        )
    return emu, server


def _body(request: web.Request) -> dict[str, Any]:
    raw = request.get("body", b"")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise CloudError("VPN_INVALID", "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise CloudError("VPN_INVALID", "the request body must be a JSON object")
    return data


def _member(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if not isinstance(value, dict):
        raise CloudError("VPN_INVALID", f"the body must hold an object {key!r}")
    return value


def _fail(reason: str | None) -> None:
    if reason:
        raise CloudError("VPN_INVALID", reason)


def _answer(request: web.Request, status: int, payload: dict[str, Any] | None) -> web.Response:
    if status == 204:
        return web.Response(status=204)
    return web.json_response(
        {**(payload or {}), "request_id": request["request_id"]}, status=status
    )


def _client_token(request: web.Request) -> str | None:
    token = request.headers.get("X-Client-Token")
    if token is None:
        return None
    if not rules.check_uuid(token):
        raise CloudError("VPN_INVALID", "X-Client-Token must be a 36-character UUID")
    return token.lower()


def _replay(request: web.Request, server: VpnServerState, token: str | None) -> web.Response | None:
    if token is None:
        return None
    stored = server.client_tokens.get(f"{request['operation']}:{token}")
    if stored is None:
        return None
    status, payload = stored
    return _answer(request, status, payload)


def _accepted(
    request: web.Request,
    emu: Emulator,
    server: VpnServerState,
    ops: list[Op],
    status: int,
    payload: dict[str, Any] | None,
    token: str | None = None,
) -> web.Response:
    """Queue ``ops`` (VPN.0030 if they do not fit), remember the answer, maybe drop it."""
    if ops:
        server.commit(ops, emu.now(), emu.config.apply_delay, emu.config.queue_capacity)
        emu.mark_changed()
    if token is not None:
        server.client_tokens[f"{request['operation']}:{token}"] = (status, payload or {})
    emu.maybe_drop(request["operation"])
    return _answer(request, status, payload)


def _paging(request: web.Request) -> tuple[int, str | None]:
    raw_limit = request.query.get("limit")
    limit = MAX_LIMIT
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise CloudError("VPN_INVALID", "limit must be an integer") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise CloudError("VPN_INVALID", f"limit must be 1 to {MAX_LIMIT}")
    marker = request.query.get("marker") or None
    if marker is not None:
        try:
            marker = normalize_marker(marker)
        except ValueError:
            raise CloudError(
                "VPN_INVALID", "marker must be the created_at of the previous page's last item"
            ) from None
    return limit, marker


def _page(
    request: web.Request,
    key: str,
    ordered: tuple[list[str], list[str]],
    render: Any,
) -> web.Response:
    limit, marker = _paging(request)
    stamps, ids = ordered
    page, next_marker = page_after(stamps, ids, marker, limit)
    items = [render(item_id) for item_id in page]
    page_info: dict[str, Any] = {"current_count": len(items)}
    if next_marker is not None:
        page_info["next_marker"] = next_marker
    payload = {key: items, "total_count": len(ids), "page_info": page_info}
    return _answer(request, 200, payload)


def render_group(view: VpnView, group: VpnGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "type": group.type,
        "user_number": view.user_count(group.id),
        "created_at": group.created_at,
        "updated_at": group.updated_at,
    }


def render_user(view: VpnView, user: VpnUser) -> dict[str, Any]:
    group = view.groups.get(user.user_group_id)
    return {
        "id": user.id,
        "name": user.name,
        "description": user.description,
        "user_group_id": user.user_group_id,
        "user_group_name": group.name if group else "",
        "static_ip": user.static_ip,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


def render_server(server: VpnServerState) -> dict[str, Any]:
    cfg = server.cfg
    return {
        "id": cfg.id,
        "p2c_vgw_id": cfg.p2c_vgw_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"p2c-vgw/{cfg.id}")),
        "client_cidr": cfg.client_cidr,
        "local_subnets": list(cfg.local_subnets),
        "client_auth_type": cfg.client_auth_type,
        "tunnel_protocol": "SSL",
        "server_certificate": {"id": "scs-emulator-0001", "name": "emulator-server-cert"},
        "client_ca_certificates": [],
        "ssl_options": {
            "protocol": "TCP",
            "port": 443,
            "encryption_algorithm": "AES-128-GCM",
            "authentication_algorithm": "SHA256",
            "is_compressed": False,
        },
        "dns_servers": [],
        "status": cfg.status,
        "created_at": server.created_at,
        "updated_at": server.created_at,
    }


def _group_in(view: VpnView, group_id: str) -> VpnGroup:
    group = view.groups.get(group_id)
    if group is None:
        raise CloudError("VPN_NOT_FOUND", f"user group {group_id}")
    return group


def _user_in(view: VpnView, user_id: str) -> VpnUser:
    user = view.users.get(user_id)
    if user is None:
        raise CloudError("VPN_NOT_FOUND", f"user {user_id}")
    return user


def _user_ids(body: dict[str, Any]) -> list[str]:
    users = body.get("users")
    if not isinstance(users, list) or not users:
        raise CloudError("VPN_INVALID", "'users' must be a non-empty list of {\"id\": ...}")
    if len(users) > MAX_BATCH:
        raise CloudError("VPN_INVALID", f"at most {MAX_BATCH} users per call")
    ids: list[str] = []
    for item in users:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise CloudError("VPN_INVALID", 'each entry of \'users\' must be {"id": "..."}')
        if item["id"] not in ids:
            ids.append(item["id"])
    return ids


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise CloudError("VPN_INVALID", f"{key} must be a string")
    return value


# ---------------------------------------------------------------- VPN servers


async def list_vpn_servers(request: web.Request) -> web.Response:
    emu = _emu(request)
    servers = list(emu.vpn.values())
    by_id = {s.cfg.id: s for s in servers}
    ordered = ([s.created_at for s in servers], [s.cfg.id for s in servers])
    return _page(request, "vpn_servers", ordered, lambda sid: render_server(by_id[sid]))


async def show_vpn_server(request: web.Request) -> web.Response:
    emu = _emu(request)
    server_id = request.match_info["vpn_server_id"]
    server = emu.vpn.get(server_id)
    if server is None:
        raise CloudError("VPN_NOT_FOUND", f"VPN server {server_id}")
    return _answer(request, 200, {"vpn_server": render_server(server)})


# ---------------------------------------------------------------- user groups


async def create_group(request: web.Request) -> web.Response:
    emu, server = _server(request)
    token = _client_token(request)
    replay = _replay(request, server, token)
    if replay is not None:
        return replay
    emu, server = _writable(request)
    spec = _member(_body(request), "user_group")
    name = spec.get("name")
    _fail(rules.check_group_name(name))
    description = _optional_str(spec, "description") or ""
    _fail(rules.check_description(description))
    if name in server.future.group_by_name:
        raise CloudError("VPN_INVALID", f"a user group named {name!r} already exists")
    stamp = server.stamper()
    group = VpnGroup(
        id=str(uuid.uuid4()),
        seq=server.next_seq(),
        name=name,
        description=description,
        type="Custom",
        created_at=stamp,
        updated_at=stamp,
    )
    payload = {"user_group": {"id": group.id}}
    return _accepted(request, emu, server, [("put_group", group)], 201, payload, token)


async def show_group(request: web.Request) -> web.Response:
    _, server = _server(request)
    group = _group_in(server.visible, request.match_info["group_id"])
    return _answer(request, 200, {"user_group": render_group(server.visible, group)})


async def list_groups(request: web.Request) -> web.Response:
    _, server = _server(request)
    view = server.visible
    return _page(
        request,
        "user_groups",
        view.ordered_groups(),
        lambda gid: render_group(view, view.groups[gid]),
    )


async def update_group(request: web.Request) -> web.Response:
    emu, server = _writable(request)
    group = _group_in(server.future, request.match_info["group_id"])
    spec = _member(_body(request), "user_group")
    name = _optional_str(spec, "name")
    description = _optional_str(spec, "description")
    if name is not None and name != group.name:
        if group.type == "Default":
            raise CloudError("VPN_INVALID", "the default user group cannot be renamed")
        _fail(rules.check_group_name(name))
        if name in server.future.group_by_name:
            raise CloudError("VPN_INVALID", f"a user group named {name!r} already exists")
    _fail(rules.check_description(description))
    new = replace(
        group,
        name=group.name if name is None else name,
        description=group.description if description is None else description,
        updated_at=server.stamper(),
    )
    payload = {"user_group": render_group(server.future, new)}
    return _accepted(request, emu, server, [("put_group", new)], 200, payload)


async def delete_group(request: web.Request) -> web.Response:
    emu, server = _writable(request)
    group = _group_in(server.future, request.match_info["group_id"])
    if group.type == "Default":
        raise CloudError("VPN_INVALID", "the default user group cannot be deleted")
    members = server.future.user_count(group.id)
    if members:
        raise CloudError(
            "VPN_INVALID",
            f"the user group {group.name!r} still has {members} user(s); "
            "remove or delete them first",
        )
    return _accepted(request, emu, server, [("del_group", group.id)], 204, None)


async def list_group_users(request: web.Request) -> web.Response:
    _, server = _server(request)
    view = server.visible
    group = _group_in(view, request.match_info["group_id"])

    def render(uid: str) -> dict[str, Any]:
        user = view.users[uid]
        return {"id": user.id, "name": user.name, "description": user.description}

    return _page(request, "users", view.ordered_members(group.id), render)


async def add_group_users(request: web.Request) -> web.Response:
    emu, server = _writable(request)
    future = server.future
    group = _group_in(future, request.match_info["group_id"])
    ids = _user_ids(_body(request))
    missing = [uid for uid in ids if uid not in future.users]
    if missing:
        raise CloudError("VPN_NOT_FOUND", f"user(s) {', '.join(missing)}")
    stamp = server.stamper()
    ops: list[Op] = []
    for uid in ids:
        user = future.users[uid]
        if user.user_group_id != group.id:
            ops.append(("put_user", replace(user, user_group_id=group.id, updated_at=stamp)))
    return _accepted(request, emu, server, ops, 201, None)


async def remove_group_users(request: web.Request) -> web.Response:
    emu, server = _writable(request)
    future = server.future
    group = _group_in(future, request.match_info["group_id"])
    if group.type == "Default":
        raise CloudError("VPN_INVALID", "users cannot be removed from the default user group")
    ids = _user_ids(_body(request))
    missing = [uid for uid in ids if uid not in future.users]
    if missing:
        raise CloudError("VPN_NOT_FOUND", f"user(s) {', '.join(missing)}")
    stamp = server.stamper()
    ops: list[Op] = []
    for uid in ids:
        user = future.users[uid]
        if user.user_group_id == group.id:
            moved = replace(user, user_group_id=server.default_group_id, updated_at=stamp)
            ops.append(("put_user", moved))
    return _accepted(request, emu, server, ops, 201, None)


# ---------------------------------------------------------------- users


def _new_user(
    server: VpnServerState,
    spec: dict[str, Any],
    group_id: str,
    taken_names: set[str],
    taken_ips: set[str],
    stamp: str,
) -> VpnUser | str:
    """A validated new user record, or the reason it is refused."""
    name = spec.get("name")
    reason = rules.check_user_name(name)
    if reason:
        return reason
    if name in server.future.user_by_name or name in taken_names:
        return f"a user named {name!r} already exists"
    password = spec.get("password")
    reason = rules.check_vpn_password(password, name)
    if reason:
        return reason
    description = spec.get("description")
    if description is None:
        description = ""
    reason = rules.check_description(description)
    if reason:
        return reason
    static_ip = spec.get("static_ip") or "disable"
    reason = rules.check_static_ip(static_ip, server.cfg.client_cidr)
    if reason:
        return reason
    if static_ip != "disable" and (static_ip in server.future.user_by_ip or static_ip in taken_ips):
        return f"static_ip {static_ip} is already assigned to another user"
    return VpnUser(
        id=str(uuid.uuid4()),
        seq=server.next_seq(),
        name=name,
        description=description,
        user_group_id=group_id,
        static_ip=static_ip,
        created_at=stamp,
        updated_at=stamp,
        pw_history=passwords.push_history(password, ()),
        pw_version=1,
        pw_fingerprint=passwords.fingerprint(password),
    )


async def create_user(request: web.Request) -> web.Response:
    emu, server = _server(request)
    token = _client_token(request)
    replay = _replay(request, server, token)
    if replay is not None:
        return replay
    emu, server = _writable(request)
    spec = _member(_body(request), "user")
    group_id = spec.get("user_group_id") or server.default_group_id
    if not isinstance(group_id, str):
        raise CloudError("VPN_INVALID", "user_group_id must be a string")
    _group_in(server.future, group_id)
    user = _new_user(server, spec, group_id, set(), set(), server.stamper())
    if isinstance(user, str):
        raise CloudError("VPN_INVALID", user)
    payload = {"user": {"id": user.id}}
    return _accepted(request, emu, server, [("put_user", user)], 201, payload, token)


async def batch_create_users(request: web.Request) -> web.Response:
    emu, server = _server(request)
    token = _client_token(request)
    replay = _replay(request, server, token)
    if replay is not None:
        return replay
    emu, server = _writable(request)
    rows = _body(request).get("users")
    if not isinstance(rows, list) or not rows:
        raise CloudError("VPN_INVALID", "'users' must be a non-empty list")
    if len(rows) > MAX_BATCH:
        raise CloudError("VPN_INVALID", f"at most {MAX_BATCH} users per call")
    names: set[str] = set()
    ips: set[str] = set()
    created: list[VpnUser] = []
    invalid: list[dict[str, Any]] = []
    for row in rows:
        if not isinstance(row, dict):
            raise CloudError("VPN_INVALID", "each entry of 'users' must be an object")
        group_name = row.get("user_group_name")
        if group_name:
            group_id = server.future.group_by_name.get(group_name)
        else:
            group_id = server.default_group_id
        result: VpnUser | str
        if group_id is None:
            result = f"user group {group_name!r} does not exist"
        else:
            # Each user gets its own created_at: list markers are creation times.
            result = _new_user(server, row, group_id, names, ips, server.stamper())
        if isinstance(result, str):
            invalid.append(
                {
                    "name": row.get("name"),
                    "description": row.get("description"),
                    "user_group_name": group_name,
                    "static_ip": row.get("static_ip"),
                    "cause": result,
                }
            )
            continue
        names.add(result.name)
        if result.static_ip != "disable":
            ips.add(result.static_ip)
        created.append(result)
    if invalid:
        # One invalid row fails the whole batch: nothing is created (as the service documents).
        return _answer(request, 201, {"invalid_users": invalid})
    ops: list[Op] = [("put_user", user) for user in created]
    return _accepted(request, emu, server, ops, 201, {"invalid_users": []}, token)


async def batch_delete_users(request: web.Request) -> web.Response:
    emu, server = _writable(request)
    ids = _user_ids(_body(request))
    ops: list[Op] = [("del_user", uid) for uid in ids if uid in server.future.users]
    return _accepted(request, emu, server, ops, 200, None)


async def show_user(request: web.Request) -> web.Response:
    _, server = _server(request)
    user = _user_in(server.visible, request.match_info["user_id"])
    return _answer(request, 200, {"user": render_user(server.visible, user)})


async def list_users(request: web.Request) -> web.Response:
    _, server = _server(request)
    view = server.visible
    return _page(
        request, "users", view.ordered_users(), lambda uid: render_user(view, view.users[uid])
    )


async def update_user(request: web.Request) -> web.Response:
    emu, server = _writable(request)
    user = _user_in(server.future, request.match_info["user_id"])
    spec = _member(_body(request), "user")
    name = spec.get("name")
    if name is not None and name != user.name:
        raise CloudError("VPN_INVALID", "the user name cannot be changed")
    description = _optional_str(spec, "description")
    _fail(rules.check_description(description))
    group_id = _optional_str(spec, "user_group_id") or None
    if group_id is not None:
        _group_in(server.future, group_id)
    static_ip = _optional_str(spec, "static_ip") or None
    if static_ip is not None and static_ip != user.static_ip:
        _fail(rules.check_static_ip(static_ip, server.cfg.client_cidr))
        holder = server.future.user_by_ip.get(static_ip)
        if static_ip != "disable" and holder is not None and holder != user.id:
            raise CloudError("VPN_INVALID", f"static_ip {static_ip} is already assigned")
    new = replace(
        user,
        description=user.description if description is None else description,
        user_group_id=group_id or user.user_group_id,
        static_ip=static_ip or user.static_ip,
        updated_at=server.stamper(),
    )
    payload = {"user": render_user(server.future, new)}
    return _accepted(request, emu, server, [("put_user", new)], 200, payload)


async def delete_user(request: web.Request) -> web.Response:
    emu, server = _writable(request)
    user = _user_in(server.future, request.match_info["user_id"])
    return _accepted(request, emu, server, [("del_user", user.id)], 204, None)


def _rotate(server: VpnServerState, user: VpnUser, new_password: object) -> VpnUser:
    _fail(rules.check_vpn_password(new_password, user.name))
    assert isinstance(new_password, str)
    if passwords.in_history(new_password, user.pw_history):
        raise CloudError(
            "VPN_INVALID",
            f"the new password must differ from the last {passwords.HISTORY} passwords",
        )
    return replace(
        user,
        pw_history=passwords.push_history(new_password, user.pw_history),
        pw_version=user.pw_version + 1,
        pw_fingerprint=passwords.fingerprint(new_password),
        updated_at=server.stamper(),
    )


async def reset_password(request: web.Request) -> web.Response:
    emu, server = _writable(request)
    user = _user_in(server.future, request.match_info["user_id"])
    new = _rotate(server, user, _body(request).get("new_password"))
    return _accepted(request, emu, server, [("put_user", new)], 200, None)


async def change_password(request: web.Request) -> web.Response:
    emu, server = _writable(request)
    user = _user_in(server.future, request.match_info["user_id"])
    body = _body(request)
    old = body.get("old_password")
    if not isinstance(old, str) or not user.pw_history:
        raise CloudError("VPN_INVALID", "old_password is required")
    if not passwords.verify_secret(old, user.pw_history[0]):
        raise CloudError("VPN_INVALID", "the old password is incorrect")
    new = _rotate(server, user, body.get("new_password"))
    return _accepted(request, emu, server, [("put_user", new)], 200, None)


ROUTES: list[tuple[str, str, Any, str]] = [
    ("GET", "/v5/{project_id}/vpn-servers", list_vpn_servers, "list_vpn_servers"),
    ("GET", "/v5/{project_id}/vpn-servers/{vpn_server_id}", show_vpn_server, "show_vpn_server"),
    ("POST", BASE + "/groups", create_group, "create_group"),
    ("GET", BASE + "/groups", list_groups, "list_groups"),
    ("GET", BASE + "/groups/{group_id}", show_group, "show_group"),
    ("PUT", BASE + "/groups/{group_id}", update_group, "update_group"),
    ("DELETE", BASE + "/groups/{group_id}", delete_group, "delete_group"),
    ("GET", BASE + "/groups/{group_id}/users", list_group_users, "list_group_users"),
    ("POST", BASE + "/groups/{group_id}/add-users", add_group_users, "add_group_users"),
    ("POST", BASE + "/groups/{group_id}/remove-users", remove_group_users, "remove_group_users"),
    ("POST", BASE + "/users/batch-create", batch_create_users, "batch_create_users"),
    ("POST", BASE + "/users/batch-delete", batch_delete_users, "batch_delete_users"),
    ("POST", BASE + "/users", create_user, "create_user"),
    ("GET", BASE + "/users", list_users, "list_users"),
    ("GET", BASE + "/users/{user_id}", show_user, "show_user"),
    ("PUT", BASE + "/users/{user_id}", update_user, "update_user"),
    ("DELETE", BASE + "/users/{user_id}", delete_user, "delete_user"),
    ("POST", BASE + "/users/{user_id}/reset-password", reset_password, "reset_password"),
    ("PUT", BASE + "/users/{user_id}/password", change_password, "change_password"),
]
