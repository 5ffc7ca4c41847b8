"""KubeHttp against a real HTTP server: who it says it is (the kubernetes client's token,
read again for each request), what a PATCH is, and how an error answer reads."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from hwcloud_access.reconcile.kube_http import USER_AGENT, KubeHttp


@pytest.fixture
async def server():
    seen: list[dict] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.text()
        seen.append({"method": request.method, "path": request.path,
                     "authorization": request.headers.get("authorization"),
                     "agent": request.headers.get("user-agent"),
                     "content_type": request.headers.get("content-type"), "body": body})
        if request.path.endswith("/missing"):
            return web.json_response({"kind": "Status", "reason": "NotFound"}, status=404)
        return web.json_response({"echo": json.loads(body) if body else None})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


def configuration(host: str, token: str) -> client.Configuration:
    cfg = client.Configuration(host=host)
    cfg.api_key = {"BearerToken": token}
    cfg.api_key_prefix = {"BearerToken": "Bearer"}
    return cfg


async def test_the_token_is_the_clients_own_and_read_for_each_request(server) -> None:
    host, seen = server
    cfg = configuration(host, "first")
    http = KubeHttp(cfg)
    try:
        await http.request("GET", "/api/v1/namespaces")
        cfg.refresh_api_key_hook = lambda c: c.api_key.update(BearerToken="rotated")
        await http.request("GET", "/api/v1/namespaces")
    finally:
        await http.aclose()
    assert [s["authorization"] for s in seen] == ["Bearer first", "Bearer rotated"]
    assert {s["agent"] for s in seen} == {USER_AGENT}  # the audit log names the operator


async def test_a_patch_is_a_merge_patch_and_the_answer_is_json(server) -> None:
    host, seen = server
    http = KubeHttp(configuration(host, "t"))
    try:
        answer = await http.request("PATCH", "/apis/g/v1/namespaces/ns/things/a/status",
                                    {"status": {"phase": None}})
        created = await http.request("POST", "/api/v1/namespaces/ns/secrets", {"a": 1})
    finally:
        await http.aclose()
    assert answer == {"echo": {"status": {"phase": None}}} and created == {"echo": {"a": 1}}
    assert [s["content_type"] for s in seen] == ["application/merge-patch+json",
                                                 "application/json"]


async def test_an_error_answer_is_the_clients_api_exception(server) -> None:
    host, _ = server
    http = KubeHttp(configuration(host, "t"))
    try:
        with pytest.raises(ApiException) as raised:
            await http.request("GET", "/api/v1/namespaces/ns/secrets/missing")
    finally:
        await http.aclose()
    assert raised.value.status == 404 and "NotFound" in raised.value.body
