"""Huawei Cloud HTTP clients: VPN v5 users/groups, DMS for RocketMQ v2 users.

Shares no code with the emulator (``hwcloud_emulator``, a distribution of its own) on
purpose: the emulator stands in for the cloud in tests, and a shared bug would hide.
"""

from .errors import (
    AccessDeniedError,
    AlreadyExistsError,
    AuthError,
    BusyError,
    CloudError,
    ConflictError,
    InstanceNotFoundError,
    InvalidRequestError,
    LimiterTimeoutError,
    NotFoundError,
    PasswordReusedError,
    QuotaExceededError,
    ServerError,
    ThrottledError,
    TransportError,
)
from .models import (
    MqUser,
    MqUserWrite,
    Perm,
    VpnGroup,
    VpnUser,
)
from .rocketmq import MAX_PAGE as MQ_PAGE_SIZE
from .rocketmq import RocketMqClient
from .session import AccountConfig, CloudSession
from .vpn import MAX_PAGE as VPN_PAGE_SIZE
from .vpn import VpnClient

__all__ = [
    "MQ_PAGE_SIZE",
    "VPN_PAGE_SIZE",
    "AccessDeniedError",
    "AccountConfig",
    "AlreadyExistsError",
    "AuthError",
    "BusyError",
    "CloudError",
    "CloudSession",
    "ConflictError",
    "InstanceNotFoundError",
    "InvalidRequestError",
    "LimiterTimeoutError",
    "MqUser",
    "MqUserWrite",
    "NotFoundError",
    "PasswordReusedError",
    "Perm",
    "QuotaExceededError",
    "RocketMqClient",
    "ServerError",
    "ThrottledError",
    "TransportError",
    "VpnClient",
    "VpnGroup",
    "VpnUser",
]
