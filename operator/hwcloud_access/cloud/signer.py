"""SDK-HMAC-SHA256 request signing (the algorithm of huaweicloudsdkcore's ``Signer``).

Pure functions: no clock, no I/O. ``sign`` takes every header it is given as a
header to sign (except names containing ``_``, as the SDK does); the httpx auth flow
in ``auth.py`` decides which headers those are.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
HEADER_DATE = "X-Sdk-Date"
HEADER_CONTENT_SHA256 = "X-Sdk-Content-Sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def format_date(moment: datetime) -> str:
    """``YYYYMMDDTHHMMSSZ`` in UTC (naive datetimes are taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(DATE_FORMAT)


def url_encode(value: str) -> str:
    """RFC 3986 encoding as the SDK does it: everything but unreserved characters."""
    return quote(value, safe="~")


def canonical_uri(path: str) -> str:
    """Each segment of the (decoded) path URL-encoded; always ends in ``/``."""
    encoded = "/".join(url_encode(segment) for segment in unquote(path or "/").split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """Pairs sorted by (key, value) on the raw strings, then each side URL-encoded.

    The SDK sorts before encoding; so do we, so both agree on every key set.
    """
    return "&".join(
        f"{url_encode(key)}={url_encode(value)}" for key, value in sorted(params)
    )


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    return sorted({name.lower() for name in headers if "_" not in name})


def canonical_headers(headers: Mapping[str, str], names: Iterable[str]) -> str:
    lowered = {name.lower(): str(value).strip() for name, value in headers.items()}
    return "".join(f"{name}:{lowered[name]}\n" for name in names)


def payload_hash(body: bytes, headers: Mapping[str, str]) -> str:
    if not body:
        return EMPTY_SHA256
    for name, value in headers.items():
        if name.lower() == HEADER_CONTENT_SHA256.lower() and value:
            return value
    return hashlib.sha256(body).hexdigest()


def needs_unsigned_payload(headers: Mapping[str, str]) -> bool:
    """True when the body is not JSON/BSON: the SDK then signs ``UNSIGNED-PAYLOAD``."""
    for name, value in headers.items():
        if name.lower() == "content-type" and value:
            return not (
                value.startswith("application/json") or value.startswith("application/bson")
            )
    return False


def canonical_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
) -> tuple[str, list[str]]:
    names = signed_header_names(headers)
    text = "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            canonical_headers(headers, names),
            ";".join(names),
            payload_hash(body, headers),
        ]
    )
    return text, names


def string_to_sign(sdk_date: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def signature(secret_key: str, to_sign: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization(access_key: str, names: Iterable[str], sig: str) -> str:
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(names)}, Signature={sig}"


@dataclass(frozen=True)
class Signed:
    canonical_request: str
    string_to_sign: str
    signed_headers: list[str]
    signature: str
    authorization: str


def sign(
    *,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    access_key: str,
    secret_key: str,
) -> Signed:
    """Sign a request whose ``headers`` already hold ``X-Sdk-Date`` and ``Host``.

    ``headers`` must also hold ``X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD`` when
    ``needs_unsigned_payload`` says so (``auth.sign_request`` adds it).
    """
    sdk_date = None
    for name, value in headers.items():
        if name.lower() == HEADER_DATE.lower():
            sdk_date = str(value).strip()
    if sdk_date is None:
        raise ValueError("X-Sdk-Date header is required")
    canonical, names = canonical_request(method, path, query, headers, body)
    to_sign = string_to_sign(sdk_date, canonical)
    sig = signature(secret_key, to_sign)
    return Signed(canonical, to_sign, names, sig, authorization(access_key, names, sig))
