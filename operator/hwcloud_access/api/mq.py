"""MqUser: a DMS for RocketMQ instance's ACL user."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import (
    CLOUD_ID_PATTERN,
    ApiModel,
    ManagedSpec,
    ManagedStatus,
    SecretKeySelector,
    immutable,
)

MQ_ACCESS_KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{6,63}$"
# The RocketMQ ACL values, for topics and consumer groups alike (the API reference's own
# "Creating a User" example grants a group PUB|SUB); only the default for groups is narrower.
AclPerm = Literal["PUB", "SUB", "PUB|SUB", "DENY"]
DefaultGroupPerm = Literal["SUB", "DENY"]
RESOURCE_NAME = Field(
    min_length=1, max_length=64, pattern=r"^[A-Za-z0-9%_-]+$",
    description="Topic or consumer group name.",
)
ACL_PERM = Field(description="PUB, SUB, PUB|SUB or DENY.")


class TopicPermission(ApiModel):
    name: str = RESOURCE_NAME
    perm: AclPerm = ACL_PERM


class GroupPermission(ApiModel):
    name: str = RESOURCE_NAME
    perm: AclPerm = ACL_PERM


class MqUserSpec(ManagedSpec):
    instance_id: str = Field(
        pattern=CLOUD_ID_PATTERN,
        description="ID of the DMS for RocketMQ instance (ACL enabled). Immutable.",
    )
    access_key: str = Field(
        pattern=MQ_ACCESS_KEY_PATTERN,
        description="User name (access key): starts with a letter; 7-64 letters, digits, "
        "_ and -. Immutable.",
    )
    secret_key_secret_ref: SecretKeySelector | None = Field(
        default=None,
        description="Secret key holding the secret key. When empty the operator generates one "
        "and writes it to a Secret it owns (status.credentialsSecret). Changing the Secret's "
        "content updates the key in the cloud.",
    )
    white_remote_address: str = Field(
        default="", max_length=1024, description="IP whitelist (addresses or CIDRs); empty for any."
    )
    admin: bool = Field(default=False, description="Administrator: all topics and groups.")
    default_topic_perm: AclPerm = Field(
        default="DENY", description="Permission on topics not listed in topicPerms."
    )
    default_group_perm: DefaultGroupPerm = Field(
        default="DENY", description="Permission on consumer groups not listed in groupPerms."
    )
    topic_perms: list[TopicPermission] = Field(
        default_factory=list, max_length=1000, description="Per-topic permissions."
    )
    group_perms: list[GroupPermission] = Field(
        default_factory=list, max_length=1000, description="Per-consumer-group permissions."
    )

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [immutable("instanceId"), immutable("accessKey")]
        }
    }


class MqUserStatus(ManagedStatus):
    credentials_fingerprint: str | None = Field(
        default=None,
        description="Keyed hash of the credentials last applied (not the credentials): "
        "a change of the Secret's content triggers a reset.",
    )
    credentials_secret: str | None = Field(
        default=None, description="Secret (same namespace) holding the generated secret key."
    )
