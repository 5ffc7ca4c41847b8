"""The API gateway in front of the emulated services (an aiohttp middleware).

Order for every non-admin request:
1. route match (no route: 404 ``APIGW.0101``);
2. injected ``latency``;
3. authentication: ``SDK-HMAC-SHA256`` signature or an ``X-Auth-Token`` the emulator issued
   (IAM token issue authenticates itself from its body);
4. project check: the ``{project_id}`` in the path (and ``X-Project-Id`` if sent) must be
   the emulator's project, and a token's scope must be that project;
5. policy check: an operation in ``deny_operations`` gets the service's 403;
6. request faults (``throttle_rate``, ``fail_next``, ``error_rate``);
7. the service handler, which may raise ``CloudError`` or, after accepting a change,
   ``DropConnection``.
Each call is counted in the stats under its operation name and status, under the VPN
server or RocketMQ instance its path names, and under its caller once authenticated.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from hwcloud_emulator import clock, signing
from hwcloud_emulator.core import DropConnection, Emulator, Identity
from hwcloud_emulator.errors import BUSY_CODES, CloudError, injected_error
from hwcloud_emulator.operations import UNKNOWN, service_of

log = logging.getLogger("hwcloud_emulator")

EMULATOR_KEY: web.AppKey[Emulator] = web.AppKey("emulator", Emulator)
ADMIN_PREFIX = "/_emulator/"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def split_raw_target(request: web.Request) -> tuple[str, str]:
    """The path and query exactly as sent on the request line."""
    target = request.raw_path
    path, _, query = target.partition("?")
    return path, query


def verify_signature(emu: Emulator, request: web.Request, body: bytes) -> str:
    """The access key of a correctly signed request, else CloudError 401."""
    path, query = split_raw_target(request)
    try:
        return signing.verify(
            method=request.method,
            raw_path=path,
            raw_query=query,
            headers=request.headers,
            body=body,
            secret_for=emu.secrets.get,
            now=clock.utcnow(),
            skew_limit=emu.config.clock_skew_limit,
        )
    except signing.SignatureError as exc:
        raise CloudError("AUTH_INVALID", exc.reason) from None


def authenticate(emu: Emulator, request: web.Request, body: bytes) -> Identity:
    if request.headers.get("Authorization"):
        access_key = verify_signature(emu, request, body)
        return Identity(emu.config.project_id, access_key, "aksk")
    token_value = request.headers.get("X-Auth-Token")
    if token_value:
        token = emu.tokens.check(token_value)
        return Identity(token.project_id, token.user_name, "token")
    raise CloudError("AUTH_MISSING")


def check_project(emu: Emulator, request: web.Request, identity: Identity) -> None:
    project = emu.config.project_id
    in_path = request.match_info.get("project_id")
    if in_path is not None and in_path != project:
        raise CloudError("PROJECT_MISMATCH", f"unknown project {in_path!r}")
    header = request.headers.get("X-Project-Id")
    if header is not None and header.strip() != project:
        raise CloudError("PROJECT_MISMATCH", "X-Project-Id does not match the project")
    if identity.project_id != project:
        raise CloudError("PROJECT_MISMATCH", "the token is scoped to another project")


def _json_error(exc: CloudError, request_id: str) -> web.Response:
    response = web.json_response(exc.body(), status=exc.status)
    response.headers["X-Request-Id"] = request_id
    return response


def _principal(request: web.Request) -> str | None:
    identity: Identity | None = request.get("identity")
    return None if identity is None else identity.principal


def _target(request: web.Request) -> str | None:
    """The VPN server or RocketMQ instance a call names in its path."""
    info = request.match_info
    return info.get("vpn_server_id") or info.get("instance_id")


@web.middleware
async def gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(ADMIN_PREFIX):
        return await handler(request)
    emu = request.app[EMULATOR_KEY]
    match_error = getattr(request.match_info, "http_exception", None)
    route_name = None if match_error is not None else request.match_info.route.name
    operation = route_name or UNKNOWN
    service = service_of(operation)
    request_id = uuid.uuid4().hex
    request["request_id"] = request_id
    request["operation"] = operation
    try:
        if match_error is not None:
            raise CloudError("NO_API")
        if emu.faults.latency:
            await asyncio.sleep(emu.faults.latency)
        body = await request.read()
        request["body"] = body
        if operation != "issue_token":
            identity = authenticate(emu, request, body)
            request["identity"] = identity
            check_project(emu, request, identity)
            emu.check_policy(operation, service, identity)
        emu.inject_request_faults(operation, service)
        response = await handler(request)
        busy = False
    except CloudError as exc:
        response = _json_error(exc, request_id)
        busy = exc.code in BUSY_CODES
    except web.HTTPException:
        raise
    except DropConnection:
        emu.stats.record(operation, "dropped", principal=_principal(request),
                         target=_target(request))
        log.debug("dropping the answer to %s on purpose", operation)
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError() from None
    except ConnectionResetError:  # the caller went away before its answer (a timeout)
        emu.stats.record(operation, "caller-gone", principal=_principal(request),
                         target=_target(request))
        raise asyncio.CancelledError() from None
    except Exception as exc:  # a bug in the emulator: answer like the service's own 500
        log.error("internal error in %s: %s", operation, type(exc).__name__, exc_info=exc)
        error = injected_error(500, service)
        response = _json_error(error, request_id)
        busy = False
    emu.stats.record(operation, response.status, busy, _principal(request), _target(request))
    response.headers.setdefault("X-Request-Id", request_id)
    return response
