"""Pydantic models of the VPN v5 and DMS-for-RocketMQ v2 requests and answers.

Field names are the API's JSON names (checked against huaweicloudsdkvpn v5 and
huaweicloudsdkrocketmq v2 model classes). Answers ignore unknown fields, so a
newer cloud does not break reads. Secrets are ``SecretStr``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr


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


class VpnServer(_Answer):
    id: str
    status: str | None = None
    client_auth_type: str | None = None
    client_cidr: str | None = None
    p2c_vgw_id: str | None = None
    tunnel_protocol: str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


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
    current_count: int | None = None


class VpnUserCreate(BaseModel):
    """One row of a batch create (the API names the group, not its id)."""

    model_config = ConfigDict(frozen=True)

    name: str
    password: SecretStr
    description: str | None = None
    user_group_name: str | None = None
    static_ip: str | None = None

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "password": self.password.get_secret_value()}
        for key in ("description", "user_group_name", "static_ip"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        return body


class BatchRejected(_Answer):
    """A row the cloud refused, with its ``cause``."""

    name: str | None = None
    id: str | None = None
    cause: str | None = None
    description: str | None = None
    user_group_name: str | None = None
    static_ip: str | None = None


class BatchResult(_Answer):
    """Outcome of a batch call, by row.

    ``accepted``: names (batch create) or ids (batch delete) the cloud took. A batch
    create with any rejected row creates nothing: ``accepted`` is then empty.
    ``created``: name -> id, only when the answer carries ids (the documented batch
    create answer carries only the rejected rows: look the ids up by name later,
    once the change is applied). ``rejected``: the refused rows with their cause.
    """

    accepted: list[str] = Field(default_factory=list)
    created: dict[str, str] = Field(default_factory=dict)
    rejected: list[BatchRejected] = Field(default_factory=list)
    request_id: str | None = None

    @property
    def ok(self) -> bool:
        return not self.rejected


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
