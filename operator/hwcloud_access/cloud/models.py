"""Pydantic models of the VPN v5 and DMS-for-RocketMQ v2 requests and answers.

Field names are the API's JSON names (checked against huaweicloudsdkvpn v5 and
huaweicloudsdkrocketmq v2 model classes). Answers ignore unknown fields, so a
newer cloud does not break reads. No model holds a secret: passwords and secret
keys are passed beside them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _lenient_datetime(value: Any) -> Any:
    """Timestamps as the cloud sends them; an unparseable one reads as None."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


Timestamp = Annotated[datetime | None, BeforeValidator(_lenient_datetime)]
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
    created_at: Timestamp = None
    updated_at: Timestamp = None


class VpnUser(_Answer):
    id: str
    name: str
    description: str | None = None
    user_group_id: str | None = None
    user_group_name: str | None = None
    static_ip: str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


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
