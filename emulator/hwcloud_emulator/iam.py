"""IAM ``POST /v3/auth/tokens``: issue a project-scoped token; ``GET /v3/auth/projects``.

Accepted identities (``auth.identity.methods``):
- ``password``: ``password.user`` with ``name``, ``password`` and ``domain`` (``name`` or
  ``id``), matching an entry of ``iam_users``;
- ``hw_ak_sk``: ``hw_ak_sk.access.key`` / ``hw_ak_sk.secret.key`` matching ``credentials``;
- any body on a request carrying a valid ``SDK-HMAC-SHA256`` signature (the signer's access
  key is the identity).
The scope must be ``auth.scope.project`` with the emulator's ``id`` or its ``name`` (the
region). The answer is 201 with the token in ``X-Subject-Token``.

IAM ``GET /v3/auth/projects`` (Keystone's "projects the caller may access"): the gateway
authenticates it like any service call (signature or token); the answer lists the emulator's
one project, in the caller's domain.
"""

from __future__ import annotations

import hmac
import json
import uuid
from typing import Any

from aiohttp import web

from hwcloud_emulator import clock
from hwcloud_emulator.core import Emulator, Identity
from hwcloud_emulator.errors import CloudError
from hwcloud_emulator.gateway import EMULATOR_KEY, verify_signature

AKSK_DOMAIN = "emulator-domain"  # the domain of every AK/SK credential


def _domain_id(name: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.domain.emulator").hex


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _same(a: object, b: str) -> bool:
    return isinstance(a, str) and hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _password_identity(emu: Emulator, auth: dict[str, Any]) -> tuple[str, str]:
    user = _get(auth, "identity", "password", "user")
    if not isinstance(user, dict):
        raise CloudError("IAM_INVALID", "identity.password.user is required")
    domain = user.get("domain") or {}
    domain_name, domain_id = _get(domain, "name"), _get(domain, "id")
    for entry in emu.config.iam_users:
        if domain_name is not None and domain_name != entry.domain:
            continue
        if domain_name is None and domain_id != _domain_id(entry.domain):
            continue
        if user.get("name") == entry.name and _same(user.get("password"), entry.password):
            return entry.name, entry.domain
    raise CloudError("IAM_AUTH_FAILED")


def _aksk_identity(emu: Emulator, auth: dict[str, Any]) -> tuple[str, str]:
    access = _get(auth, "identity", "hw_ak_sk", "access", "key")
    secret = _get(auth, "identity", "hw_ak_sk", "secret", "key")
    known = emu.secrets.get(access) if isinstance(access, str) else None
    if known is None or not _same(secret, known):
        raise CloudError("IAM_AUTH_FAILED")
    return access, AKSK_DOMAIN


def _scope(emu: Emulator, auth: dict[str, Any]) -> None:
    project = _get(auth, "scope", "project")
    if not isinstance(project, dict):
        raise CloudError("IAM_INVALID", "a project scope (auth.scope.project) is required")
    if project.get("id") is not None:
        if project["id"] != emu.config.project_id:
            raise CloudError("IAM_INVALID", "unknown project id in the scope")
    elif project.get("name") != emu.config.region:
        raise CloudError("IAM_INVALID", "unknown project name in the scope")


async def issue_token(request: web.Request) -> web.Response:
    emu: Emulator = request.app[EMULATOR_KEY]
    raw = request.get("body", b"")
    try:
        body = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError):
        raise CloudError("IAM_INVALID", "the body is not valid JSON") from None
    auth = body.get("auth") if isinstance(body, dict) else None
    if not isinstance(auth, dict):
        raise CloudError("IAM_INVALID", "the body must hold an object 'auth'")
    methods = _get(auth, "identity", "methods")
    if request.headers.get("Authorization"):
        user_name, domain = verify_signature(emu, request, raw), AKSK_DOMAIN
        methods = ["hw_ak_sk"]
    elif isinstance(methods, list) and "password" in methods:
        user_name, domain = _password_identity(emu, auth)
    elif isinstance(methods, list) and "hw_ak_sk" in methods:
        user_name, domain = _aksk_identity(emu, auth)
    else:
        raise CloudError("IAM_INVALID", "identity.methods must contain 'password' or 'hw_ak_sk'")
    if "scope" in auth or "Authorization" not in request.headers:
        _scope(emu, auth)
    value, token = emu.tokens.issue(
        project_id=emu.config.project_id,
        user_name=user_name,
        domain_name=domain,
        methods=tuple(methods),
        ttl=emu.config.token_ttl,
    )
    domain_ref = {"id": _domain_id(domain), "name": domain}
    payload = {
        "token": {
            "methods": list(methods),
            "issued_at": clock.iso_seconds(token.issued_at),
            "expires_at": clock.iso_seconds(token.expires_at),
            "project": {
                "id": emu.config.project_id,
                "name": emu.config.region,
                "domain": domain_ref,
            },
            "user": {
                "id": uuid.uuid5(uuid.NAMESPACE_DNS, f"{user_name}.{domain}.user.emulator").hex,
                "name": user_name,
                "domain": domain_ref,
                "password_expires_at": "",
            },
            "roles": [{"id": "0", "name": "te_admin"}],
            "catalog": [],
        }
    }
    response = web.json_response(payload, status=201)
    response.headers["X-Subject-Token"] = value
    return response


async def list_auth_projects(request: web.Request) -> web.Response:
    emu: Emulator = request.app[EMULATOR_KEY]
    identity: Identity = request["identity"]
    domain = AKSK_DOMAIN if identity.method == "aksk" else \
        emu.tokens.check(request.headers["X-Auth-Token"]).domain_name
    base = str(request.url.origin())
    project_id, domain_id = emu.config.project_id, _domain_id(domain)
    project = {
        "id": project_id,
        "name": emu.config.region,
        "domain_id": domain_id,
        "parent_id": domain_id,
        "is_domain": False,
        "enabled": True,
        "description": "",
        "links": {"self": f"{base}/v3/projects/{project_id}"},
    }
    return web.json_response({"links": {"self": f"{base}/v3/auth/projects"},
                              "projects": [project]})


ROUTES: list[tuple[str, str, Any, str]] = [
    ("POST", "/v3/auth/tokens", issue_token, "issue_token"),
    ("GET", "/v3/auth/projects", list_auth_projects, "list_auth_projects"),
]
