"""Helpers for the contract tests: official SDK clients on the emulator, raw signed requests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from huaweicloudsdkcore.auth.credentials import BasicCredentials, GlobalCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkiam.v3 import IamClient
from huaweicloudsdkrocketmq.v2 import RocketMQClient
from huaweicloudsdkvpn.v5 import VpnClient
from tests.support.emulator import EmulatorProcess

T = TypeVar("T")


def _http_config() -> HttpConfig:
    config = HttpConfig.get_default_config()
    config.timeout = (5, 15)
    return config


def credentials(emu: EmulatorProcess, sk: str | None = None) -> BasicCredentials:
    c = emu.config
    return BasicCredentials(c.access_key, sk or c.secret_key, c.project_id)


def vpn_client(
    emu: EmulatorProcess, sk: str | None = None, *, http_handler: HttpHandler | None = None
) -> VpnClient:
    return (
        VpnClient.new_builder()
        .with_credentials(credentials(emu, sk))
        .with_endpoints([emu.url])
        .with_http_config(_http_config())
        .with_http_handler(http_handler)
        .build()
    )


def mq_client(emu: EmulatorProcess, *, http_handler: HttpHandler | None = None) -> RocketMQClient:
    return (
        RocketMQClient.new_builder()
        .with_credentials(credentials(emu))
        .with_endpoints([emu.url])
        .with_http_config(_http_config())
        .with_http_handler(http_handler)
        .build()
    )


def iam_client(emu: EmulatorProcess, domain_id: str, sk: str | None = None) -> IamClient:
    """IAM is a global service: the SDK signs with the account's domain id (given, or it
    would ask IAM for it first) instead of a project id."""
    c = emu.config
    return (
        IamClient.new_builder()
        .with_credentials(GlobalCredentials(c.access_key, sk or c.secret_key, domain_id))
        .with_endpoints([emu.url])
        .with_http_config(_http_config())
        .build()
    )


def unique(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_for(fn: Callable[[], T], timeout: float = 5.0, interval: float = 0.05) -> T:
    """Call ``fn`` until it returns something truthy without raising; return that."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = fn()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout}s (last error: {last!r})")
        time.sleep(interval)


def sdk_error(fn: Callable[[], Any]) -> ClientRequestException:
    """Run an SDK call that must fail with a 4xx; return the exception."""
    try:
        fn()
    except ClientRequestException as exc:
        return exc
    raise AssertionError("the call succeeded but should have failed")


def signed(
    emu: EmulatorProcess,
    method: str,
    path: str,
    *,
    query: list[tuple[str, Any]] | None = None,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    sk: str | None = None,
    ak: str | None = None,
    sdk_date: str | None = None,
) -> tuple[str, dict[str, str], bytes]:
    """Sign a request with huaweicloudsdkcore's Signer: (url, headers, body) to send."""
    c = emu.config
    parts = urlsplit(emu.url)
    header_params = {"Content-Type": "application/json", "X-Project-Id": c.project_id}
    header_params.update(headers or {})
    if sdk_date:
        header_params["X-Sdk-Date"] = sdk_date
    request = SdkRequest(
        method=method,
        schema=parts.scheme,
        host=parts.netloc,
        resource_path=path,
        query_params=list(query or []),
        header_params=header_params,
        body=body,
    )
    Signer(BasicCredentials(ak or c.access_key, sk or c.secret_key, c.project_id)).sign(request)
    return emu.url + request.uri, dict(request.header_params), body


def send(url: str, headers: dict[str, str], body: bytes, method: str = "GET") -> httpx.Response:
    return httpx.request(method, url, headers=headers, content=body or None, timeout=10)


def vpn_base(emu: EmulatorProcess) -> str:
    c = emu.config
    return f"/v5/{c.project_id}/p2c-vpn-gateways/vpn-servers/{c.vpn_server_id}"


def retry_busy(fn: Callable[[], T], timeout: float = 10.0) -> T:
    """Call ``fn``; while it fails with VPN.0030 (queue full), wait a little and call again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except ClientRequestException as exc:
            if exc.error_code != "VPN.0030" or time.monotonic() > deadline:
                raise
        time.sleep(0.05)
