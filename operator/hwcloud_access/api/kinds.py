"""The registry of kinds: each kind's models and the facts its CRD needs."""

from __future__ import annotations

from dataclasses import dataclass, field

from .account import HuaweiCloudAccountSpec, HuaweiCloudAccountStatus
from .base import ACCOUNT_REF_FIXED_ONCE_CREATED, OBSERVE_NOT_WHILE_CREATING, ApiModel
from .mq import MqUserSpec, MqUserStatus
from .vpn import VpnUserGroupSpec, VpnUserGroupStatus, VpnUserSpec, VpnUserStatus


@dataclass(frozen=True)
class KindDef:
    kind: str
    plural: str
    short_names: tuple[str, ...]
    spec_model: type[ApiModel]
    status_model: type[ApiModel]
    description: str
    namespaced: bool = True
    extra_columns: tuple[dict[str, str], ...] = field(default_factory=tuple)
    object_rules: tuple[dict[str, str], ...] = ()  # CEL rules on the whole object

    @property
    def singular(self) -> str:
        return self.kind.lower()


# What keeps a resource's cloud object tracked (CEL on the whole object: spec and status).
CLOUD_OBJECT_RULES = (ACCOUNT_REF_FIXED_ONCE_CREATED, OBSERVE_NOT_WHILE_CREATING)

VPN_USER_GROUP = KindDef(
    kind="VpnUserGroup",
    plural="vpnusergroups",
    short_names=("vug",),
    spec_model=VpnUserGroupSpec,
    status_model=VpnUserGroupStatus,
    description="A user group on a Huawei Cloud P2C VPN server.",
    extra_columns=({"name": "Users", "type": "integer", "jsonPath": ".status.userNumber"},),
    object_rules=CLOUD_OBJECT_RULES,
)
VPN_USER = KindDef(
    kind="VpnUser",
    plural="vpnusers",
    short_names=("vu",),
    spec_model=VpnUserSpec,
    status_model=VpnUserStatus,
    description="A local-password user on a Huawei Cloud P2C VPN server.",
    extra_columns=({"name": "Group", "type": "string", "jsonPath": ".status.userGroupName"},),
    object_rules=CLOUD_OBJECT_RULES,
)
MQ_USER = KindDef(
    kind="MqUser",
    plural="mqusers",
    short_names=("mqu",),
    spec_model=MqUserSpec,
    status_model=MqUserStatus,
    description="An ACL user of a Huawei Cloud DMS for RocketMQ instance.",
    object_rules=CLOUD_OBJECT_RULES,
)
HUAWEI_CLOUD_ACCOUNT = KindDef(
    kind="HuaweiCloudAccount",
    plural="huaweicloudaccounts",
    short_names=("hwa",),
    spec_model=HuaweiCloudAccountSpec,
    status_model=HuaweiCloudAccountStatus,
    description="Region, project and credentials the operator uses to call Huawei Cloud.",
    namespaced=False,
    extra_columns=({"name": "Region", "type": "string", "jsonPath": ".spec.region"},),
)

ALL_KINDS: tuple[KindDef, ...] = (VPN_USER_GROUP, VPN_USER, MQ_USER, HUAWEI_CLOUD_ACCOUNT)
KIND_NAMED: dict[str, KindDef] = {kind.kind: kind for kind in ALL_KINDS}
