"""VpnUserGroup and VpnUser: a P2C VPN server's user groups and local-password users."""

from __future__ import annotations

from pydantic import Field

from .base import (
    CLOUD_ID_PATTERN,
    ApiModel,
    LocalObjectReference,
    ManagedSpec,
    ManagedStatus,
    SecretKeySelector,
    immutable,
)

VPN_GROUP_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
VPN_USER_NAME_PATTERN = r"^[A-Za-z0-9._-]{4,32}$"
IPV4_PATTERN = (
    r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$"
)
STATIC_IP_PATTERN = rf"^disable$|{IPV4_PATTERN}"

VPN_SERVER_ID = Field(
    pattern=CLOUD_ID_PATTERN,
    description="ID of the P2C VPN server (gateway) the object lives on. Immutable.",
)
DESCRIPTION = Field(default="", max_length=64, description="Free text, at most 64 characters.")


class VpnUserGroupSpec(ManagedSpec):
    vpn_server_id: str = VPN_SERVER_ID
    name: str | None = Field(
        default=None,
        pattern=VPN_GROUP_NAME_PATTERN,
        description="Group name in the cloud (1-64 letters, digits, _ and -); "
        "defaults to metadata.name. Immutable.",
    )
    description: str = DESCRIPTION

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [immutable("vpnServerId"), immutable("name")]
        }
    }


class VpnUserGroupStatus(ManagedStatus):
    type: str | None = Field(default=None, description="Group type read back: Default or Custom.")
    user_number: int | None = Field(default=None, description="Users in the group, read back.")


class VpnUserSpec(ManagedSpec):
    vpn_server_id: str = VPN_SERVER_ID
    name: str | None = Field(
        default=None,
        pattern=VPN_USER_NAME_PATTERN,
        description="User name in the cloud (4-32 letters, digits, ., _ and -); "
        "defaults to metadata.name. Immutable.",
    )
    description: str = DESCRIPTION
    group_ref: LocalObjectReference | None = Field(
        default=None,
        description="VpnUserGroup in the same namespace the user belongs to. "
        "Exclusive with groupId; with neither, the server's default group.",
    )
    group_id: str | None = Field(
        default=None,
        pattern=CLOUD_ID_PATTERN,
        description="Cloud ID of a user group not managed by this cluster. "
        "Exclusive with groupRef. A group that a VpnUserGroup of another namespace manages "
        "is refused (InvalidSpec).",
    )
    static_ip: str = Field(
        default="disable",
        pattern=STATIC_IP_PATTERN,
        description="Fixed client IPv4 address inside the server's client CIDR, or 'disable'.",
    )
    password_secret_ref: SecretKeySelector | None = Field(
        default=None,
        description="Secret key holding the password. When empty the operator generates one "
        "and writes it to a Secret it owns (status.credentialsSecret). Changing the Secret's "
        "content resets the password in the cloud.",
    )

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                immutable("vpnServerId"),
                immutable("name"),
                {
                    "rule": "!(has(self.groupRef) && has(self.groupId))",
                    "message": "groupRef and groupId are mutually exclusive",
                },
            ]
        }
    }


class VpnUserStatus(ManagedStatus):
    group_id: str | None = Field(default=None, description="Cloud ID of the user's group.")
    user_group_name: str | None = Field(default=None, description="Group name read back.")
    credentials_fingerprint: str | None = Field(
        default=None,
        description="Keyed hash of the credentials last applied (not the credentials): "
        "a change of the Secret's content triggers a reset.",
    )
    credentials_secret: str | None = Field(
        default=None, description="Secret (same namespace) holding the generated password."
    )
