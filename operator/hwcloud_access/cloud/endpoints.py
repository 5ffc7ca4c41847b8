"""Region endpoints of the three Huawei Cloud services the operator talks to.

Every endpoint can be overridden (tests point all of them at the emulator).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

_TEMPLATES = {
    "vpn": "https://vpn.{region}.myhuaweicloud.com",
    "dms": "https://dms.{region}.myhuaweicloud.com",
    "iam": "https://iam.{region}.myhuaweicloud.com",
}
_REGION = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def default_endpoint(service: str, region: str) -> str:
    """The public endpoint of ``service`` (``vpn``, ``dms`` or ``iam``) in ``region``."""
    if service not in _TEMPLATES:
        raise ValueError(f"unknown service {service!r}")
    if not _REGION.match(region):
        raise ValueError(f"invalid region {region!r}")
    return _TEMPLATES[service].format(region=region)


def normalize_endpoint(url: str) -> str:
    """Check an endpoint override: absolute http(s) URL, no query; trailing ``/`` removed."""
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"endpoint must be an absolute http(s) URL: {url!r}")
    if parsed.query or parsed.fragment:
        raise ValueError(f"endpoint must not have a query or fragment: {url!r}")
    return url.rstrip("/")


@dataclass(frozen=True)
class Endpoints:
    vpn: str
    dms: str
    iam: str

    @classmethod
    def for_region(
        cls,
        region: str,
        *,
        vpn: str | None = None,
        dms: str | None = None,
        iam: str | None = None,
    ) -> Endpoints:
        def pick(service: str, override: str | None) -> str:
            if override:
                return normalize_endpoint(override)
            return default_endpoint(service, region)

        return cls(vpn=pick("vpn", vpn), dms=pick("dms", dms), iam=pick("iam", iam))
