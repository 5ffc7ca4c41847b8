"""The reconcile engine alone: a fake adapter over an in-memory cloud, no kopf, no network."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

import pytest
from pydantic import BaseModel

from hwcloud_access.api import VPN_USER_GROUP
from hwcloud_access.cloud import (
    AccessDeniedError,
    AlreadyExistsError,
    AuthError,
    BusyError,
    CloudError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PasswordReusedError,
    TransportError,
)
from hwcloud_access.reconcile import engine as engine_module
from hwcloud_access.reconcile.admission import Admission
from hwcloud_access.reconcile.credentials import Fingerprinter
from hwcloud_access.reconcile.dependencies import Dependencies
from hwcloud_access.reconcile.engine import Engine, EngineSettings, client_token
from hwcloud_access.reconcile.outcome import Next, Reason
from hwcloud_access.reconcile.ownership import CloudKey, claim_of, claimant
from hwcloud_access.reconcile.resource import Adapter, Context, Credentials, Resource
from hwcloud_access.reconcile.secret_refs import SecretRefs
from hwcloud_access.reconcile.views import CollectionView, ViewKey, Views


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
        self.fail_on: dict[str, Exception] = {}  # one operation's next answer
        self.pages_listed = 0
        self.secret: str | None = None  # the credentials the spec asks for, if any
        self.secret_in_effect: str | None = None

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
        if op in self.fail_on:
            raise self.fail_on.pop(op)

    def ops(self) -> list[str]:
        """The cloud calls made (intents written to status left out)."""
        return [op for op, _ in self.calls if op != "intent"]


class FakeAdapter(Adapter[Desired, Item, Credentials | None]):
    kind = VPN_USER_GROUP
    client_tokens = True

    def cloud_key(self, spec: dict[str, Any], name: str) -> CloudKey:
        return CloudKey(self.kind.kind, "server", spec.get("name") or name)

    def __init__(self, cloud: FakeCloud, page_size: int = 100) -> None:
        self.cloud = cloud
        self.page_size = page_size

    async def prepare(self, ctx: Context, spec: Any) -> Desired:
        return Desired(spec.name or ctx.resource.name, spec.description)

    async def credentials(self, ctx: Context, desired: Desired) -> Credentials | None:
        return None if self.cloud.secret is None else Credentials(self.cloud.secret)

    def view(self, ctx: Context, desired: Desired) -> CollectionView[Item]:
        async def lister(page_size: int):
            items = list(self.cloud.visible.values())
            for start in range(0, max(1, len(items)), page_size):
                self.cloud.pages_listed += 1
                for item in items[start:start + page_size]:
                    yield item

        return ctx.views.get(ViewKey(ctx.account, "items", "server"), ctx.session,
                             lambda session, size: lister(size), page_size=self.page_size,
                             id_of=lambda i: i.id, name_of=lambda i: i.name)

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

    async def create(self, ctx: Context, desired: Desired, credentials: Credentials | None,
                     client_token: str) -> str:
        self.cloud.call("create", client_token)
        if client_token in self.cloud.tokens:
            return self.cloud.tokens[client_token]
        if any(i.name == desired.name for i in self.cloud.visible.values()):
            raise AlreadyExistsError("exists", status=400, code="VPN.0001")
        new = Item(id=str(uuid.uuid4()), name=desired.name, description=desired.description)
        self.cloud.pending[new.id] = new
        self.cloud.tokens[client_token] = new.id
        if "lose-create" in self.cloud.fail_on:  # made, but the answer is lost
            raise self.cloud.fail_on.pop("lose-create")
        return new.id

    async def update(self, ctx: Context, desired: Desired, observed: Item) -> None:
        self.cloud.call("update", observed.id)
        self.cloud.pending[observed.id] = observed.model_copy(
            update={"description": desired.description})

    async def delete(self, ctx: Context, desired: Desired, observed: Item) -> None:
        self.cloud.call("delete", observed.id)
        self.cloud.pending[observed.id] = None

    def read_back(self, observed: Item | None) -> dict[str, Any]:
        return {"type": "Custom" if observed else None}

    async def apply_credentials(self, ctx: Context, desired: Desired,
                                credentials: Credentials | None, observed: Item) -> None:
        self.cloud.calls.append(("reset", observed.id))
        if "refuse-reset" in self.cloud.fail_on:  # refused before it changed anything
            raise self.cloud.fail_on.pop("refuse-reset")
        if self.cloud.secret == self.cloud.secret_in_effect:
            raise PasswordReusedError("the new password must differ from the last 5 passwords",
                                      status=400, code="VPN.0001")
        self.cloud.secret_in_effect = self.cloud.secret
        if "reset" in self.cloud.fail_on:  # applied, but the answer is lost
            raise self.cloud.fail_on.pop("reset")


class FakeKube:
    """Records the status written ahead of a pass's end (intents)."""

    def __init__(self, cloud: FakeCloud) -> None:
        self.cloud = cloud
        self.patches: list[dict[str, Any]] = []

    async def patch_status(self, kind, namespace, name, status) -> None:
        self.patches.append(status)
        self.cloud.calls.append(("intent", (status["pendingChange"] or {}).get("action")))


class FakeAccounts:
    async def session(self, name: str | None, namespace: str, *,
                      deleting: bool = False) -> object:
        return "session"


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud()


NO_CLAIMS: dict = {}  # the kopf index of claims, empty: no other resource claims anything


