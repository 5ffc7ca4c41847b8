"""API models of each kind: the one source of truth for the CRDs and for reconciling."""

from .base import API_VERSION, GROUP, VERSION, Condition
from .kinds import (
    ALL_KINDS,
    HUAWEI_CLOUD_ACCOUNT,
    KIND_NAMED,
    MQ_USER,
    VPN_USER,
    VPN_USER_GROUP,
    KindDef,
)

__all__ = [
    "ALL_KINDS",
    "API_VERSION",
    "GROUP",
    "HUAWEI_CLOUD_ACCOUNT",
    "KIND_NAMED",
    "MQ_USER",
    "VERSION",
    "VPN_USER",
    "VPN_USER_GROUP",
    "Condition",
    "KindDef",
]
