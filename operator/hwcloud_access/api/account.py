"""HuaweiCloudAccount: where and as whom the operator calls the cloud (cluster-scoped)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import K8S_NAME_PATTERN, AllowedNamespaces, ApiModel, ObservedStatus

ENDPOINT_PATTERN = r"^https?://[^\s/]+(/.*)?$"


class Endpoints(ApiModel):
    vpn: str | None = Field(default=None, pattern=ENDPOINT_PATTERN,
                            description="VPN endpoint, e.g. https://vpn.cn-north-4.myhuaweicloud.com.")
    dms: str | None = Field(default=None, pattern=ENDPOINT_PATTERN,
                            description="DMS for RocketMQ endpoint.")
    iam: str | None = Field(default=None, pattern=ENDPOINT_PATTERN,
                            description="IAM endpoint (tokens for IAMPassword).")


class CredentialsSecretReference(ApiModel):
    name: str = Field(min_length=1, max_length=253, pattern=K8S_NAME_PATTERN,
                      description="Secret name.")
    namespace: str = Field(min_length=1, max_length=63, pattern=K8S_NAME_PATTERN,
                           description="Secret namespace.")


class HuaweiCloudAccountSpec(ApiModel):
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z0-9]+)+$", description="Region, e.g. cn-north-4.")
    project_id: str = Field(pattern=r"^[A-Za-z0-9]{1,64}$", description="Project ID in the region.")
    auth_type: Literal["AKSK", "IAMPassword"] = Field(
        default="AKSK",
        description="AKSK signs each request with accessKey/secretKey from the Secret; "
        "IAMPassword gets an IAM token with domain/user/password from the Secret.",
    )
    credentials_secret_ref: CredentialsSecretReference = Field(
        description="Secret with keys accessKey and secretKey (AKSK) or domain, user and "
        "password (IAMPassword)."
    )
    endpoints: Endpoints = Field(
        default_factory=Endpoints,
        description="Endpoint overrides (default: https://<service>.<region>.myhuaweicloud.com).",
    )
    allowed_namespaces: AllowedNamespaces = Field(
        default_factory=AllowedNamespaces,
        description="Which namespaces' resources may use this account (default: All, i.e. "
        "anyone who may create a VpnUserGroup, VpnUser or MqUser in any namespace). A "
        "resource elsewhere gets Ready=False AccountNotAllowed and no cloud call.",
    )


class HuaweiCloudAccountStatus(ObservedStatus):
    pass  # an account is no cloud object: no id, no pending change (and no docstring: it
    # would replace the CRD's description of the status)
