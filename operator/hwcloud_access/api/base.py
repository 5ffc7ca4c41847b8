"""Building blocks shared by every kind: field conventions, references, conditions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

GROUP = "access.hwcloud.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "hwcloud"

K8S_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
CLOUD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are an error."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


def immutable(field: str) -> dict[str, Any]:
    """A CEL transition rule that refuses any change of `field` (set, changed or removed)."""
    return {
        "rule": f"has(self.{field}) == has(oldSelf.{field})"
        f" && (!has(self.{field}) || self.{field} == oldSelf.{field})",
        "message": f"{field} is immutable",
        "fieldPath": f".{field}",
        "reason": "FieldValueForbidden",
    }


# Moving a resource to another account would leave its cloud object, a live credential, in
# the old one with nothing tracking it: once the resource has a cloud id, or a create sent
# (its intent recorded, the answer not known yet), accountRef stays.
ACCOUNT_REF_FIXED_ONCE_CREATED = {
    "rule": "!has(oldSelf.status) || (!has(oldSelf.status.id) && "
            "!(has(oldSelf.status.pendingChange) && "
            "oldSelf.status.pendingChange.action == 'create')) || "
            "(has(self.spec.accountRef) == has(oldSelf.spec.accountRef) && "
            "(!has(self.spec.accountRef) || self.spec.accountRef.name == "
            "oldSelf.spec.accountRef.name))",
    "message": "spec.accountRef is immutable once the resource has a cloud object "
               "(status.id) or a create pending (status.pendingChange): in another account "
               "the object would be left behind, untracked",
    "fieldPath": ".spec.accountRef",
    "reason": "FieldValueForbidden",
}


# Observe claims nothing and deletes nothing: switched to while a create's answer is not
# known, it would let go of what that create may have made.
OBSERVE_NOT_WHILE_CREATING = {
    "rule": "!has(oldSelf.status) || !has(oldSelf.status.pendingChange) || "
            "oldSelf.status.pendingChange.action != 'create' || "
            "!has(self.spec.managementPolicy) || self.spec.managementPolicy != 'Observe' || "
            "(has(oldSelf.spec.managementPolicy) && "
            "oldSelf.spec.managementPolicy == 'Observe')",
    "message": "spec.managementPolicy cannot become Observe while a create is pending "
               "(status.pendingChange): what it may have made would be left behind, "
               "untracked; switch once the resource shows its cloud id",
    "fieldPath": ".spec.managementPolicy",
    "reason": "FieldValueForbidden",
}


class LabelSelectorRequirement(ApiModel):
    key: str = Field(min_length=1, max_length=317, description="The label key.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        description="In, NotIn, Exists or DoesNotExist.")
    values: list[str] = Field(
        default_factory=list, description="Values for In and NotIn; empty for the others.")

    @model_validator(mode="after")
    def _values_fit_operator(self) -> LabelSelectorRequirement:
        takes_values = self.operator in ("In", "NotIn")
        if takes_values != bool(self.values):
            wanted = "one or more values" if takes_values else "no values"
            raise ValueError(f"operator {self.operator} takes {wanted}")
        return self


class LabelSelector(ApiModel):
    """Kubernetes' label selector: every matchLabels pair and every expression must hold."""

    match_labels: dict[str, str] = Field(default_factory=dict,
                                         description="Labels that must be set to these values.")
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list, description="Requirements on labels.")


class AllowedNamespaces(ApiModel):
    """Which namespaces may use an account, as Gateway API's allowedRoutes.namespaces."""

    from_: Literal["All", "Selector"] = Field(
        default="All", alias="from",
        description="All: resources in every namespace may use the account. Selector: only "
        "those in namespaces whose labels match `selector` (kubernetes.io/metadata.name "
        "selects by name).")
    selector: LabelSelector | None = Field(
        default=None, description="Namespace label selector; required with from: Selector.")

    @model_validator(mode="after")
    def _selector_with_selector(self) -> AllowedNamespaces:
        if (self.from_ == "Selector") != (self.selector is not None):
            raise ValueError("selector is required with from: Selector, and only then")
        return self


class LocalObjectReference(ApiModel):
    name: str = Field(
        min_length=1, max_length=253, pattern=K8S_NAME_PATTERN,
        description="Name of an object in the same namespace.",
    )


class ClusterObjectReference(ApiModel):
    name: str = Field(
        min_length=1, max_length=253, pattern=K8S_NAME_PATTERN,
        description="Name of a cluster-scoped object.",
    )