async def no_wake(key, why) -> None:
    pass


def make_engine(settings: EngineSettings, cloud: FakeCloud, key: bytes = b"k" * 32) -> Engine:
    return Engine(accounts=FakeAccounts(), kube=FakeKube(cloud), views=Views(),  # type: ignore[arg-type]
                  fingerprint=Fingerprinter(key), dependencies=Dependencies(None, no_wake),  # type: ignore[arg-type]
                  secret_refs=SecretRefs(), admission=Admission(no_wake), settings=settings)


FRESH = EngineSettings(snapshot_max_age=0.0, snapshot_age_per_page=0.0, poll_max_age=0.0)


@pytest.fixture
def engine(cloud) -> Engine:
    return make_engine(FRESH, cloud)  # every pass lists afresh


def resource(status: dict | None = None, generation: int = 1, uid: str = "uid-1",
             meta_name: str = "g", annotations: dict | None = None,
             created: str = "2026-01-01T00:00:00Z", **spec: Any) -> Resource:
    body = {"apiVersion": "access.hwcloud.dev/v1alpha1", "kind": "VpnUserGroup",
            "metadata": {"name": meta_name, "namespace": "ns", "uid": uid, "generation": generation,
                         "annotations": annotations or {}, "creationTimestamp": created},
            "spec": {"vpnServerId": "server", "description": "d", **spec},
            "status": status or {}}
    return Resource(VPN_USER_GROUP, body)


async def list_now(engine: Engine, adapter: FakeAdapter, res: Resource) -> None:
    """A listing of the resource's collection taken now, which later passes may share."""
    ctx = await engine._context(res, res.spec(), NO_CLAIMS)
    await adapter.view(ctx, Desired("g", "d")).snapshot(newer_than=time.monotonic())


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
    first = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    assert (first.ready, first.reason, first.next) == (False, Reason.APPLYING, Next.REQUEUE)
    assert cloud.calls == [("intent", "create"), ("create", client_token("uid-1"))]
    assert first.status["pendingChange"]["action"] == "create"
    assert [e.reason for e in first.events] == ["Created"]

    res = evolve(res, first)
    waiting = await engine.reconcile(adapter, res,
                                     claims=NO_CLAIMS)  # still not visible: no second create
    assert waiting.reason is Reason.APPLYING and cloud.ops() == ["create"]

    cloud.apply()
    done = await engine.reconcile(adapter, evolve(res, waiting), claims=NO_CLAIMS)
    assert (done.ready, done.reason, done.next) == (True, Reason.AVAILABLE, Next.DONE)
    assert done.status["id"] == first.status["id"] and done.status["pendingChange"] is None
    assert done.status["type"] == "Custom"


async def test_a_waiting_object_reads_itself_when_a_listing_has_more_pages(engine, cloud
                                                                         ) -> None:
    adapter = FakeAdapter(cloud, page_size=2)
    for n in range(5):  # 3 pages of 2
        cloud.visible[f"id-{n}"] = Item(id=f"id-{n}", name=f"other-{n}", description="")
    res = resource()
    first = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    assert (cloud.ops(), cloud.pages_listed) == (["create"], 3)
    res = evolve(res, first)
    waiting = await engine.reconcile(adapter, res,
                                     claims=NO_CLAIMS)  # one waiter, 3 pages: one GET instead
    assert waiting.reason is Reason.APPLYING
    assert (cloud.ops(), cloud.pages_listed) == (["create", "get"], 3)
    cloud.apply()
    done = await engine.reconcile(adapter, evolve(res, waiting), claims=NO_CLAIMS)
    assert done.ready and (cloud.ops(), cloud.pages_listed) == (["create", "get", "get"], 3)


async def test_objects_waiting_together_share_a_listing(engine, cloud) -> None:
    adapter = FakeAdapter(cloud, page_size=2)
    cloud.visible["id-0"] = Item(id="id-0", name="other", description="")  # 1 page
    res = resource()
    first = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    listed = cloud.pages_listed
    waiting = await engine.reconcile(adapter, evolve(res, first), claims=NO_CLAIMS)
    assert waiting.reason is Reason.APPLYING
    assert cloud.ops() == ["create"] and cloud.pages_listed == listed + 1


async def test_a_pass_builds_its_view_once(engine, cloud, monkeypatch) -> None:
    adapter = FakeAdapter(cloud)
    built: list[CollectionView] = []
    build = adapter.view
    monkeypatch.setattr(adapter, "view", lambda ctx, desired: built.append(
        build(ctx, desired)) or built[-1])
    res = resource()
    created = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    assert created.reason is Reason.APPLYING and len(built) == 1
    cloud.apply()
    ready = await engine.reconcile(adapter, evolve(res, created), claims=NO_CLAIMS)
    assert ready.ready and len(built) == 2 and ready.view is built[-1]
    observed = await engine.reconcile(adapter, resource(managementPolicy="Observe"),
                                      claims=NO_CLAIMS)
    assert observed.ready and len(built) == 3


