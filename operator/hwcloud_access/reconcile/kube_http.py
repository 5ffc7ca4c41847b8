"""JSON requests to the Kubernetes API server on the event loop, as the kubernetes client's
configuration says.

The official client is synchronous: each call in a worker thread cost about 2.8 ms of CPU
(urllib3, TLS, the hand-off to the thread and back, the GIL the event loop then waits for),
against about 0.45 ms for the same call on aiohttp (`make bench` counts 2-3 of these calls
per object). The kubernetes client's `Configuration` (in-cluster or kubeconfig) stays the one
source of where and who: its server, CA, client certificate, proxy and token, the token read
again every AUTH_TTL seconds and after a 401, so that a refreshed one is used (the client's
refresh hook reloads the whole kubeconfig: asked per request, it cost more than the request).
"""

from __future__ import annotations

import json
import ssl
import time
from typing import Any
from urllib.parse import quote

import aiohttp
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .. import __version__

USER_AGENT = f"hwcloud-access-operator/{__version__}"  # what the API server's audit log shows
TIMEOUT = aiohttp.ClientTimeout(total=60)  # a call the API server never answers fails
AUTH_TTL = 60.0  # seconds: the token is read from the configuration again after this


def segment(name: str) -> str:
    """One path segment (a namespace or an object's name)."""
    return quote(name, safe="")


class KubeHttp:
    def __init__(self, configuration: client.Configuration, connections: int = 32) -> None:
        self.configuration = configuration
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._auth: dict[str, str] = {}
        self._auth_until = -1.0

    def _ssl_context(self) -> ssl.SSLContext:
        cfg = self.configuration
        context = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
        if cfg.cert_file:
            context.load_cert_chain(cfg.cert_file, cfg.key_file)
        if not cfg.verify_ssl:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _headers(self) -> dict[str, str]:
        """The client's own auth settings (a token, refreshed by its hook) or basic auth."""
        now = time.monotonic()
        if now >= self._auth_until:
            cfg = self.configuration
            self._auth = {setting["key"]: setting["value"]
                          for setting in cfg.auth_settings().values()
                          if setting["in"] == "header" and setting["value"]}
            if "authorization" not in self._auth and (cfg.username or cfg.password):
                self._auth["authorization"] = cfg.get_basic_auth_token()
            self._auth_until = now + AUTH_TTL
        return dict(self._auth)

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self.connections, ssl=self._ssl_context())
        self._session = aiohttp.ClientSession(connector=connector, timeout=TIMEOUT,
                                              headers={"user-agent": USER_AGENT})
        return self._session

    async def request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """The answer's JSON object; an error answer raises the client's ApiException (its
        status, reason and body). A PATCH is a JSON merge patch. A 401 is asked once more
        with the token read again."""
        try:
            return await self._send(method, path, body)
        except ApiException as error:
            if error.status != 401:
                raise
            self._auth_until = -1.0
            return await self._send(method, path, body)

    async def _send(self, method: str, path: str, body: Any) -> dict[str, Any]:
        session = self._session or self._open()
        headers = self._headers()
        data = None
        if body is not None:
            headers["content-type"] = ("application/merge-patch+json" if method == "PATCH"
                                       else "application/json")
            data = json.dumps(body)
        cfg = self.configuration
        async with session.request(method, cfg.host + path, data=data, headers=headers,
                                   proxy=cfg.proxy or None,
                                   server_hostname=cfg.tls_server_name or None) as response:
            text = await response.text()
            if response.status >= 400:
                raise ApiException(status=response.status, reason=response.reason, body=text)
        return json.loads(text) if text else {}

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
