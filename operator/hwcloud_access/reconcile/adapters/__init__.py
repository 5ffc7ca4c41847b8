"""One small adapter per kind: how to find, create, read, update, delete and compare it."""

from ...api import MQ_USER, VPN_USER, VPN_USER_GROUP
from .mq_user import MqUserAdapter
from .vpn_group import VpnUserGroupAdapter
from .vpn_user import VpnUserAdapter

ADAPTERS = {
    VPN_USER_GROUP.kind: VpnUserGroupAdapter(),
    VPN_USER.kind: VpnUserAdapter(),
    MQ_USER.kind: MqUserAdapter(),
}

__all__ = ["ADAPTERS", "MqUserAdapter", "VpnUserAdapter", "VpnUserGroupAdapter"]
