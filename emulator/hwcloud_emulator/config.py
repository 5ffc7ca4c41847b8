"""Emulator configuration: the documented defaults, YAML loading and pydantic validation.

A config file may give any subset of the keys; mappings are merged key by key over the
defaults (so ``faults: {latency: 0.1}`` keeps the other fault settings), lists replace the
default list as a whole. Every key is described in docs/emulator.md.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hwcloud_emulator.errors import INJECTABLE_STATUSES
from hwcloud_emulator.operations import OPERATIONS, POLICY_OPERATIONS

DEFAULTS: dict[str, Any] = {
    "region": "cn-north-4",
    "project_id": "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
    "credentials": [
        {
            "access_key": "HWEMULATORAK00000001",
            "secret_key": "emulatorSecretKey0000000000000000000000001",
        }
    ],
    "iam_users": [
        {"domain": "emulator-domain", "name": "operator", "password": "Emulator-Pass-123"}
    ],
    "vpn_servers": [
        {
            "id": "6f1c1e2a-8d0b-4c59-9b0e-3c2a7f5d9a01",
            "client_cidr": "172.16.0.0/16",
            "status": "ACTIVE",
            "client_auth_type": "LOCAL_PASSWORD",
        }
    ],
    "rocketmq_instances": [{"id": "11a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8", "acl_enabled": True}],
    "apply_delay": 2.0,
    "queue_capacity": 10,
    "rocketmq_apply_delay": 0.0,
    "token_ttl": 86400,
    "clock_skew_limit": 900,
    "faults": {
        "error_rate": 0.0,
        "error_statuses": [500, 503],
        "latency": 0.0,
        "busy_rate": 0.0,
        "drop_rate": 0.0,
        "drop_operations": ["create_user", "create_group", "batch_create_users", "create_mq_user"],
        "throttle_rate": 0.0,
        "fail_next": 0,
        "drop_next": 0,
        "deny_operations": [],
    },
    "state_file": None,
}

# Keys that PUT /_emulator/config may change while the emulator runs.
RUNTIME_KEYS = (
    "apply_delay",
    "queue_capacity",
    "rocketmq_apply_delay",
    "token_ttl",
    "clock_skew_limit",
)
SECRET_FIELDS = ("secret_key", "password")


class ConfigError(ValueError):
    """A config file or value that cannot be used; the message says which key and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Credential(_Strict):
    access_key: str = Field(min_length=1, max_length=128)
    secret_key: str = Field(min_length=1, max_length=256, repr=False)


class IamUser(_Strict):
    domain: str = Field(min_length=1)
    name: str = Field(min_length=1)
    password: str = Field(min_length=1, repr=False)


class VpnServer(_Strict):
    id: str = Field(min_length=1, max_length=64)
    client_cidr: str
    status: str = "ACTIVE"
    client_auth_type: str = "LOCAL_PASSWORD"
    p2c_vgw_id: str | None = None
    local_subnets: list[str] = Field(default_factory=lambda: ["192.168.0.0/24"])
    default_group_name: str = Field(default="default_group", min_length=1, max_length=64)

    @field_validator("client_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"not an IPv4 CIDR block: {exc}") from None
        if net.prefixlen > 30:
            raise ValueError("the client CIDR must be /30 or larger")
        return str(net)


class RocketMQInstance(_Strict):
    id: str = Field(min_length=1, max_length=64)
    acl_enabled: bool = True
    name: str | None = None


class Faults(_Strict):
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_statuses: list[int] = Field(default_factory=lambda: [500, 503], min_length=1)
    latency: float = Field(default=0.0, ge=0.0, le=60.0)
    busy_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    drop_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    drop_operations: list[str] = Field(default_factory=list)
    throttle_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    fail_next: int = Field(default=0, ge=0)
    drop_next: int = Field(default=0, ge=0)
    deny_operations: list[str] = Field(default_factory=list)

    @field_validator("error_statuses")
    @classmethod
    def _statuses(cls, value: list[int]) -> list[int]:
        bad = [s for s in value if s not in INJECTABLE_STATUSES]
        if bad:
            raise ValueError(f"{bad} not injectable; choose from {sorted(INJECTABLE_STATUSES)}")
        return value

    @field_validator("drop_operations")
    @classmethod
    def _droppable(cls, value: list[str]) -> list[str]:
        return _only(value, OPERATIONS, "unknown operation(s)")

    @field_validator("deny_operations")
    @classmethod
    def _deniable(cls, value: list[str]) -> list[str]:
        return _only(value, POLICY_OPERATIONS, "unknown or undeniable operation(s)")


def _only(value: list[str], allowed: Collection[str], problem: str) -> list[str]:
    bad = [op for op in value if op not in allowed]
    if bad:
        raise ValueError(f"{problem} {bad}; choose from {sorted(allowed)}")
    return value


class EmulatorConfig(_Strict):
    region: str = Field(min_length=1, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    project_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    credentials: list[Credential]
    iam_users: list[IamUser]
    vpn_servers: list[VpnServer]
    rocketmq_instances: list[RocketMQInstance]
    apply_delay: float = Field(ge=0.0, le=3600.0)
    queue_capacity: int = Field(ge=1)
    rocketmq_apply_delay: float = Field(ge=0.0, le=3600.0)
    token_ttl: float = Field(gt=0.0)
    clock_skew_limit: float = Field(ge=0.0)
    faults: Faults
    state_file: str | None = None

    @field_validator("vpn_servers", "rocketmq_instances", "credentials")
    @classmethod
    def _unique(cls, value: list[Any]) -> list[Any]:
        keys = [getattr(item, "id", None) or getattr(item, "access_key", None) for item in value]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"duplicate entries {dupes}")
        return value

    def public_dict(self, show_secrets: bool = False) -> dict[str, Any]:
        """The config as plain data; secrets masked unless ``show_secrets``."""
        data = self.model_dump(mode="json")
        if not show_secrets:
            for section in ("credentials", "iam_users"):
                for item in data[section]:
                    for key in SECRET_FIELDS:
                        if key in item:
                            item[key] = "******"
        return data


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"  {prefix}{where}: {msg}")
    return "invalid emulator config:\n" + "\n".join(lines)


def build_config(override: dict[str, Any]) -> EmulatorConfig:
    """Validate ``override`` merged over the defaults."""
    data = deep_merge(DEFAULTS, override)
    try:
        return EmulatorConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None


def load_config(path: str | Path | None) -> EmulatorConfig:
    """Read a YAML config file (or only the defaults when ``path`` is None)."""
    if path is None:
        return build_config({})
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return build_config(data)


def dump_yaml(config: EmulatorConfig, show_secrets: bool = False) -> str:
    return yaml.safe_dump(config.public_dict(show_secrets), sort_keys=False)
