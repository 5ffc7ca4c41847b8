"""Verification of ``SDK-HMAC-SHA256`` request signatures (Huawei's AK/SK signing).

Written from the contract: canonical request =
``METHOD \\n canonical URI \\n canonical query \\n canonical headers \\n signed headers \\n
payload hash``; string to sign = ``SDK-HMAC-SHA256 \\n X-Sdk-Date \\n sha256(canonical request)``;
signature = hex(HMAC-SHA256(SK, string to sign)).

- canonical URI: the path percent-decoded, split at ``/``, each segment re-encoded (RFC 3986
  unreserved characters kept), joined, and always ending in ``/``;
- canonical query: ``key=value`` pairs, both re-encoded the same way, sorted, joined by ``&``
  (the query is decoded with ``%XX`` only; a ``+`` is a literal plus);
- canonical headers: ``name:value`` for each signed header, lower-case name, trimmed value;
- payload hash: sha256 of the body, the hash of the empty string for no body, or the literal
  ``UNSIGNED-PAYLOAD`` when the request says so in ``X-Sdk-Content-Sha256``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_HASH = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_AUTH_RE = re.compile(
    r"^SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]+)\s*$"
)


class SignatureError(Exception):
    """Why a signature was refused; ``reason`` is safe to show (no secrets)."""

    def __init__(self, reason: str, date_problem: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.date_problem = date_problem


@dataclass(frozen=True)
class ParsedAuthorization:
    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


def _encode(value: str) -> str:
    return quote(value, safe="~")


def parse_authorization(value: str) -> ParsedAuthorization:
    match = _AUTH_RE.match(value.strip())
    if not match:
        raise SignatureError("malformed SDK-HMAC-SHA256 Authorization header")
    headers = tuple(match.group(2).split(";"))
    if any(not h or h != h.lower() for h in headers):
        raise SignatureError("SignedHeaders must be lower-case names joined by ';'")
    return ParsedAuthorization(match.group(1), headers, match.group(3).lower())


def canonical_uri(raw_path: str) -> str:
    segments = unquote(raw_path).split("/")
    uri = "/".join(_encode(seg) for seg in segments)
    if not uri.endswith("/"):
        uri += "/"
    return uri


def canonical_query(raw_query: str) -> str:
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote(key), unquote(value)))
    pairs.sort()
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in pairs)


def canonical_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    signed_headers: tuple[str, ...],
    body: bytes,
) -> str:
    """``headers`` is looked up by lower-case name (pass a case-insensitive mapping)."""
    lines = []
    for name in signed_headers:
        value = headers.get(name)
        if value is None:
            raise SignatureError(f"signed header {name!r} is missing from the request")
        lines.append(f"{name}:{value.strip()}")
    canonical_headers = "\n".join(lines) + "\n"
    if not body:
        payload_hash = EMPTY_HASH
    else:
        declared = headers.get("x-sdk-content-sha256")
        actual = hashlib.sha256(body).hexdigest()
        if declared is None:
            payload_hash = actual
        elif declared.strip() == UNSIGNED_PAYLOAD:
            payload_hash = UNSIGNED_PAYLOAD
        elif declared.strip().lower() == actual:
            payload_hash = actual
        else:
            raise SignatureError("X-Sdk-Content-Sha256 does not match the body")
    return "\n".join(
        [
            method.upper(),
            canonical_uri(raw_path),
            canonical_query(raw_query),
            canonical_headers,
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(canonical: str, sdk_date: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def signature(secret_key: str, to_sign: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def check_date(sdk_date: str | None, now: datetime, skew_limit: float) -> None:
    if not sdk_date:
        raise SignatureError("X-Sdk-Date header is missing", date_problem=True)
    try:
        when = datetime.strptime(sdk_date.strip(), DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError("X-Sdk-Date is not YYYYMMDDTHHMMSSZ", date_problem=True) from None
    if abs((now - when).total_seconds()) > skew_limit:
        raise SignatureError(
            f"X-Sdk-Date is more than {int(skew_limit)} seconds off the server time",
            date_problem=True,
        )


def verify(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    secret_for: Callable[[str], str | None],
    now: datetime,
    skew_limit: float,
) -> str:
    """Check the request's signature; return its access key or raise SignatureError."""
    auth = headers.get("authorization")
    if not auth:
        raise SignatureError("Authorization header is missing")
    parsed = parse_authorization(auth)
    for required in ("host", "x-sdk-date"):
        if required not in parsed.signed_headers:
            raise SignatureError(f"{required!r} must be a signed header")
    sdk_date = headers.get("x-sdk-date")
    check_date(sdk_date, now, skew_limit)
    secret = secret_for(parsed.access_key)
    if secret is None:
        raise SignatureError("the access key is not known")
    canonical = canonical_request(method, raw_path, raw_query, headers, parsed.signed_headers, body)
    expected = signature(secret, string_to_sign(canonical, sdk_date.strip()))
    if not hmac.compare_digest(expected, parsed.signature):
        raise SignatureError("verify aksk signature fail")
    return parsed.access_key
