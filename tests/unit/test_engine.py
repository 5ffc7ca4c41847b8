"""The reconcile engine alone: a fake adapter over an in-memory cloud, no kopf, no network."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel

from hwcloud_access.api import VPN_USER_GROUP
from hwcloud_access.cloud import (
    AlreadyExistsError,
    AuthError,
    BusyError,
    InvalidRequestError,
    NotFoundError,
)
from hwcloud_access.reconcile.admission import Admission
from hwcloud_access.reconcile.credentials import Fingerprinter
from hwcloud_access.reconcile.dependencies import Dependencies
from hwcloud_access.reconcile.engine import Engine, EngineSettings, client_token
from hwcloud_access.reconcile.outcome import Next, Reason
from hwcloud_access.reconcile.resource import Adapter, Context, Resource
from hwcloud_access.reconcile.secret_refs import SecretRefs
from hwcloud_access.reconcile.views import CollectionView, Views


class Item(BaseModel):
    id: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class Desired:
    name: str
    description: str


class FakeCloud:
    """Visible objects, plus changes accepted but not applied yet (the cloud is async)."""

    def __init__(self) -> None:
        self.visible: dict[str, Item] = {}
        self.pending: dict[str, Item | None] = {}
        self.calls: list[tuple[str, Any]] = []
        self.tokens: dict[str, str] = {}
        self.fail: Exception | None = None
        self.pages_listed = 0

    def apply(self) -> None:
        for key, item in self.pending.items():
            if item is None:
                self.visible.pop(key, None)
            else:
                self.visible[key] = item
        self.pending.clear()

    def call(self, op: str, arg: Any) -> None:
        self.calls.append((op, arg))
        if self.fail is not None:
            raise self.fail

    def ops(self) -> list[str]:
        return [op for op, _ in self.calls]


class FakeAdapter(Adapter[Desired, Item]):
    kind = VPN_USER_GROUP

    def __init__(self, cloud: FakeCloud, page_size: int = 100) -> None:
        self.cloud = cloud
        self.page_size = page_size

    async def prepare(self, ctx: Context, spec: Any, *, credentials: bool = True) -> Desired:
        return Desired(spec.name or ctx.resource.name, spec.description)

    def view(self, ctx: Context, desired: Desired) -> CollectionView[Item]:
        async def lister(page_size: int):
            items = list(self.cloud.visible.values())
            for start in range(0, max(1, len(items)), page_size):
                self.cloud.pages_listed += 1
                for item in items[start:start + page_size]:
                    yield item

        return ctx.views.get(ctx.session, "server", "items", lambda: CollectionView(
            lister, page_size=self.page_size, id_of=lambda i: i.id, name_of=lambda i: i.name))

    async def read_one(self, ctx: Context, desired: Desired, cloud_id: str) -> Item:
        self.cloud.call("get", cloud_id)
        if cloud_id not in self.cloud.visible:
            raise NotFoundError("gone", status=404, code="VPN.0004")
        return self.cloud.visible[cloud_id]

    def cloud_name(self, desired: Desired) -> str:
        return desired.name

    def cloud_id(self, observed: Item) -> str:
        return observed.id

    def differences(self, desired: Desired, observed: Item) -> list[str]:
        return ["description"] if observed.description != desired.description else []

    async def create(self, ctx: Context, desired: Desired, client_token: str) -> str:
        self.cloud.call("create", client_token)
        if client_token in self.cloud.tokens:
            return self.cloud.tokens[client_token]
        if any(i.name == desired.name for i in self.cloud.visible.values()):
            raise AlreadyExistsError("exists", status=400, code="VPN.0001")
        new = Item(id=str(uuid.uuid4()), name=desired.name, description=desired.description)
        self.cloud.pending[new.id] = new
        self.cloud.tokens[client_token] = new.id
        return new.id

    async def update(self, ctx: Context, desired: Desired, observed: Item) -> None:
        self.cloud.call("update", observed.id)
        self.cloud.pending[observed.id] = observed.model_copy(
            update={"description": desired.description})

    async def delete(self, ctx: Context, desired: Desired, observed: Item) -> None:
        self.cloud.call("delete", observed.id)
        self.cloud.pending[observed.id] = None

    def read_back(self, observed: Item) -> dict[str, Any]:
        return {"type": "Custom"}


class FakeAccounts:
    async def session(self, name: str | None) -> object:
        return "session"


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud()


async def no_wake(key, why) -> None:
    pass


def make_engine(settings: EngineSettings) -> Engine:
    return Engine(accounts=FakeAccounts(), kube=None, views=Views(),  # type: ignore[arg-type]
                  fingerprint=Fingerprinter(b"k" * 32), dependencies=Dependencies(None),  # type: ignore[arg-type]
                  secret_refs=SecretRefs(), admission=Admission(no_wake), settings=settings)


@pytest.fixture
def engine() -> Engine:
    # every pass lists afresh
    return make_engine(EngineSettings(snapshot_max_age=0.0, snapshot_age_per_page=0.0,
                                      poll_max_age=0.0))


def resource(status: dict | None = None, generation: int = 1, uid: str = "uid-1",
             meta_name: str = "g", annotations: dict | None = None, **spec: Any) -> Resource:
    body = {"apiVersion": "access.hwcloud.dev/v1alpha1", "kind": "VpnUserGroup",
            "metadata": {"name": meta_name, "namespace": "ns", "uid": uid, "generation": generation,
                         "annotations": annotations or {}},
            "spec": {"vpnServerId": "server", "description": "d", **spec},
            "status": status or {}}
    return Resource(VPN_USER_GROUP, body)


def evolve(res: Resource, outcome, **changes: Any) -> Resource:
    """The object as the next pass sees it: the outcome's status written back."""
    status = {**res.status, **outcome.status}
    status = {k: v for k, v in status.items() if v is not None}
    status["observedGeneration"] = res.generation
    body = {**res.body, "status": status}
    body["spec"] = {**body["spec"], **changes}
    if changes:
        body["metadata"] = {**body["metadata"], "generation": res.generation + 1}
    return Resource(VPN_USER_GROUP, body)


