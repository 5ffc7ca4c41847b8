"""The one table of every error the emulator answers: HTTP status, code, message, body style.

Body styles:

- ``vpn``:   ``{"code": ..., "message": ...}``              (P2C VPN v5)
- ``dms``:   ``{"error_code": ..., "error_msg": ...}``      (DMS for RocketMQ v2)
- ``apigw``: ``{"error_code": ..., "error_msg": ...}``      (the API gateway in front of both)
- ``iam``:   ``{"error_code": ..., "error_msg": ...}``      (IAM token issue)

The official SDK reads ``error_code``/``error_msg``, ``errorCode``/``errorMsg`` or
``code``/``message``, so every body is understood by it. Codes marked *emulator-chosen* in
docs/emulator.md are not documented by Huawei; the others are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hwcloud_emulator.operations import DMS, IAM, VPN


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    code: str
    message: str  # may contain "{detail}"
    style: str  # vpn | dms | apigw | iam


ERRORS: dict[str, ErrorSpec] = {
    # --- API gateway (authentication, routing, throttling, injected backend failures)
    "AUTH_MISSING": ErrorSpec(
        401,
        "APIGW.0301",
        "Incorrect IAM authentication information: no Authorization or X-Auth-Token header.",
        "apigw",
    ),
    "AUTH_INVALID": ErrorSpec(
        401, "APIGW.0301", "Incorrect IAM authentication information: {detail}", "apigw"
    ),
    "TOKEN_EXPIRED": ErrorSpec(401, "APIGW.0307", "The token must be updated.", "apigw"),
    "PROJECT_MISMATCH": ErrorSpec(
        403, "APIGW.0302", "The IAM user is not authorized to access the API: {detail}", "apigw"
    ),
    "NO_API": ErrorSpec(
        404,
        "APIGW.0101",
        "The API does not exist or has not been published in the environment.",
        "apigw",
    ),
    "THROTTLED": ErrorSpec(
        429, "APIGW.0308", "The throttling threshold has been reached.", "apigw"
    ),
    "BAD_GATEWAY": ErrorSpec(502, "APIGW.0201", "Bad gateway: the backend failed.", "apigw"),
    "UNAVAILABLE": ErrorSpec(503, "APIGW.0202", "The backend service is unavailable.", "apigw"),
    "GATEWAY_TIMEOUT": ErrorSpec(504, "APIGW.0203", "The backend service timed out.", "apigw"),
    # --- P2C VPN v5
    "VPN_INVALID": ErrorSpec(400, "VPN.0001", "Invalid request: {detail}", "vpn"),
    "VPN_SERVER_ERROR": ErrorSpec(500, "VPN.0002", "Internal server error.", "vpn"),
    "VPN_FORBIDDEN": ErrorSpec(403, "VPN.0003", "Authentication failed: {detail}", "vpn"),
    "VPN_NOT_FOUND": ErrorSpec(404, "VPN.0004", "Resource not found: {detail}", "vpn"),
    "VPN_BUSY": ErrorSpec(400, "VPN.0030", "The system is busy, please try later.", "vpn"),
    # --- DMS for RocketMQ v2
    "DMS_INVALID": ErrorSpec(400, "DMS.00400010", "Invalid parameter: {detail}", "dms"),
    "DMS_STATUS": ErrorSpec(
        400,
        "DMS.00400026",
        "This operation is not allowed in the instance's current status. Try again later.",
        "dms",
    ),
    "DMS_ACL_DISABLED": ErrorSpec(
        400, "DMS.00400926", "ACL is not enabled for this instance.", "dms"
    ),
    "DMS_USER_EXISTS": ErrorSpec(400, "DMS.00400973", "The user already exists: {detail}", "dms"),
    "DMS_FORBIDDEN": ErrorSpec(
        403,
        "DMS.00403003",
        "This role does not have the permissions to perform this operation.",
        "dms",
    ),
    "DMS_INSTANCE_NOT_FOUND": ErrorSpec(404, "DMS.00404022", "The instance does not exist.", "dms"),
    "DMS_USER_NOT_FOUND": ErrorSpec(
        400, "DMS.00500972", "The user does not exist: {detail}", "dms"
    ),
    "DMS_SERVER_ERROR": ErrorSpec(500, "DMS.00500000", "Internal service error.", "dms"),
    # --- IAM token issue
    "IAM_INVALID": ErrorSpec(400, "IAM.0001", "The request body is invalid: {detail}", "iam"),
    "IAM_AUTH_FAILED": ErrorSpec(401, "IAM.0002", "The username or password is wrong.", "iam"),
    "IAM_SERVER_ERROR": ErrorSpec(500, "IAM.0500", "Internal server error.", "iam"),
}

# The error a service answers for an injected HTTP 500 (other statuses come from the gateway).
SERVER_ERROR_OF_SERVICE = {
    VPN: "VPN_SERVER_ERROR",
    DMS: "DMS_SERVER_ERROR",
    IAM: "IAM_SERVER_ERROR",
}
# The error a service answers when an IAM policy denies the call (``faults.deny_operations``).
DENIED_OF_SERVICE = {
    VPN: "VPN_FORBIDDEN",
    DMS: "DMS_FORBIDDEN",
}
GATEWAY_ERROR_OF_STATUS = {
    429: "THROTTLED",
    502: "BAD_GATEWAY",
    503: "UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}
INJECTABLE_STATUSES = frozenset({500, *GATEWAY_ERROR_OF_STATUS})
# The "busy" answers counted by the stats (retryable congestion).
BUSY_CODES = frozenset({"VPN.0030", "DMS.00400026"})


class CloudError(Exception):
    """Raise with a key of ERRORS; the gateway middleware renders it."""

    def __init__(self, name: str, detail: str = "") -> None:
        spec = ERRORS[name]
        super().__init__(f"{spec.code}: {detail}")
        self.name = name
        self.spec = spec
        self.detail = detail

    @property
    def status(self) -> int:
        return self.spec.status

    @property
    def code(self) -> str:
        return self.spec.code

    @property
    def message(self) -> str:
        return self.spec.message.format(detail=self.detail).strip()

    def body(self) -> dict[str, Any]:
        if self.spec.style == "vpn":
            return {"code": self.code, "message": self.message}
        return {"error_code": self.code, "error_msg": self.message}


def injected_error(status: int, service: str) -> CloudError:
    """The error answered for an injected failure of ``status`` on a call to ``service``."""
    if status == 500:
        return CloudError(SERVER_ERROR_OF_SERVICE.get(service, "VPN_SERVER_ERROR"))
    return CloudError(GATEWAY_ERROR_OF_STATUS.get(status, "UNAVAILABLE"))
