"""Typed cloud errors and the ONE table that maps answers to them.

``classify(status, body, operation)`` turns an HTTP answer into a ``CloudError``.
Lookup order: the error code (exact, then prefix), then the HTTP status. Every
error says whether it is ``retryable`` and whether it is a ``congestion`` signal
(the per-server limiter shrinks on those).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_MAX_MESSAGE = 500


class CloudError(Exception):
    """An answer (or no answer) from the cloud that is not a success."""

    retryable: bool = False
    # Whether the request may have taken effect all the same: no answer, or a 5xx that a
    # gateway may have given after the service acted. A refusal (busy, 4xx) did nothing.
    may_have_applied: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        operation: str = "",
        request_id: str | None = None,
        retryable: bool | None = None,
        congestion: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.message = message[:_MAX_MESSAGE]
        self.status = status
        self.code = code
        self.operation = operation
        self.request_id = request_id
        if retryable is not None:
            self.retryable = retryable
        self.congestion = congestion
        self.retry_after = retry_after
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = [self.operation or "cloud call"]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(self.code)
        text = " ".join(parts) + f": {self.message}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"operation={self.operation!r}, retryable={self.retryable!r}, "
            f"message={self.message!r})"
        )


class NotFoundError(CloudError):
    """The object does not exist (or is not visible yet: the cloud is asynchronous)."""


class InstanceNotFoundError(CloudError):
    """The RocketMQ instance itself does not exist (DMS.00404022). Terminal.

    Deliberately not a ``NotFoundError``: a missing instance does not mean a missing
    user that should be created.
    """


class InvalidRequestError(CloudError):
    """A 400 the cloud will give again for the same input. Terminal."""


class ConflictError(CloudError):
    """The name is already taken (told apart from the message or a 409): for a create, an
    object to look for; otherwise the cloud's state is in the way, not the request itself.
    Not retried inside the client."""


AlreadyExistsError = ConflictError


class PasswordReusedError(InvalidRequestError):
    """The new password is one of the user's recent ones (VPN keeps the last 5). Terminal,
    except right after our own reset whose answer was lost: then it is what took effect."""


class QuotaExceededError(CloudError):
    """A quota is used up. Terminal until someone raises it."""


class AccessDeniedError(CloudError):
    """403: the account may not do this. Terminal."""


class AuthError(CloudError):
    """401: bad credentials, a bad signature, a clock off by more than 15 minutes,
    or a token still refused after one refresh. Terminal."""


class BusyError(CloudError):
    """The server is congested or the same operation is in progress. Retryable."""

    retryable = True


class ThrottledError(BusyError):
    """429 from the API gateway. Retryable."""


class LimiterTimeoutError(CloudError):
    """No slot of the local per-server limiter within the time budget: no request was
    sent, and the budget is spent. Retryable by the caller (a requeue), never inside the
    client; not a BusyError, which is the cloud's own answer."""

    retryable = True


class ServerError(CloudError):
    """5xx. Retryable, but the request may have been applied (a gateway's 502/504 after the
    service acted)."""

    retryable = True
    may_have_applied = True


class TransportError(CloudError):
    """No answer: connection refused/reset, timeout. Retryable, but the request may
    have been applied: repeat a create only with the same client token, or look the
    object up by name first."""

    may_have_applied = True

    retryable = True


@dataclass(frozen=True)
class Rule:
    cls: type[CloudError]
    retryable: bool
    congestion: bool = False
    meaning: str = ""
    only_status: int | None = None  # the rule holds only with this HTTP status


# The one table. 429 and 5xx by status first (any 5xx is retryable whatever its code;
# the gateway's APIGW.0201/0202/0203 are 5xx), then codes (exact match, then the longest
# matching prefix ending in "."), then HTTP status, then status class. Messages are
# never needed to classify, except to refine a terminal 400 into "already exists" or
# "quota" (see _refine).
CODE_RULES: dict[str, Rule] = {
    "VPN.0001": Rule(InvalidRequestError, False, meaning="invalid request"),
    "VPN.0002": Rule(ServerError, True, meaning="server error"),
    "VPN.0003": Rule(AccessDeniedError, False, meaning="access denied"),
    "VPN.0004": Rule(NotFoundError, False, meaning="resource not found"),
    "VPN.0030": Rule(BusyError, True, congestion=True, meaning="system busy (queue congested)"),
    "VPN.0031": Rule(BusyError, True, meaning="repeated operation in progress"),
    "DMS.00404022": Rule(InstanceNotFoundError, False, meaning="instance does not exist"),
    "DMS.00400026": Rule(
        BusyError, True, congestion=True, meaning="operation not allowed in instance status"
    ),
    "DMS.00500972": Rule(NotFoundError, False, meaning="user not found"),
    "DMS.00400973": Rule(ConflictError, False, meaning="user already exists"),
    # A 404 from the gateway means "no such API" (wrong endpoint or path), never "no
    # such object": reading it as NotFound would make a delete look done.
    "APIGW.0101": Rule(InvalidRequestError, False, meaning="no such API", only_status=404),
    "APIGW.": Rule(AuthError, False, meaning="gateway authentication failure",
                   only_status=401),
}
STATUS_RULES: dict[int, Rule] = {
    400: Rule(InvalidRequestError, False, meaning="bad request"),
    401: Rule(AuthError, False, meaning="unauthenticated"),
    403: Rule(AccessDeniedError, False, meaning="forbidden"),
    # A 404 without the service's own not-found code (VPN.0004, DMS.00500972) comes from
    # something else on the way (a wrong endpoint path, a proxy): never proof of absence.
    404: Rule(InvalidRequestError, False, meaning="not found, without the service's "
              "not-found code (a wrong endpoint or a proxy?)"),
    409: Rule(ConflictError, False, meaning="conflict"),
    429: Rule(ThrottledError, True, congestion=True, meaning="throttled"),
}
SERVER_ERROR_RULE = Rule(ServerError, True, meaning="server error")
CLIENT_ERROR_RULE = Rule(InvalidRequestError, False, meaning="client error")