async def test_create_then_wait_until_applied(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    res = resource()
    first = await engine.reconcile(adapter, res)
    assert (first.ready, first.reason, first.next) == (False, Reason.APPLYING, Next.REQUEUE)
    assert cloud.calls == [("create", client_token("uid-1"))]
    assert first.status["pendingChange"]["action"] == "create"
    assert [e.reason for e in first.events] == ["Created"]

    res = evolve(res, first)
    waiting = await engine.reconcile(adapter, res)  # still not visible: no second create
    assert waiting.reason is Reason.APPLYING and cloud.ops() == ["create"]

    cloud.apply()
    done = await engine.reconcile(adapter, evolve(res, waiting))
    assert (done.ready, done.reason, done.next) == (True, Reason.AVAILABLE, Next.DONE)
    assert done.status["id"] == first.status["id"] and done.status["pendingChange"] is None
    assert done.status["type"] == "Custom"


async def test_a_waiting_object_reads_itself_when_a_listing_has_more_pages(engine, cloud
                                                                         ) -> None:
    adapter = FakeAdapter(cloud, page_size=2)
    for n in range(5):  # 3 pages of 2
        cloud.visible[f"id-{n}"] = Item(id=f"id-{n}", name=f"other-{n}", description="")
    res = resource()
    first = await engine.reconcile(adapter, res)
    assert (cloud.ops(), cloud.pages_listed) == (["create"], 3)
    res = evolve(res, first)
    waiting = await engine.reconcile(adapter, res)  # one waiter, 3 pages: one GET instead
    assert waiting.reason is Reason.APPLYING
    assert (cloud.ops(), cloud.pages_listed) == (["create", "get"], 3)
    cloud.apply()
    done = await engine.reconcile(adapter, evolve(res, waiting))
    assert done.ready and (cloud.ops(), cloud.pages_listed) == (["create", "get", "get"], 3)


async def test_objects_waiting_together_share_a_listing(engine, cloud) -> None:
    adapter = FakeAdapter(cloud, page_size=2)
    cloud.visible["id-0"] = Item(id="id-0", name="other", description="")  # 1 page
    res = resource()
    first = await engine.reconcile(adapter, res)
    listed = cloud.pages_listed
    waiting = await engine.reconcile(adapter, evolve(res, first))
    assert waiting.reason is Reason.APPLYING
    assert cloud.ops() == ["create"] and cloud.pages_listed == listed + 1


async def test_lost_status_repeats_create_with_the_same_token(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    await engine.reconcile(adapter, resource())
    again = await engine.reconcile(adapter, resource())  # status never written (crash)
    assert cloud.ops() == ["create", "create"]
    assert cloud.calls[0][1] == cloud.calls[1][1]
    assert len(cloud.pending) == 1 and again.reason is Reason.APPLYING


async def test_update_is_sent_once_while_applying(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    res = resource()
    res = evolve(res, await engine.reconcile(adapter, res))
    cloud.apply()
    res = evolve(res, await engine.reconcile(adapter, res))
    res = evolve(res, await engine.reconcile(adapter, res), description="new")
    sent = await engine.reconcile(adapter, res)
    assert sent.reason is Reason.APPLYING and cloud.ops() == ["create", "update"]
    assert [e.reason for e in sent.events] == ["Updated"]
    res = evolve(res, sent)
    waiting = await engine.reconcile(adapter, res)
    assert waiting.reason is Reason.APPLYING and cloud.ops() == ["create", "update"]
    cloud.apply()
    assert (await engine.reconcile(adapter, evolve(res, waiting))).ready


async def test_drift_deleted_outside_is_recreated_with_a_new_token(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    res = resource()
    res = evolve(res, await engine.reconcile(adapter, res))
    cloud.apply()
    ready = await engine.reconcile(adapter, res)
    lost = ready.status["id"]
    res = evolve(res, ready, )
    res = Resource(VPN_USER_GROUP, {**res.body, "status": {**res.status,
                                                          "pendingChange": None}})
    cloud.visible.clear()
    again = await engine.reconcile(adapter, res)
    assert cloud.calls[-1] == ("create", client_token("uid-1", lost))
    assert "Drift" in [e.reason for e in again.events]


async def test_drift_changed_outside_is_put_back(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    res = resource()
    res = evolve(res, await engine.reconcile(adapter, res))
    cloud.apply()
    res = evolve(res, await engine.reconcile(adapter, res))
    [item] = cloud.visible.values()
    cloud.visible[item.id] = item.model_copy(update={"description": "tampered"})
    fixed = await engine.reconcile(adapter, res)
    assert cloud.ops()[-1] == "update"
    assert [e.reason for e in fixed.events] == ["Drift", "Updated"]


async def test_existing_object_is_adopted(engine, cloud) -> None:
    cloud.visible["x"] = Item(id="x", name="g", description="d")
    outcome = await engine.reconcile(FakeAdapter(cloud), resource())
    assert outcome.ready and outcome.status["id"] == "x" and "adopted" in outcome.message
    assert [e.reason for e in outcome.events] == ["Adopted"] and cloud.ops() == []


async def test_create_conflict_adopts_what_appeared_meanwhile(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    res = resource()
    await engine._observe(adapter, await engine._context(res, res.spec()),
                          Desired("g", "d"), max_age=0.0)  # an empty listing is cached
    cloud.visible["y"] = Item(id="y", name="g", description="d")
    outcome = await engine.reconcile(adapter, res)
    assert outcome.ready and outcome.status["id"] == "y" and "adopted" in outcome.message


@pytest.mark.parametrize("error,reason,next_", [
    (BusyError("busy", code="VPN.0030"), Reason.CLOUD_BUSY, Next.REQUEUE),
    (AuthError("bad signature", status=401), Reason.AUTH_FAILED, Next.REQUEUE),
    (InvalidRequestError("bad name", status=400, code="VPN.0001"), Reason.INVALID_SPEC,
     Next.TERMINAL),
])
async def test_cloud_errors_map_to_conditions(engine, cloud, error, reason, next_) -> None:
    cloud.fail = error
    outcome = await engine.reconcile(FakeAdapter(cloud), resource())
    assert (outcome.ready, outcome.reason, outcome.next, outcome.synced) == (
        False, reason, next_, False)
    assert outcome.synced_reason is reason


async def test_spec_the_schema_missed_is_invalid_without_a_cloud_call(engine, cloud) -> None:
    outcome = await engine.reconcile(FakeAdapter(cloud), resource(deletionPolicy="Keep"))
    assert outcome.reason is Reason.INVALID_SPEC and outcome.next is Next.TERMINAL
    assert "spec.deletionPolicy" in outcome.message and cloud.calls == []


async def test_paused_makes_no_call(engine, cloud) -> None:
    res = resource(annotations={"access.hwcloud.dev/paused": "true"})
    outcome = await engine.reconcile(FakeAdapter(cloud), res)
    assert (outcome.synced, outcome.synced_reason) == (False, Reason.PAUSED)
    assert cloud.calls == []


async def test_observe_policy_never_writes(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    missing = await engine.reconcile(adapter, resource(managementPolicy="Observe"))
    assert missing.reason is Reason.NOT_FOUND and cloud.calls == []
    cloud.visible["z"] = Item(id="z", name="g", description="other")
    seen = await engine.reconcile(adapter, resource(uid="u2", managementPolicy="Observe"))
    assert seen.ready and "differs in description" in seen.message and cloud.calls == []


async def test_delete_waits_until_gone_and_orphan_keeps_it(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    cloud.visible["a"] = Item(id="a", name="g", description="d")
    res = resource(status={"id": "a"})
    first = await engine.delete(adapter, res)
    assert first.reason is Reason.DELETING and first.next is Next.REQUEUE
    res = evolve(res, first)
    second = await engine.delete(adapter, res)  # delete accepted, not applied: no resend
    assert cloud.ops() == ["delete"] and second.next is Next.REQUEUE
    cloud.apply()
    done = await engine.delete(adapter, evolve(res, second))
    assert done.next is Next.DONE and [e.reason for e in done.events] == ["Deleted"]
    assert cloud.calls[-1] == ("get", "a")  # absence confirmed by the object itself

    cloud.visible["b"] = Item(id="b", name="o", description="d")
    calls_before = len(cloud.calls)
    orphan = await engine.delete(adapter, resource(meta_name="o", uid="u3", status={"id": "b"},
                                                   deletionPolicy="Orphan"))
    assert orphan.next is Next.DONE and "b" in cloud.visible
    assert len(cloud.calls) == calls_before  # Orphan: no cloud call at all


async def test_a_listing_that_skipped_the_object_does_not_end_the_deletion(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    cloud.visible["c"] = Item(id="c", name="g", description="d")
    hidden = cloud.visible["c"]

    async def skipping_lister(page_size: int):  # offset paging skipped it meanwhile
        return
        yield

    res = resource(status={"id": "c"})
    ctx = await engine._context(res, res.spec())
    view = adapter.view(ctx, Desired("g", "d"))
    view._lister = skipping_lister
    outcome = await engine.delete(adapter, res)
    assert outcome.next is Next.REQUEUE and ("delete", "c") in cloud.calls
    assert cloud.visible["c"] is hidden or "c" in cloud.pending


async def test_two_resources_cannot_manage_one_cloud_object(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    await engine.reconcile(adapter, resource(meta_name="first", uid="u1", name="shared"))
    second = await engine.reconcile(adapter, resource(meta_name="second", uid="u2",
                                                      name="shared"))
    assert second.reason is Reason.INVALID_SPEC and "already manages" in second.message
    released = await engine.delete(adapter, resource(meta_name="second", uid="u2",
                                                     name="shared"))
    assert released.next is Next.DONE and "delete" not in cloud.ops()



async def test_absent_from_a_stale_listing_is_not_drift(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    res = resource()
    first = await engine.reconcile(adapter, res)
    cloud.apply()
    ready = await engine.reconcile(adapter, evolve(res, first))
    assert ready.ready

    async def stale_lister(page_size: int):  # a listing taken before the object showed
        return
        yield

    ctx = await engine._context(res, res.spec())
    adapter.view(ctx, Desired("g", "d"))._lister = stale_lister
    again = await engine.reconcile(adapter, evolve(evolve(res, first), ready))
    assert again.ready and not again.events
    assert cloud.ops() == ["create", "get"]  # asked the object itself; no second create


async def test_a_long_listing_is_shared_longer_by_first_looks(cloud) -> None:
    engine = make_engine(EngineSettings(snapshot_max_age=0.0, snapshot_age_per_page=60.0))
    adapter = FakeAdapter(cloud, page_size=1)
    for n in range(3):
        cloud.visible[f"id-{n}"] = Item(id=f"id-{n}", name=f"other-{n}", description="")
    await engine.reconcile(adapter, resource(meta_name="one", uid="u1", name="one"))
    assert cloud.pages_listed == 3
    await engine.reconcile(adapter, resource(meta_name="two", uid="u2", name="two"))
    assert cloud.pages_listed == 3  # 3 pages: reused for up to 180 s
    assert cloud.ops() == ["create", "create"]
