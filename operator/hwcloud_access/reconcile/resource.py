"""A read-only view of the Kubernetes object being reconciled, and the adapter contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from ..api import GROUP, KindDef
from ..api.base import ApiModel
from ..cloud import CloudSession
from .credentials import Fingerprinter
from .dependencies import Dependencies
from .kube import Kube
from .outcome import InvalidSpec
from .ownership import CloudKey
from .registry import ObjectKey
from .secret_refs import SecretRefs
from .views import CollectionView, Views

PAUSED_ANNOTATION = f"{GROUP}/paused"
# Any new value makes a pass (a changed annotation is a change to kopf); the status
# echoes it in lastHandledReconcileAt once the pass is done.
RECONCILE_REQUEST_ANNOTATION = f"{GROUP}/reconcile-requested-at"


@dataclass(frozen=True)
class Resource:
    """`body` as a pass sees it; `written`: the status the API server holds (the body's, plus
    what passes wrote since, e.g. intents), shared by the resource's later views."""

    kind: KindDef
    body: dict[str, Any]
    written: dict[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.written is None:  # a first view: the API server holds the body's status
            object.__setattr__(self, "written", dict(self.body.get("status") or {}))

    def with_status(self, changes: dict[str, Any]) -> Resource:
        """The resource as a later pass sees it: its status with `changes` applied (None
        removes a field, as a merge patch does), the API server's copy unchanged."""
        status = {k: v for k, v in {**self.status, **changes}.items() if v is not None}
        return Resource(self.kind, {**self.body, "status": status}, self.written)

    def record(self, written: dict[str, Any]) -> None:
        """Status fields just written to the API server by the pass itself."""
        self.body["status"] = {**self.status, **written}
        self.written.update(written)

    @property
    def metadata(self) -> dict[str, Any]:
        return self.body.get("metadata") or {}

    @property
    def name(self) -> str:
        return self.metadata["name"]

    @property
    def namespace(self) -> str | None:
        return self.metadata.get("namespace")

    @property
    def uid(self) -> str:
        return self.metadata["uid"]

    @property
    def generation(self) -> int | None:
        return self.metadata.get("generation")

    @property
    def annotations(self) -> dict[str, str]:
        return self.metadata.get("annotations") or {}

    @property
    def status(self) -> dict[str, Any]:
        return self.body.get("status") or {}

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(self.kind.kind, self.namespace or "", self.name)

    @property
    def paused(self) -> bool:
        return self.annotations.get(PAUSED_ANNOTATION, "").lower() in ("true", "1", "yes")

    def spec(self) -> Any:
        """The spec as its pydantic model; InvalidSpec when it does not validate."""
        try:
            return self.kind.spec_model.model_validate(self.body.get("spec") or {})
        except ValidationError as error:
            details = "; ".join(
                f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
            raise InvalidSpec(details) from None

    def owner_reference(self) -> dict[str, Any]:
        return {"apiVersion": self.body["apiVersion"], "kind": self.body["kind"],
                "metadata": {"name": self.name, "uid": self.uid}}


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@dataclass
class Context:
    """Everything one pass may use."""

    resource: Resource
    session: CloudSession
    kube: Kube
    views: Views
    fingerprint: Fingerprinter
    dependencies: Dependencies
    secret_refs: SecretRefs
    spec: Any  # the resource's spec model
    references: Mapping[Hashable, Iterable[Any]]  # kopf's index of what resources refer to

    @property
    def key(self) -> ObjectKey:
        return self.resource.key

    @property
    def account(self) -> str:
        """The HuaweiCloudAccount the resource names; "" for the operator's default one."""
        return self.spec.account_ref.name if self.spec.account_ref else ""


D = TypeVar("D")  # the desired state an adapter prepares
Obs = TypeVar("Obs")  # the cloud object it observes
C = TypeVar("C")  # the credentials it sets: Credentials, or None for a kind without any


@dataclass(frozen=True)
class Credentials:
    """What a user is created or reset with: its secret (a VPN password, a RocketMQ secret
    key) and, when the operator generated it, the name of the Secret that keeps it."""

    secret: str = field(repr=False)
    generated_secret: str | None = None


class Adapter(ABC, Generic[D, Obs, C]):
    """How one kind maps to the cloud: the engine does everything else. The desired state
    (D) is what Observe mode compares and a delete needs; only managing also resolves the
    credentials (C) and hands them to the calls that set them."""

    kind: KindDef
    client_tokens: bool  # whether a repeated create with the same X-Client-Token is the same

    @abstractmethod
    def cloud_key(self, spec: dict[str, Any], name: str) -> CloudKey:
        """What identifies the cloud object a raw spec names (`name`: metadata.name)."""

    def key_of(self, body: Mapping[str, Any]) -> CloudKey:
        """The cloud object a resource's body names."""
        return self.cloud_key(dict(body.get("spec") or {}), body["metadata"]["name"])

    def references(self, body: Mapping[str, Any]) -> dict[Hashable, Any]:
        """What else of a resource other passes look up in kopf's index, beyond its claim
        (e.g. a managed group's id); none by default."""
        return {}

    @abstractmethod
    async def prepare(self, ctx: Context, spec: Any) -> D:
        """Desired state: names defaulted, references resolved."""

    async def credentials(self, ctx: Context, desired: D) -> C:
        """The credentials the resource's Secret holds (or a generated one), for managing."""
        return None  # type: ignore[return-value]  # a kind without credentials

    def throwaway_credentials(self, desired: D) -> C:
        """Fresh credentials nobody holds: for a create sent again only to learn what an
        earlier one made, which is then deleted."""
        return None  # type: ignore[return-value]

    @abstractmethod
    def view(self, ctx: Context, desired: D) -> CollectionView[Obs]:
        """The shared listing the object lives in."""

    @abstractmethod
    async def read_one(self, ctx: Context, desired: D, cloud_id: str) -> Obs:
        """The object itself (one GET); NotFoundError when it does not exist."""

    @abstractmethod
    def cloud_name(self, desired: D) -> str: ...

    @abstractmethod
    def cloud_id(self, observed: Obs) -> str: ...

    @abstractmethod
    def differences(self, desired: D, observed: Obs) -> list[str]:
        """Names of the spec fields the cloud does not (yet) match."""

    @abstractmethod
    async def create(self, ctx: Context, desired: D, credentials: C, client_token: str) -> str:
        """Creates the object; returns its cloud id."""

    @abstractmethod
    async def update(self, ctx: Context, desired: D, observed: Obs) -> None: ...

    @abstractmethod
    async def delete(self, ctx: Context, desired: D, observed: Obs) -> None: ...

    @abstractmethod
    def read_back(self, observed: Obs | None) -> dict[str, Any]:
        """Status fields read back from the cloud (camelCase); for None, the same fields
        emptied (a resource that may show nothing of the object)."""

    async def apply_credentials(self, ctx: Context, desired: D, credentials: C,
                                observed: Obs) -> None:
        """Sets the credentials in the cloud (a password reset)."""
        raise NotImplementedError(f"{self.kind.kind} has no credentials")

    async def before_delete(self, ctx: Context, spec: ApiModel) -> Any:
        """What a deletion works with (view, read_one, cloud_name, create, delete take it):
        the desired state, or, for a kind whose desired state resolves references, a type
        of its own that resolves none (a deletion must not wait for them)."""
        return await self.prepare(ctx, spec)