async def test_lost_status_repeats_create_with_the_same_token(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    await engine.reconcile(adapter, resource(), claims=NO_CLAIMS)
    again = await engine.reconcile(adapter, resource(),
                                   claims=NO_CLAIMS)  # status never written (crash)
    assert cloud.ops() == ["create", "create"]
    assert cloud.calls[1][1] == cloud.calls[3][1]
    assert len(cloud.pending) == 1 and again.reason is Reason.APPLYING


async def test_update_is_sent_once_while_applying(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    res = resource()
    res = evolve(res, await engine.reconcile(adapter, res, claims=NO_CLAIMS))
    cloud.apply()
    res = evolve(res, await engine.reconcile(adapter, res, claims=NO_CLAIMS))
    res = evolve(res, await engine.reconcile(adapter, res, claims=NO_CLAIMS), description="new")
    sent = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    assert sent.reason is Reason.APPLYING and cloud.ops() == ["create", "update"]
    assert [e.reason for e in sent.events] == ["Updated"]
    res = evolve(res, sent)
    waiting = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    assert waiting.reason is Reason.APPLYING and cloud.ops() == ["create", "update"]
    cloud.apply()
    assert (await engine.reconcile(adapter, evolve(res, waiting), claims=NO_CLAIMS)).ready


async def test_drift_deleted_outside_is_recreated_with_a_new_token(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    res = resource()
    res = evolve(res, await engine.reconcile(adapter, res, claims=NO_CLAIMS))
    cloud.apply()
    ready = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    lost = ready.status["id"]
    res = evolve(res, ready, )
    res = Resource(VPN_USER_GROUP, {**res.body, "status": {**res.status,
                                                          "pendingChange": None}})
    cloud.visible.clear()
    again = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    assert cloud.calls[-1] == ("create", client_token("uid-1", lost))
    assert "Drift" in [e.reason for e in again.events]


async def test_drift_changed_outside_is_put_back(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    res = resource()
    res = evolve(res, await engine.reconcile(adapter, res, claims=NO_CLAIMS))
    cloud.apply()
    res = evolve(res, await engine.reconcile(adapter, res, claims=NO_CLAIMS))
    [item] = cloud.visible.values()
    cloud.visible[item.id] = item.model_copy(update={"description": "tampered"})
    fixed = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    assert cloud.ops()[-1] == "update"
    assert [e.reason for e in fixed.events] == ["Drift", "Updated"]


async def test_a_same_named_object_it_did_not_make_is_left_alone(engine, cloud) -> None:
    cloud.visible["x"] = Item(id="x", name="g", description="theirs")
    outcome = await engine.reconcile(FakeAdapter(cloud), resource(), claims=NO_CLAIMS)
    assert (outcome.ready, outcome.reason) == (False, Reason.ALREADY_EXISTS)
    assert "adoptionPolicy: Adopt" in outcome.message and "id" not in outcome.status
    assert cloud.ops() == [] and cloud.visible["x"].description == "theirs"


async def test_adopt_takes_it_over_and_sets_its_credentials(engine, cloud) -> None:
    cloud.secret, cloud.secret_in_effect = "mine-Secret-1", "theirs-Secret-0"
    cloud.visible["x"] = Item(id="x", name="g", description="d")
    outcome = await engine.reconcile(FakeAdapter(cloud), resource(adoptionPolicy="Adopt"),
                                     claims=NO_CLAIMS)
    assert outcome.ready and outcome.status["id"] == "x" and "adopted" in outcome.message
    assert [e.reason for e in outcome.events] == ["Adopted", "CredentialsRotated"]
    assert cloud.secret_in_effect == "mine-Secret-1"


async def test_an_adopted_object_that_differs_says_so_until_ready(engine, cloud) -> None:
    cloud.visible["x"] = Item(id="x", name="g", description="theirs")
    adapter = FakeAdapter(cloud)
    res = resource(adoptionPolicy="Adopt")
    applying = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    assert applying.reason is Reason.APPLYING
    assert applying.message.startswith("adopted existing cloud object x; the cloud accepted")
    assert [e.reason for e in applying.events] == ["Adopted", "Updated"]  # no Drift
    cloud.apply()
    ready = await engine.reconcile(adapter, evolve(res, applying), claims=NO_CLAIMS)
    assert ready.ready and ready.message == "adopted existing cloud object x"
    later = await engine.reconcile(adapter, evolve(evolve(res, applying), ready),
                                   claims=NO_CLAIMS)
    assert later.ready and later.message == "the cloud matches the spec"


async def test_create_conflict_adopts_what_appeared_meanwhile(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    res = resource(adoptionPolicy="Adopt")
    await list_now(engine, adapter, res)  # an empty listing is cached
    cloud.visible["y"] = Item(id="y", name="g", description="d")
    outcome = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    assert outcome.ready and outcome.status["id"] == "y" and "adopted" in outcome.message


async def test_a_lost_create_answer_is_still_recognised_as_its_own(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    res = resource()
    cloud.secret = cloud.secret_in_effect = "create-Secret-1"  # the create set it
    cloud.fail_on["lose-create"] = TransportError("no answer")
    lost = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    assert lost.reason is Reason.CLOUD_BUSY
    [made] = cloud.pending
    cloud.apply()  # it shows, found by its name
    res = Resource(VPN_USER_GROUP, {**res.body, "status": {
        "pendingChange": engine.kube.patches[-1]["pendingChange"]}})
    mine = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    assert mine.ready and mine.status["id"] == made and not mine.events
    assert cloud.calls[-1] == ("create", client_token("uid-1"))  # proved by its token
    assert "reset" not in cloud.ops()  # its own create set the credentials


async def test_an_intent_is_no_claim_on_an_object_its_token_did_not_make(engine, cloud) -> None:
    cloud.visible["z"] = Item(id="z", name="g", description="d")  # made by hand, meanwhile
    intent = {"action": "create", "since": "2026-01-01T00:00:00Z",
              "clientToken": client_token("uid-1")}  # that create never reached the cloud
    outcome = await engine.reconcile(FakeAdapter(cloud), resource(status={
        "pendingChange": intent}), claims=NO_CLAIMS)
    assert outcome.reason is Reason.ALREADY_EXISTS and outcome.status["pendingChange"] is None


@pytest.mark.parametrize("error,reason,next_", [
    (BusyError("busy", code="VPN.0030"), Reason.CLOUD_BUSY, Next.REQUEUE),
    (AuthError("bad signature", status=401), Reason.AUTH_FAILED, Next.REQUEUE),
    (InvalidRequestError("bad name", status=400, code="VPN.0001"), Reason.INVALID_SPEC,
     Next.TERMINAL),
])
async def test_cloud_errors_map_to_conditions(engine, cloud, error, reason, next_) -> None:
    cloud.fail = error
    outcome = await engine.reconcile(FakeAdapter(cloud), resource(), claims=NO_CLAIMS)
    assert (outcome.ready, outcome.reason, outcome.next, outcome.synced) == (
        False, reason, next_, False)
    assert outcome.synced_reason is reason


async def test_a_create_refused_for_a_name_nobody_shows_is_invalid(engine, cloud) -> None:
    cloud.fail_on["create"] = ConflictError("name exists", status=409)
    outcome = await engine.reconcile(FakeAdapter(cloud), resource(), claims=NO_CLAIMS)
    assert (outcome.reason, outcome.next) == (Reason.INVALID_SPEC, Next.TERMINAL)
    assert outcome.message == "the cloud refused it: cloud call HTTP 409: name exists"


async def test_a_conflict_outside_a_create_is_tried_again(engine, cloud) -> None:
    cloud.visible["x"] = Item(id="x", name="g", description="old")
    cloud.fail_on["update"] = ConflictError("The user group name already exists.",
                                            status=400, code="VPN.0001",
                                            operation="vpn.update_group")
    outcome = await engine.reconcile(FakeAdapter(cloud), resource(status={"id": "x"}),
                                     claims=NO_CLAIMS)
    assert (outcome.ready, outcome.reason, outcome.next, outcome.synced_reason) == (
        False, Reason.CLOUD_BUSY, Next.REQUEUE, Reason.CLOUD_BUSY)
    assert "conflicting" in outcome.message and "name already exists" in outcome.message
    assert 0.0 <= outcome.delay <= engine.settings.busy_base_delay
    assert cloud.ops() == ["update"]


async def test_spec_the_schema_missed_is_invalid_without_a_cloud_call(engine, cloud) -> None:
    outcome = await engine.reconcile(FakeAdapter(cloud), resource(deletionPolicy="Keep"),
                                     claims=NO_CLAIMS)
    assert outcome.reason is Reason.INVALID_SPEC and outcome.next is Next.TERMINAL
    assert "spec.deletionPolicy" in outcome.message and cloud.calls == []


async def test_paused_makes_no_call(engine, cloud) -> None:
    res = resource(annotations={"access.hwcloud.dev/paused": "true"})
    outcome = await engine.reconcile(FakeAdapter(cloud), res, claims=NO_CLAIMS)
    assert (outcome.synced, outcome.synced_reason) == (False, Reason.PAUSED)
    assert cloud.calls == []


async def test_observe_policy_never_writes(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    missing = await engine.reconcile(adapter, resource(managementPolicy="Observe"),
                                     claims=NO_CLAIMS)
    assert missing.reason is Reason.NOT_FOUND and cloud.calls == []
    cloud.visible["z"] = Item(id="z", name="g", description="other")
    seen = await engine.reconcile(adapter, resource(uid="u2", managementPolicy="Observe"),
                                  claims=NO_CLAIMS)
    assert seen.ready and "differs in description" in seen.message and cloud.calls == []
    assert seen.status["observedId"] == "z" and seen.status["type"] == "Custom"
    del cloud.visible["z"]  # gone: nothing seen before is shown any longer
    gone = await engine.reconcile(adapter, evolve(resource(uid="u2", managementPolicy=
                                                           "Observe"), seen), claims=NO_CLAIMS)
    assert gone.reason is Reason.NOT_FOUND
    assert (gone.status["observedId"], gone.status["type"]) == (None, None)


async def test_delete_waits_until_gone_and_orphan_keeps_it(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    cloud.visible["a"] = Item(id="a", name="g", description="d")
    res = resource(status={"id": "a"})
    first = await engine.delete(adapter, res, claims=NO_CLAIMS)
    assert first.reason is Reason.DELETING and first.next is Next.REQUEUE
    res = evolve(res, first)
    second = await engine.delete(adapter, res,
                                 claims=NO_CLAIMS)  # delete accepted, not applied: no resend
    assert cloud.ops() == ["delete"] and second.next is Next.REQUEUE
    cloud.apply()
    done = await engine.delete(adapter, evolve(res, second), claims=NO_CLAIMS)
    assert done.released and [e.reason for e in done.events] == ["Deleted"]
    assert not first.released and not second.released
    assert cloud.calls[-1] == ("get", "a")  # absence confirmed by the object itself

    cloud.visible["b"] = Item(id="b", name="o", description="d")
    calls_before = len(cloud.calls)
    orphan = await engine.delete(adapter, resource(meta_name="o", uid="u3", status={"id": "b"},
                                                   deletionPolicy="Orphan"), claims=NO_CLAIMS)
    assert orphan.released and "b" in cloud.visible
    assert len(cloud.calls) == calls_before  # Orphan: no cloud call at all


async def test_a_listing_that_skipped_the_object_does_not_end_the_deletion(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    cloud.visible["c"] = Item(id="c", name="g", description="d")
    hidden = cloud.visible["c"]

    async def skipping_lister(page_size: int):  # offset paging skipped it meanwhile
        return
        yield

    res = resource(status={"id": "c"})
    ctx = await engine._context(res, res.spec(), NO_CLAIMS)
    view = adapter.view(ctx, Desired("g", "d"))
    view._lister = skipping_lister
    outcome = await engine.delete(adapter, res, claims=NO_CLAIMS)
    assert outcome.next is Next.REQUEUE and ("delete", "c") in cloud.calls
    assert cloud.visible["c"] is hidden or "c" in cloud.pending


async def test_one_owner_per_cloud_object_from_the_claims_index(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    cloud.visible["s"] = Item(id="s", name="shared", description="d")
    first = resource(meta_name="first", uid="u1", name="shared", status={"id": "s"})
    later = "2026-02-01T00:00:00Z"
    second = resource(meta_name="second", uid="u2", name="shared", created=later,
                      adoptionPolicy="Adopt")
    key = CloudKey("VpnUserGroup", "server", "shared")
    claims = {key: [claimant(first.body)]}  # as kopf's index has it after a restart
    refused = await engine.reconcile(adapter, second, claims=claims)
    assert refused.reason is Reason.ALREADY_OWNED and "first" not in refused.message
    released = await engine.delete(adapter, second, claims=claims)
    assert released.released and cloud.ops() == []
    # two claims from before ownership was indexed: the earlier made resource wins
    claiming = resource(meta_name="second", uid="u2", name="shared", created=later,
                        status={"id": "s"})
    both = {key: [claimant(claiming.body), claimant(first.body)]}
    assert (await engine.reconcile(adapter, claiming, claims=both)).reason is \
        Reason.ALREADY_OWNED
    assert (await engine.reconcile(adapter, first, claims=both)).ready


async def test_observe_shows_nothing_of_an_object_another_resource_manages(engine,
                                                                         cloud) -> None:
    adapter = FakeAdapter(cloud)
    cloud.visible["s"] = Item(id="s", name="shared", description="theirs")
    owner = resource(meta_name="owner", uid="u1", name="shared", status={"id": "s"})
    observer = resource(meta_name="observer", uid="u2", name="shared", created="2025-01-01T"
                        "00:00:00Z", managementPolicy="Observe",
                        status={"observedId": "s", "type": "Custom"})  # seen before
    claims = {CloudKey("VpnUserGroup", "server", "shared"): [claimant(owner.body)]}
    refused = await engine.reconcile(adapter, observer, claims=claims)
    assert refused.reason is Reason.ALREADY_OWNED and "shows nothing" in refused.message
    assert "owner" not in refused.message and "theirs" not in refused.message
    assert refused.status == {"observedId": None, "type": None} and cloud.calls == [] \
        and cloud.pages_listed == 0
    seen = await engine.reconcile(adapter, observer, claims={})  # nobody manages it
    assert seen.ready and seen.status["observedId"] == "s"


async def test_a_create_holds_its_claim_before_the_index_shows_it(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    await engine.reconcile(adapter, resource(meta_name="a", uid="u1", name="n"),
                           claims=NO_CLAIMS)
    other = await engine.reconcile(adapter, resource(meta_name="b", uid="u2", name="n",
                                                     adoptionPolicy="Adopt"), claims=NO_CLAIMS)
    assert other.reason is Reason.ALREADY_OWNED and cloud.ops() == ["create"]
    key = CloudKey("VpnUserGroup", "server", "n")
    woken = engine.ownership.release(key, "u1")  # the first is deleted: the name is free
    assert woken == {("VpnUserGroup", "ns", "b")}
    cloud.apply()
    taken = await engine.reconcile(adapter, resource(meta_name="b", uid="u2", name="n",
                                                     adoptionPolicy="Adopt"), claims=NO_CLAIMS)
    assert taken.ready and "adopted" in taken.message


async def test_deleting_a_resource_that_made_nothing_touches_nothing(engine, cloud) -> None:
    cloud.visible["h"] = Item(id="h", name="g", description="d")  # same name, not its own
    released = await engine.delete(FakeAdapter(cloud), resource(), claims=NO_CLAIMS)
    assert released.released and cloud.calls == [] and "h" in cloud.visible


async def test_absent_from_a_stale_listing_is_not_drift(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    res = resource()
    first = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    cloud.apply()
    ready = await engine.reconcile(adapter, evolve(res, first), claims=NO_CLAIMS)
    assert ready.ready

    async def stale_lister(page_size: int):  # a listing taken before the object showed
        return
        yield

    ctx = await engine._context(res, res.spec(), NO_CLAIMS)
    adapter.view(ctx, Desired("g", "d"))._lister = stale_lister
    again = await engine.reconcile(adapter, evolve(evolve(res, first), ready), claims=NO_CLAIMS)
    assert again.ready and not again.events
    assert cloud.ops() == ["create", "get"]  # asked the object itself; no second create


async def test_a_long_listing_is_shared_longer_by_first_looks(cloud) -> None:
    engine = make_engine(EngineSettings(snapshot_max_age=0.0, snapshot_age_per_page=60.0), cloud)
    adapter = FakeAdapter(cloud, page_size=1)
    for n in range(3):
        cloud.visible[f"id-{n}"] = Item(id=f"id-{n}", name=f"other-{n}", description="")
    await engine.reconcile(adapter, resource(meta_name="one", uid="u1", name="one"),
                           claims=NO_CLAIMS)
    assert cloud.pages_listed == 3
    await engine.reconcile(adapter, resource(meta_name="two", uid="u2", name="two"),
                           claims=NO_CLAIMS)
    assert cloud.pages_listed == 3  # 3 pages: reused for up to 180 s
    assert cloud.ops() == ["create", "create"]


# -- never lose track ------------------------------------------------------------------------
async def test_the_create_intent_is_written_before_the_create(engine, cloud) -> None:
    first = await engine.reconcile(FakeAdapter(cloud), resource(), claims=NO_CLAIMS)
    token = client_token("uid-1")
    assert cloud.calls == [("intent", "create"), ("create", token)]
    assert engine.kube.patches[0]["pendingChange"]["clientToken"] == token
    assert first.status["pendingChange"]["clientToken"] == token


@pytest.mark.parametrize("refusal", [
    AccessDeniedError("denied by policy", status=403, code="VPN.0003"),
    InvalidRequestError("Not Found", status=404),  # a 404 without the service's code
    CloudError("who knows", status=400, code="VPN.9999"),
])
async def test_a_refused_delete_keeps_the_resource_and_is_tried_again(engine, cloud,
                                                                    refusal) -> None:
    adapter = FakeAdapter(cloud)
    cloud.visible["a"] = Item(id="a", name="g", description="d")
    res = resource(status={"id": "a"})
    cloud.fail_on["delete"] = refusal
    blocked = await engine.delete(adapter, res, claims=NO_CLAIMS)
    assert (blocked.released, blocked.reason, blocked.next) == (
        False, Reason.DELETE_BLOCKED, Next.REQUEUE)
    assert str(refusal) in blocked.message and blocked.delay > 0
    accepted = await engine.delete(adapter, res, attempt=1,
                                   claims=NO_CLAIMS)  # the denial is lifted
    cloud.apply()
    done = await engine.delete(adapter, evolve(res, accepted), claims=NO_CLAIMS)
    assert done.released and cloud.visible == {}


async def test_deleted_while_its_create_answer_was_lost(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    res = resource()
    cloud.fail_on["create"] = TransportError("no answer")
    lost = await engine.reconcile(adapter, res,
                                  claims=NO_CLAIMS)  # the create was sent; no id known
    assert lost.reason is Reason.CLOUD_BUSY and "id" not in lost.status
    res = Resource(VPN_USER_GROUP, {**res.body, "status": {
        "pendingChange": engine.kube.patches[-1]["pendingChange"]}})
    # the first create never reached the cloud; the second (same token) does, and shows late
    resolving = await engine.delete(adapter, res, claims=NO_CLAIMS)
    assert not resolving.released and resolving.status["id"] in cloud.pending
    made = resolving.status["id"]
    assert cloud.calls[-1] == ("create", client_token("uid-1"))
    res = evolve(res, resolving)
    waiting = await engine.delete(adapter, res, claims=NO_CLAIMS)
    assert not waiting.released and "delete" not in cloud.ops()
    cloud.apply()
    deleting = await engine.delete(adapter, evolve(res, waiting), claims=NO_CLAIMS)
    assert ("delete", made) in cloud.calls
    cloud.apply()
    done = await engine.delete(adapter, evolve(res, deleting), claims=NO_CLAIMS)
    assert done.released and cloud.visible == {} and cloud.pending == {}


class TokenlessAdapter(FakeAdapter):
    """A cloud without client tokens (RocketMQ): a create of a taken name is refused, even
    when the earlier create was this resource's own."""

    client_tokens = False

    async def create(self, ctx: Context, desired: Desired, credentials: Credentials | None,
                     client_token: str) -> str:
        self.cloud.call("create", desired.name)
        if any(i is not None and i.name == desired.name
               for i in (*self.cloud.visible.values(), *self.cloud.pending.values())):
            raise AlreadyExistsError("exists", status=400, code="DMS.00400973")
        new = Item(id=desired.name, name=desired.name, description=desired.description)
        self.cloud.pending[new.id] = new
        if "lose-create" in self.cloud.fail_on:  # made, but the answer is lost
            raise self.cloud.fail_on.pop("lose-create")
        return new.id


async def test_deleted_while_its_create_answer_was_lost_without_client_tokens(engine,
                                                                             cloud) -> None:
    adapter = TokenlessAdapter(cloud)
    res = resource()
    cloud.fail_on["lose-create"] = TransportError("no answer")
    lost = await engine.reconcile(adapter, res, claims=NO_CLAIMS)  # made; its answer lost
    assert "id" not in lost.status and "g" in cloud.pending
    res = Resource(VPN_USER_GROUP, {**res.body, "status": {
        "pendingChange": engine.kube.patches[-1]["pendingChange"]}})
    # not shown yet: the create sent again is refused, so the first one made it
    waiting = await engine.delete(adapter, res, claims=NO_CLAIMS)
    assert not waiting.released and "waiting for it to show" in waiting.message
    assert cloud.ops() == ["create", "create"]
    cloud.apply()
    deleting = await engine.delete(adapter, evolve(res, waiting), claims=NO_CLAIMS)
    assert not deleting.released and ("delete", "g") in cloud.calls
    cloud.apply()
    done = await engine.delete(adapter, evolve(res, deleting), claims=NO_CLAIMS)
    assert done.released and cloud.visible == {} and cloud.pending == {}


async def test_without_client_tokens_a_first_create_refused_as_existing_is_not_its_own(
        cloud) -> None:
    """The name was taken between the listing and this pass's first create: "already exists"
    answers the very first send, so the object is someone else's (AlreadyExists, no write).
    Only a repeat after an earlier pass's create (its answer lost) takes it as its own."""
    engine = make_engine(replace(FRESH, snapshot_max_age=60.0), cloud)  # a shared listing
    adapter = TokenlessAdapter(cloud)
    res = resource()
    await list_now(engine, adapter, res)  # cached before the name is taken
    cloud.visible["g"] = Item(id="g", name="g", description="theirs")
    raced = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    assert (raced.ready, raced.reason) == (False, Reason.ALREADY_EXISTS)
    assert raced.status["pendingChange"] is None and "id" not in raced.status
    assert cloud.ops() == ["create"] and cloud.visible["g"].description == "theirs"

    # the refused create holds no claim: another resource is not AlreadyOwned by it
    sent_before = resource(uid="uid-2", status={"pendingChange": {
        "action": "create", "since": "2026-01-01T00:00:00Z", "clientToken": "t"}})
    ambiguous = await engine.reconcile(adapter, sent_before, claims=NO_CLAIMS)
    assert ambiguous.status["id"] == "g" and "Adopted" not in [e.reason for e in
                                                               ambiguous.events]


async def test_observing_an_object_first_is_no_claim_on_it(engine, cloud) -> None:
    """Observe records what it sees in status.observedId and drops status.id and a create
    intent (left from Manage): switched to Manage, the object is one the resource did not
    create, and an observer made before the owner does not win the earliest-made rule."""
    adapter = FakeAdapter(cloud)
    cloud.visible["x"] = Item(id="x", name="g", description="theirs")
    left_from_manage = {"id": "x", "pendingChange": {
        "action": "create", "since": "2026-01-01T00:00:00Z", "clientToken": "t"}}
    observer = resource(managementPolicy="Observe", status=left_from_manage)
    seen = await engine.reconcile(adapter, observer, claims=NO_CLAIMS)
    assert seen.ready and seen.status["observedId"] == "x"
    assert seen.status["id"] is None and seen.status["pendingChange"] is None

    managed = evolve(observer, seen, managementPolicy="Manage")
    assert claim_of(adapter.key_of(managed.body), managed.body) == {}
    refused = await engine.reconcile(adapter, managed, claims=NO_CLAIMS)
    assert refused.reason is Reason.ALREADY_EXISTS and cloud.ops() == []

    owner = resource(meta_name="owner", uid="u-owner", name="g", status={"id": "x"},
                     created="2026-03-01T00:00:00Z")  # made after the observer
    claims = {CloudKey("VpnUserGroup", "server", "g"): [claimant(owner.body)]}
    adopting = evolve(managed, refused, adoptionPolicy="Adopt")
    taken = await engine.reconcile(adapter, adopting, claims=claims)
    assert taken.reason is Reason.ALREADY_OWNED and cloud.ops() == []
    owned = await engine.reconcile(adapter, owner, claims=claims)
    assert owned.reason is Reason.APPLYING and cloud.ops() == ["update"]  # the owner's


async def ready_with_secret(engine, cloud, adapter) -> Resource:
    cloud.secret = cloud.secret_in_effect = "first-Secret-1"
    res = resource()
    res = evolve(res, await engine.reconcile(adapter, res, claims=NO_CLAIMS))
    cloud.apply()
    ready = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    assert ready.ready
    return evolve(res, ready)


async def test_a_reset_whose_answer_was_lost_is_resolved(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    res = await ready_with_secret(engine, cloud, adapter)
    cloud.secret = "second-Secret-2"
    cloud.fail_on["reset"] = TransportError("no answer")
    lost = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    assert lost.reason is Reason.CLOUD_BUSY and cloud.secret_in_effect == "second-Secret-2"
    intent = engine.kube.patches[-1]["pendingChange"]
    assert intent["action"] == "credentials"
    res = Resource(VPN_USER_GROUP, {**res.body, "status": {**res.status, "pendingChange": intent}})
    resolved = await engine.reconcile(adapter, res,
                                      claims=NO_CLAIMS)  # refused as "recent": ours took effect
    assert resolved.ready and resolved.status["pendingChange"] is None
    assert resolved.status["credentialsFingerprint"] == intent["fingerprint"]


async def test_a_refused_reset_voids_its_intent(engine, cloud) -> None:
    """A reset refused before it changed anything (403) leaves no intent: a later "recently
    used" refusal is then the user's own password, not the effect of that reset."""
    adapter = FakeAdapter(cloud)
    res = await ready_with_secret(engine, cloud, adapter)
    cloud.secret = "second-Secret-2"
    cloud.fail_on["refuse-reset"] = AccessDeniedError("denied", status=403, code="VPN.0003")
    denied = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    assert denied.reason is Reason.ACCESS_DENIED and cloud.secret_in_effect == "first-Secret-1"
    assert [p["pendingChange"] and p["pendingChange"]["action"]
            for p in engine.kube.patches[-2:]] == ["credentials", None]
    assert res.written["pendingChange"] is None


async def test_a_create_refused_before_it_made_anything_voids_its_intent(engine,
                                                                         cloud) -> None:
    cloud.fail_on["create"] = AccessDeniedError("denied", status=403, code="VPN.0003")
    res = resource()
    denied = await engine.reconcile(FakeAdapter(cloud), res, claims=NO_CLAIMS)
    assert denied.reason is Reason.ACCESS_DENIED
    assert [p["pendingChange"] and p["pendingChange"]["action"]
            for p in engine.kube.patches] == ["create", None]
    released = await engine.delete(FakeAdapter(cloud), res, claims=NO_CLAIMS)
    assert released.released and cloud.ops() == ["create"]  # nothing to resolve by a create


async def test_a_recent_password_from_the_user_is_refused_clearly(engine, cloud) -> None:
    adapter = FakeAdapter(cloud)
    res = await ready_with_secret(engine, cloud, adapter)
    cloud.secret, cloud.secret_in_effect = "second-Secret-2", "second-Secret-2"  # reused
    refused = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    assert refused.reason is Reason.INVALID_SPEC and "last 5" in refused.message
    assert refused.status["pendingChange"] is None and refused.next is Next.REQUEUE
    assert refused.status.get("credentialsFingerprint") != engine.fingerprint(
        "uid-1", "second-Secret-2")


async def test_a_new_fingerprint_key_resets_nothing(cloud) -> None:
    adapter = FakeAdapter(cloud)
    old = make_engine(FRESH, cloud)
    res = await ready_with_secret(old, cloud, adapter)
    new = make_engine(FRESH, cloud, key=b"n" * 32)  # its Secret was deleted and made again
    renewed = await new.reconcile(adapter, res, claims=NO_CLAIMS)
    assert renewed.ready and "reset" not in cloud.ops()
    assert renewed.status["credentialsFingerprint"] == new.fingerprint("uid-1", cloud.secret)
    cloud.secret = "second-Secret-2"  # a real rotation under the new key still resets
    rotated = await new.reconcile(adapter, evolve(res, renewed), claims=NO_CLAIMS)
    assert rotated.ready and cloud.ops()[-1] == "reset"


@pytest.mark.parametrize("value", ["5", "-5", "nan", "abc"])
async def test_a_bad_resync_interval_is_reported_and_ignored(engine, cloud, value) -> None:
    adapter = FakeAdapter(cloud)
    res = resource(annotations={"access.hwcloud.dev/resync-interval": value})
    outcome = await engine.reconcile(adapter, res, claims=NO_CLAIMS)
    assert not outcome.synced and outcome.synced_reason is Reason.INVALID_SPEC
    assert value in outcome.synced_message and outcome.resync_interval is None
    assert outcome.reason is Reason.APPLYING  # the object itself is reconciled as usual
    good = await engine.reconcile(adapter, resource(
        annotations={"access.hwcloud.dev/resync-interval": "600s"}), claims=NO_CLAIMS)
    assert good.synced and good.resync_interval == 600.0


async def test_settle_waits_in_memory_for_a_change_to_apply(engine, cloud, monkeypatch) -> None:
    """The create and its apply in one handler call: only the intent is written meanwhile,
    and what the API server holds (`written`) is what the final status write compares with."""
    slept: list[float] = []

    async def applied_after(delay: float) -> None:
        slept.append(delay)
        if len(slept) == 2:  # visible at the third look
            cloud.apply()

    monkeypatch.setattr(engine_module.asyncio, "sleep", applied_after)
    kube = engine.kube
    outcome, seen = await engine.settle(FakeAdapter(cloud), resource(), claims=NO_CLAIMS)
    assert (outcome.ready, outcome.reason) == (True, Reason.AVAILABLE)
    assert [e.reason for e in outcome.events] == ["Created"]
    assert cloud.ops() == ["create"] and len(slept) == 2
    assert [set(p) for p in kube.patches] == [{"pendingChange", "conditions"}]  # the intent
    assert seen.written["pendingChange"]["action"] == "create"  # on the server until the end
    assert "id" not in seen.written and seen.status["id"] == outcome.status["id"]


async def test_settle_hands_a_long_wait_back(cloud, monkeypatch) -> None:
    engine = make_engine(replace(FRESH, settle_max_wait=2.5), cloud)

    async def never_applied(delay: float) -> None:
        pass

    monkeypatch.setattr(engine_module.asyncio, "sleep", never_applied)
    outcome, _ = await engine.settle(FakeAdapter(cloud), resource(), claims=NO_CLAIMS)
    assert (outcome.reason, outcome.next) == (Reason.APPLYING, Next.REQUEUE)
    assert cloud.ops() == ["create"]  # looked again, never created twice


def test_a_later_view_of_a_status_less_object_keeps_what_the_server_holds() -> None:
    first = resource()  # the API server holds no status for it
    later = first.with_status({"id": "x", "pendingChange": None})
    assert later.status == {"id": "x"} and later.written == {}
    later.record({"pendingChange": {"action": "create"}})
    assert first.written == {"pendingChange": {"action": "create"}}  # one copy, shared
