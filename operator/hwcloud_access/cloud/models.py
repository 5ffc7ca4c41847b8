"""Pydantic models of the VPN v5 and DMS-for-RocketMQ v2 requests and answers.

Field names are the API's JSON names (checked against huaweicloudsdkvpn v5 and
huaweicloudsdkrocketmq v2 model classes). Answers ignore unknown fields, so a
newer cloud does not break reads. The cloud's `created_at`/`updated_at` stamps are
not read: nothing the operator decides depends on them (a moved stamp is no drift),
and parsing them was a large part of reading a listing. No model holds a secret:
passwords and secret keys are passed beside them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

PermList = Annotated[list["Perm"], BeforeValidator(lambda value: value or [])]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# ---- VPN v5 -------------------------------------------------------------------------


class VpnGroup(_Answer):
    id: str
    name: str
    description: str | None = None
    type: str | None = None  # "Default" or "Custom"
    user_number: int | None = None


class VpnUser(_Answer):
    id: str
    name: str
    description: str | None = None
    user_group_id: str | None = None
    user_group_name: str | None = None
    static_ip: str | None = None


class PageInfo(_Answer):
    next_marker: str | None = None


# ---- DMS for RocketMQ v2 ----------------------------------------------------------


class Perm(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    perm: str  # PUB, SUB, PUB|SUB or DENY, for topics and groups alike


class MqUserWrite(BaseModel):
    """What the operator writes for a RocketMQ user (the secret key travels apart)."""

    model_config = ConfigDict(frozen=True)

    access_key: str
    white_remote_address: str | None = None
    admin: bool = False
    default_topic_perm: str | None = None
    default_group_perm: str | None = None  # SUB or DENY (narrower than a per-group perm)
    topic_perms: list[Perm] = Field(default_factory=list)
    group_perms: list[Perm] = Field(default_factory=list)

    def to_body(self, secret_key: str) -> dict[str, Any]:
        body = self.model_dump(exclude_none=True)
        body["secret_key"] = secret_key
        return body


class MqUser(_Answer):
    """A RocketMQ user as read back (the secret key comes back masked: not kept)."""

    access_key: str
    white_remote_address: str | None = None
    admin: bool | None = None
    default_topic_perm: str | None = None
    default_group_perm: str | None = None
    topic_perms: PermList = Field(default_factory=list)
    group_perms: PermList = Field(default_factory=list)
