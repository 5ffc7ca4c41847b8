"""JSON requests to the Kubernetes API server on the event loop, as the kubernetes client's
configuration says.

The official client is synchronous: each call in a worker thread cost about 2.8 ms of CPU
(urllib3, TLS, the hand-off to the thread and back, the GIL the event loop then waits for),
against about 0.45 ms for the same call on aiohttp (`make bench` counts 2-3 of these calls
per object). The kubernetes client's `Configuration` (in-cluster or kubeconfig) stays the one
source of where and who: its server, CA, client certificate, proxy and token, the token read
for each request so that a refreshed one is used.
"""

from __future__ import annotations

import json
import ssl
from typing import Any
from urllib.parse import quote

import aiohttp
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .. import __version__

USER_AGENT = f"hwcloud-access-operator/{__version__}"  # what the API server's audit log shows
TIMEOUT = aiohttp.ClientTimeout(total=60)  # a call the API server never answers fails


def segment(name: str) -> str:
    """One path segment (a namespace or an object's name)."""
    return quote(name, safe="")


class KubeHttp:
    def __init__(self, configuration: client.Configuration, connections: int = 32) -> None:
        self.configuration = configuration
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None

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
        cfg = self.configuration
        headers = {setting["key"]: setting["value"] for setting in cfg.auth_settings().values()
                   if setting["in"] == "header" and setting["value"]}
        if "authorization" not in headers and (cfg.username or cfg.password):
            headers["authorization"] = cfg.get_basic_auth_token()
        return headers

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self.connections, ssl=self._ssl_context())
        self._session = aiohttp.ClientSession(connector=connector, timeout=TIMEOUT,
                                              headers={"user-agent": USER_AGENT})
        return self._session

    async def request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """The answer's JSON object; an error answer raises the client's ApiException (its
        status, reason and body). A PATCH is a JSON merge patch."""
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