class SecretKeySelector(ApiModel):
    name: str = Field(
        min_length=1, max_length=253, pattern=K8S_NAME_PATTERN,
        description="Name of a Secret in the same namespace as the resource.",
    )
    key: str = Field(
        min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$",
        description="Key inside the Secret's data.",
    )


DeletionPolicy = Literal["Delete", "Orphan"]
AdoptionPolicy = Literal["Never", "Adopt"]
ManagementPolicy = Literal["Manage", "Observe"]


class ManagedSpec(ApiModel):
    """Fields every managed kind has (Crossplane/ACK-style control knobs)."""

    account_ref: ClusterObjectReference | None = Field(
        default=None,
        description="HuaweiCloudAccount to use; the operator's default account when empty.",
    )
    deletion_policy: DeletionPolicy = Field(
        default="Delete",
        description="Delete removes the cloud object with the resource; Orphan leaves it.",
    )
    management_policy: ManagementPolicy = Field(
        default="Manage",
        description="Manage creates, updates and deletes; Observe only reads and reports.",
    )
    adoption_policy: AdoptionPolicy = Field(
        default="Never",
        description="Never: a same-named cloud object this resource did not create is left "
        "alone (Ready=False, AlreadyExists). Adopt: it is taken over, and this resource's "
        "credentials are set on it.",
    )


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(ApiModel):
    type: str = Field(description="Condition type: Ready or Synced.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(description="One word, CamelCase, from a fixed vocabulary.")
    message: str = Field(default="", description="Human-readable detail.")
    observed_generation: int | None = Field(
        default=None, description="metadata.generation this condition was computed for."
    )
    last_transition_time: str | None = Field(
        default=None, description="When status last changed (RFC 3339)."
    )


# The status an object reads as until the operator's first status write: the API server fills
# it in from the CRD's default when it reads an object stored without status. kstatus (Flux,
# kpt) reads an object without status as Current; with this one it is InProgress from the
# moment it is created, at no write.
PENDING_REASON = "Pending"
STATUS_BEFORE_FIRST_PASS = {"conditions": [{
    "type": "Reconciling", "status": "True", "reason": PENDING_REASON,
    "message": "the operator has not handled this object yet"}]}


class PendingChange(ApiModel):
    """Written before the cloud call it announces (create, credentials) or right after it
    was accepted (update, delete): after a crash or a lost answer the operator resolves it
    from here instead of guessing."""

    action: Literal["create", "update", "delete", "credentials"] = Field(
        description="What the operator asked the cloud to do.")
    since: str = Field(description="When it was sent or accepted (RFC 3339).")
    generation: int | None = Field(default=None, description="metadata.generation it was for.")
    client_token: str | None = Field(
        default=None, description="create: the X-Client-Token the create was sent with; the "
        "object the cloud made with it is this resource's own.")
    fingerprint: str | None = Field(
        default=None, description="credentials: keyed hash of the credentials being set.")
    adopted: str | None = Field(
        default=None, description="update: the ID of the cloud object this resource adopted "
        "in the pass that sent the update (spec.adoptionPolicy Adopt); the Ready message "
        "says so.")


class ObservedStatus(ApiModel):
    """What the operator writes on every kind (a HuaweiCloudAccount has no more)."""

    conditions: list[Condition] = Field(
        default_factory=list, description="Ready and Synced conditions."
    )
    observed_generation: int | None = Field(
        default=None, description="Last metadata.generation the operator acted on."
    )
    last_handled_reconcile_at: str | None = Field(
        default=None,
        description="The value of the access.hwcloud.dev/reconcile-requested-at annotation "
        "when the operator last completed a pass on it: the requested reconcile has run.",
    )


class ManagedStatus(ObservedStatus):
    """The status of a kind that manages a cloud object."""

    id: str | None = Field(
        default=None, description="ID of the object in Huawei Cloud that this resource "
        "made or adopted (its claim on it). Never set by managementPolicy Observe.")
    observed_id: str | None = Field(
        default=None, description="managementPolicy Observe: ID of the cloud object seen "
        "under the resource's name. No claim on it: switched to Manage, the resource "
        "treats it as an object it did not create (spec.adoptionPolicy decides).")
    pending_change: PendingChange | None = Field(
        default=None,
        description="A change sent to the cloud and not yet seen applied (asynchronous).",
    )
