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
        if request.headers.get("authorization") == "Bearer expired":
            return web.json_response({"kind": "Status", "reason": "Unauthorized"}, status=401)
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


async def test_the_token_is_the_clients_own_read_again_after_a_401(server) -> None:
    host, seen = server
    cfg = configuration(host, "expired")
    tokens = iter(["expired", "rotated"])  # what the kubeconfig's refresh hook finds
    cfg.refresh_api_key_hook = lambda c: c.api_key.update(BearerToken=next(tokens))
    http = KubeHttp(cfg)
    try:
        assert await http.request("GET", "/api/v1/namespaces") == {"echo": None}
        cfg.refresh_api_key_hook = None
        cfg.api_key["BearerToken"] = "expired"  # and nothing better to be had: one retry
        await http.request("GET", "/api/v1/namespaces")  # still the cached "rotated"
        http._auth_until = -1.0
        with pytest.raises(ApiException) as refused:
            await http.request("GET", "/api/v1/namespaces")
    finally:
        await http.aclose()
    assert refused.value.status == 401
    assert [s["authorization"] for s in seen] == [
        "Bearer expired", "Bearer rotated", "Bearer rotated", "Bearer expired",
        "Bearer expired"]
    assert {s["agent"] for s in seen} == {USER_AGENT}  # the audit log names the operator


async def test_the_token_is_not_read_again_for_every_request(server) -> None:
    host, _ = server
    cfg = configuration(host, "t")
    reads: list[int] = []
    cfg.refresh_api_key_hook = lambda c: reads.append(1)
    http = KubeHttp(cfg)
    try:
        for _ in range(5):
            await http.request("GET", "/api/v1/namespaces")
    finally:
        await http.aclose()
    assert len(reads) == 1  # the hook reloads the kubeconfig: once per AUTH_TTL


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