_CONFLICT = re.compile(r"already\s+(?:exist|in use|been used|taken)|duplicat|name\s+exists", re.I)
_REUSED = re.compile(r"last \d+ passwords|recently used|used recently|password history", re.I)
_QUOTA = re.compile(r"quota|exceeds? the (?:maximum|limit)|limit exceeded", re.I)


def lookup(status: int, code: str | None) -> Rule:
    """The rule for an answer (see the order above)."""
    if status == 429:
        return STATUS_RULES[429]
    if status >= 500:
        return SERVER_ERROR_RULE
    if code:
        candidates = [CODE_RULES[code]] if code in CODE_RULES else []
        candidates += [
            CODE_RULES[p]
            for p in sorted(CODE_RULES, key=len, reverse=True)
            if p.endswith(".") and code.startswith(p)
        ]
        for rule in candidates:
            if rule.only_status is None or rule.only_status == status:
                return rule
    if status in STATUS_RULES:
        return STATUS_RULES[status]
    if status >= 500:
        return SERVER_ERROR_RULE
    return CLIENT_ERROR_RULE


def parse_error_body(body: bytes | str | None) -> tuple[str | None, str]:
    """(code, message) from a VPN ``{code,message}``, DMS/gateway ``{error_code,error_msg}``,
    ``{errorCode,errorMsg}`` or a nested ``{"error": {...}}`` body; the SDK's order."""
    if body is None:
        return None, ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        return None, text.strip()
    if not isinstance(data, dict):
        return None, text.strip()
    found = _find_code(data)
    if found is None:
        return None, text.strip()
    return found


_CODE_KEYS = (("error_code", "error_msg"), ("errorCode", "errorMsg"), ("code", "message"))


def _find_code(data: dict[str, Any]) -> tuple[str | None, str] | None:
    for code_key, msg_key in _CODE_KEYS:
        if code_key in data:
            code = data.get(code_key)
            message = data.get(msg_key) or data.get("message") or data.get("title") or ""
            return (str(code) if code not in (None, "") else None), str(message)
    for value in data.values():
        if isinstance(value, dict):
            found = _find_code(value)
            if found is not None:
                return found
    return None


def _retry_after(headers: Any) -> float | None:
    if headers is None:
        return None
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def classify(
    status: int,
    body: bytes | str | None,
    *,
    operation: str = "",
    headers: Any = None,
) -> CloudError:
    """The typed error for a non-2xx answer."""
    code, message = parse_error_body(body)
    rule = lookup(status, code)
    cls = _refine(rule.cls, code, message)
    request_id = None
    if headers is not None and hasattr(headers, "get"):
        request_id = headers.get("X-Request-Id")
    return cls(
        message or rule.meaning,
        status=status,
        code=code,
        operation=operation,
        request_id=request_id,
        retryable=rule.retryable,
        congestion=rule.congestion,
        retry_after=_retry_after(headers) if rule.retryable else None,
    )


def _refine(cls: type[CloudError], code: str | None, message: str) -> type[CloudError]:
    if cls is InvalidRequestError:
        if _REUSED.search(message):
            return PasswordReusedError
        if _CONFLICT.search(message):
            return ConflictError
        if _QUOTA.search(message):
            return QuotaExceededError
    return cls


def transport_error(exc: BaseException, *, operation: str = "") -> TransportError:
    """A connection error or timeout. The message names the failure, never the request."""
    kind = type(exc).__name__
    return TransportError(
        f"{kind}: no answer from the cloud; the request may have been applied",
        operation=operation,
    )
