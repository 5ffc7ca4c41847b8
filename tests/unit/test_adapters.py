"""The three real adapters (VpnUserGroup, VpnUser, MqUser), each driven through a Context
over a cloud session whose every call is checked against the real client's signature and
recorded, and an in-memory API server (custom objects and Secrets)."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

import pytest

from hwcloud_access.api import API_VERSION, MQ_USER, VPN_USER, VPN_USER_GROUP, KindDef
from hwcloud_access.cloud import (
    MQ_PAGE_SIZE,
    VPN_PAGE_SIZE,
    MqUser,
    MqUserWrite,
    Perm,
    RocketMqClient,
    VpnClient,
    VpnGroup,
    VpnUser,
)
from hwcloud_access.reconcile.adapters import ADAPTERS
from hwcloud_access.reconcile.adapters.mq_user import DesiredMqUser
from hwcloud_access.reconcile.adapters.vpn_group import DesiredGroup
from hwcloud_access.reconcile.adapters.vpn_user import DesiredUser, UserTarget
from hwcloud_access.reconcile.credentials import (
    Fingerprinter,
    mq_secret_problem,
    vpn_password_problem,
)
from hwcloud_access.reconcile.dependencies import Dependencies
from hwcloud_access.reconcile.kube import SecretData
from hwcloud_access.reconcile.outcome import (
    DependencyNotReady,
    InvalidInput,
    InvalidSpec,
    Reason,
)
from hwcloud_access.reconcile.ownership import CloudKey
from hwcloud_access.reconcile.registry import ObjectKey
from hwcloud_access.reconcile.resource import Adapter, Context, Credentials, Resource
from hwcloud_access.reconcile.secret_refs import SecretRefs
from hwcloud_access.reconcile.views import ViewKey, Views

GROUPS = ADAPTERS[VPN_USER_GROUP.kind]
USERS = ADAPTERS[VPN_USER.kind]
MQ = ADAPTERS[MQ_USER.kind]

SERVER, OTHER_SERVER, INSTANCE = "server-1", "server-2", "instance-1"
UID = "uid-1"
TOKEN = "0f8fad5b-d9cb-469f-a165-70867728950e"
GOOD_SECRET = "Valid-Pass-123"  # both services take it


class RecordingClient:
    """Stands in for a VpnClient or RocketMqClient. Each call is bound to the real method's
    signature (an argument the client does not take fails as it would in production) and
    recorded as (method, its arguments by name with the defaults filled in).
    `answers[method]` is what a call returns, raises (an exception) or lists."""

    def __init__(self, real: type) -> None:
        self._real = real
        self.answers: dict[str, Any] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, method: str) -> Any:
        real = getattr(self._real, method)  # a method the client lacks: AttributeError
        signature = inspect.signature(real)

        def record(args: tuple, kwargs: dict) -> Any:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            self.calls.append(
                (method, {k: v for k, v in bound.arguments.items() if k != "self"}))
            return self.answers.get(method)

        if inspect.isasyncgenfunction(real):
            async def listing(*args: Any, **kwargs: Any) -> Any:
                for item in record(args, kwargs) or []:
                    yield item
            return listing

        async def call(*args: Any, **kwargs: Any) -> Any:
            answer = record(args, kwargs)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return call


class FakeKube:
    """The API server as the adapters reach it: custom objects by (kind, namespace, name),
    Secrets by (namespace, name), the ones read or created so far (Kube's watched cache),
    and what was created and posted."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.secrets: dict[tuple[str, str], SecretData] = {}
        self.cache: dict[tuple[str, str], SecretData] = {}
        self.created: list[tuple[str, dict[str, str]]] = []  # (name, data)
        self.events: list[tuple[str, str, str]] = []  # (involved name, type, reason)

    def add_secret(self, name: str, data: dict[str, str], *, owner: str | None = None,
                   labelled: bool = True) -> None:
        self.secrets[("ns", name)] = SecretData(
            uid=f"uid-{name}", resource_version="1",
            owner_uids=frozenset({owner} if owner else ()), data=data, labelled=labelled)

    async def get_object(self, kind: KindDef, name: str, namespace: str | None = None
                         ) -> dict[str, Any] | None:
        return self.objects.get((kind.kind, namespace or "", name))

    async def list_objects(self, kind: KindDef, namespace: str) -> list[dict[str, Any]]:
        return [body for (k, ns, _), body in self.objects.items()
                if (k, ns) == (kind.kind, namespace)]

    async def read_watched_secret(self, namespace: str, name: str) -> SecretData | None:
        if (namespace, name) not in self.cache and (namespace, name) in self.secrets:
            self.cache[(namespace, name)] = self.secrets[(namespace, name)]
        return self.cache.get((namespace, name))

    def cached_secret(self, namespace: str, name: str) -> SecretData | None:
        return self.cache.get((namespace, name))

    async def create_owned_secret(self, namespace: str, name: str, data: dict[str, str],
                                  owner: dict[str, Any], labels: dict[str, str]
                                  ) -> SecretData | None:
        if (namespace, name) in self.secrets:
            return None
        secret = SecretData(uid=f"uid-{name}", resource_version="1",
                            owner_uids=frozenset({owner["metadata"]["uid"]}), data=dict(data),
                            labelled=True)
        self.secrets[(namespace, name)] = self.cache[(namespace, name)] = secret
        self.created.append((name, dict(data)))
        return secret

    async def post_event(self, namespace: str, involved: dict[str, Any], type_: str,
                         reason: str, message: str) -> None:
        self.events.append((involved["metadata"]["name"], type_, reason))


class World:
    """One operator's in-memory state over a recording cloud and a fake API server."""

    def __init__(self) -> None:
        self.kube = FakeKube()
        self.vpn = RecordingClient(VpnClient)
        self.mq = RecordingClient(RocketMqClient)
        self.views = Views()
        self.secret_refs = SecretRefs()
        self.woken: list[tuple[ObjectKey, str]] = []
        self.dependencies = Dependencies(self.kube, self._wake,  # type: ignore[arg-type]
                                        patience=0.05)
        self.references: dict[Any, list[Any]] = {}  # kopf's index

    async def _wake(self, key: ObjectKey, why: str) -> None:
        self.woken.append((key, why))

    def context(self, kind: KindDef, spec: dict[str, Any], *, name: str = "alice",
                status: dict[str, Any] | None = None) -> Context:
        resource = Resource(kind, {
            "apiVersion": API_VERSION, "kind": kind.kind,
            "metadata": {"name": name, "namespace": "ns", "uid": UID},
            "spec": spec, "status": status or {}})
        session = SimpleNamespace(vpn=self.vpn, rocketmq=self.mq)
        return Context(resource, session, self.kube, self.views,  # type: ignore[arg-type]
                       Fingerprinter(b"k" * 32), self.dependencies, self.secret_refs,
                       resource.spec(), self.references)

    async def prepared(self, adapter: Adapter, kind: KindDef, spec: dict[str, Any],
                       **context: Any) -> tuple[Context, Any]:
        ctx = self.context(kind, spec, **context)
        return ctx, await adapter.prepare(ctx, ctx.spec)


@pytest.fixture
def world() -> World:
    return World()


GROUP_SPEC = {"vpnServerId": SERVER, "name": "ops", "description": "ops team"}
USER_SPEC = {"vpnServerId": SERVER, "groupId": "g-1", "description": "dev"}
MQ_SPEC = {
    "instanceId": INSTANCE, "accessKey": "orders-app", "whiteRemoteAddress": "10.0.0.0/8",
    "defaultTopicPerm": "SUB",
    "topicPerms": [{"name": "topic1", "perm": "PUB|SUB"}, {"name": "topic2", "perm": "SUB"}],
    "groupPerms": [{"name": "group1", "perm": "PUB|SUB"}]}


def cloud_group(**fields: Any) -> VpnGroup:
    return VpnGroup(**{"id": "g-1", "name": "ops", "description": "ops team",
                       "type": "Custom", "user_number": 0, **fields})


def cloud_user(**fields: Any) -> VpnUser:
    return VpnUser(**{"id": "u-1", "name": "alice", "description": "dev",
                      "user_group_id": "g-1", "user_group_name": "ops",
                      "static_ip": "disable", **fields})


def cloud_mq_user(**fields: Any) -> MqUser:
    return MqUser(**{
        "access_key": "orders-app", "white_remote_address": "10.0.0.0/8", "admin": False,
        "default_topic_perm": "SUB", "default_group_perm": "DENY",
        "topic_perms": [Perm(name="topic1", perm="PUB|SUB"), Perm(name="topic2", perm="SUB")],
        "group_perms": [Perm(name="group1", perm="PUB|SUB")], **fields})


# -- which cloud object a resource names -------------------------------------------------


@pytest.mark.parametrize("adapter", [GROUPS, USERS], ids=lambda a: a.kind.kind)
def test_a_vpn_resource_names_its_server_and_metadata_name_unless_spec_name_is_set(
        adapter: Adapter) -> None:
    body: dict[str, Any] = {"metadata": {"name": "meta-name"},
                            "spec": {"vpnServerId": SERVER}}
    assert adapter.key_of(body) == CloudKey(adapter.kind.kind, SERVER, "meta-name")
    body["spec"]["name"] = "cloud-name"
    assert adapter.key_of(body) == CloudKey(adapter.kind.kind, SERVER, "cloud-name")
    assert adapter.key_of({"metadata": {"name": "bare"}}) == CloudKey(
        adapter.kind.kind, "", "bare")


def test_an_mq_user_names_its_instance_and_access_key_never_metadata_name() -> None:
    body = {"metadata": {"name": "meta-name"},
            "spec": {"instanceId": INSTANCE, "accessKey": "orders-app"}}
    assert MQ.key_of(body) == CloudKey("MqUser", INSTANCE, "orders-app")


def test_only_the_vpn_kinds_repeat_a_create_by_client_token() -> None:
    assert (GROUPS.client_tokens, USERS.client_tokens, MQ.client_tokens) == (True, True, False)


# -- prepare -----------------------------------------------------------------------------


async def test_a_group_is_named_by_metadata_name_unless_spec_name_is_set(world: World) -> None:
    _, desired = await world.prepared(GROUPS, VPN_USER_GROUP,
                                      {"vpnServerId": SERVER, "description": "d"}, name="ops")
    assert desired == DesiredGroup(SERVER, "ops", "d")
    _, desired = await world.prepared(GROUPS, VPN_USER_GROUP,
                                      {"vpnServerId": SERVER, "name": "Ops_1"}, name="ops.team")
    assert desired == DesiredGroup(SERVER, "Ops_1", "")


GROUP_RULE = "group name (1-64 letters, digits, _ and -)"
USER_RULE = "user name (4-32 letters, digits, ., _ and -)"


@pytest.mark.parametrize(("adapter", "kind", "name", "rule"), [
    (GROUPS, VPN_USER_GROUP, "ops.team", GROUP_RULE),
    (GROUPS, VPN_USER_GROUP, "g" * 65, GROUP_RULE),
    (USERS, VPN_USER, "bob", USER_RULE),
    (USERS, VPN_USER, "u" * 33, USER_RULE),
])
async def test_a_metadata_name_the_vpn_refuses_is_invalid_spec_asking_for_spec_name(
        world: World, adapter: Adapter, kind: KindDef, name: str, rule: str) -> None:
    ctx = world.context(kind, {"vpnServerId": SERVER}, name=name)
    for step in (adapter.prepare, adapter.before_delete):
        with pytest.raises(InvalidSpec) as refused:
            await step(ctx, ctx.spec)
        assert refused.value.message == (
            f"metadata.name {name!r} is not a valid VPN {rule}: set spec.name")
    assert world.vpn.calls == []


def test_an_access_key_rocketmq_refuses_is_invalid_spec_naming_the_field(world: World) -> None:
    with pytest.raises(InvalidSpec) as refused:
        world.context(MQ_USER, {**MQ_SPEC, "accessKey": "1-starts-with-a-digit"})
    assert refused.value.message.startswith("spec.accessKey: String should match pattern")


async def test_an_mq_user_prepares_what_it_writes(world: World) -> None:
    _, desired = await world.prepared(MQ, MQ_USER, MQ_SPEC)
    assert desired == DesiredMqUser(INSTANCE, MqUserWrite(
        access_key="orders-app", white_remote_address="10.0.0.0/8", admin=False,
        default_topic_perm="SUB", default_group_perm="DENY",
        topic_perms=[Perm(name="topic1", perm="PUB|SUB"), Perm(name="topic2", perm="SUB")],
        group_perms=[Perm(name="group1", perm="PUB|SUB")]))


# -- a VpnUser's group -------------------------------------------------------------------


def group_resource(server: str = SERVER, ready: bool = True,
                   cloud_id: str | None = "g-ops") -> dict[str, Any]:
    status: dict[str, Any] = {
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if cloud_id:
        status["id"] = cloud_id
    return {"spec": {"vpnServerId": server}, "status": status}


OPS_GROUP = ObjectKey("VpnUserGroup", "ns", "ops")
ALICE = ObjectKey("VpnUser", "ns", "alice")


async def test_a_user_with_group_id_takes_it_as_given(world: World) -> None:
    _, desired = await world.prepared(USERS, VPN_USER, {
        "vpnServerId": SERVER, "groupId": "g-external", "description": "d",
        "staticIp": "10.0.0.5"})
    assert desired == DesiredUser(SERVER, "alice", "d", "10.0.0.5", "g-external")
    assert world.vpn.calls == []


async def test_a_user_cannot_join_another_namespaces_managed_group_by_its_id(
        world: World) -> None:
    managed = {"apiVersion": API_VERSION, "kind": "VpnUserGroup",
               "metadata": {"name": "theirs", "namespace": "team-a"},
               **group_resource(cloud_id="g-theirs")}
    def index(group: dict[str, Any]) -> dict[Any, list[Any]]:  # as kopf's index holds it
        return {key: [value] for key, value in GROUPS.references(group).items()}

    world.references = index(managed)
    with pytest.raises(InvalidSpec) as refused:
        await world.prepared(USERS, VPN_USER, {"vpnServerId": SERVER, "groupId": "g-theirs"})
    assert "another namespace" in str(refused.value) and "team-a" not in str(refused.value)
    managed["metadata"]["namespace"] = "ns"  # its own namespace's group: taken as given
    world.references = index(managed)
    _, desired = await world.prepared(USERS, VPN_USER,
                                      {"vpnServerId": SERVER, "groupId": "g-theirs"})
    assert desired.group_id == "g-theirs" and world.vpn.calls == []


async def test_a_user_with_group_ref_to_a_ready_group_takes_its_cloud_id(world: World) -> None:
    world.kube.objects[OPS_GROUP] = group_resource()
    _, desired = await world.prepared(USERS, VPN_USER,
                                      {"vpnServerId": SERVER, "groupRef": {"name": "ops"}})
    assert desired == DesiredUser(SERVER, "alice", "", "disable", "g-ops")
    assert world.vpn.calls == []


async def test_a_user_with_group_ref_to_an_observed_group_takes_the_id_it_sees(
        world: World) -> None:
    """managementPolicy Observe writes status.observedId, not status.id (no claim): joining
    the group it observes still works."""
    observed = group_resource(cloud_id=None)
    observed["status"]["observedId"] = "g-seen"
    world.kube.objects[OPS_GROUP] = observed
    _, desired = await world.prepared(USERS, VPN_USER,
                                      {"vpnServerId": SERVER, "groupRef": {"name": "ops"}})
    assert desired.group_id == "g-seen" and world.vpn.calls == []


@pytest.mark.parametrize(("group", "state"), [
    (None, "does not exist"),
    (group_resource(ready=False), "is not Ready"),
    (group_resource(cloud_id=None), "is not Ready"),
], ids=["missing", "not-ready", "ready-without-id"])
async def test_a_user_waits_for_its_group_and_is_woken_when_it_is_ready(
        world: World, group: dict[str, Any] | None, state: str) -> None:
    if group is not None:
        world.kube.objects[OPS_GROUP] = group
    ctx = world.context(VPN_USER, {"vpnServerId": SERVER, "groupRef": {"name": "ops"}})
    with pytest.raises(DependencyNotReady) as waiting:
        await USERS.prepare(ctx, ctx.spec)
    assert waiting.value.message == (
        f"VpnUserGroup ops {state} yet; waiting for it to become Ready")
    assert waiting.value.woken  # no polling: the group's pass wakes it
    ready = group_resource()
    await world.dependencies.passed(OPS_GROUP, ready["spec"], ready["status"])
    assert world.woken == [(ALICE, "group ops is Ready")]


async def test_a_group_on_another_vpn_server_is_invalid_spec(world: World) -> None:
    world.kube.objects[OPS_GROUP] = group_resource(server=OTHER_SERVER)
    ctx = world.context(VPN_USER, {"vpnServerId": SERVER, "groupRef": {"name": "ops"}})
    with pytest.raises(InvalidSpec) as refused:
        await USERS.prepare(ctx, ctx.spec)
    assert refused.value.message == (
        f"VpnUserGroup ops is on VPN server {OTHER_SERVER}, not {SERVER}")
    ready = group_resource(server=OTHER_SERVER)
    await world.dependencies.passed(OPS_GROUP, ready["spec"], ready["status"])
    assert world.woken == []  # it waits for a spec change, not for the group


async def test_a_user_without_a_group_is_in_the_servers_default_group(world: World) -> None:
    world.vpn.answers["list_groups"] = [
        VpnGroup(id="g-custom", name="ops", type="Custom"),
        VpnGroup(id="g-default", name="default_group", type="Default")]
    for _ in range(2):  # the built-in group does not change: one listing serves both
        _, desired = await world.prepared(USERS, VPN_USER, {"vpnServerId": SERVER})
        assert desired.group_id == "g-default"
    assert world.vpn.calls == [("list_groups", {"server_id": SERVER,
                                                "page_size": VPN_PAGE_SIZE})]


async def test_a_server_listing_no_default_group_is_a_dependency_not_ready(world: World) -> None:
    world.vpn.answers["list_groups"] = [VpnGroup(id="g-custom", name="ops", type="Custom")]
    ctx = world.context(VPN_USER, {"vpnServerId": SERVER})
    with pytest.raises(DependencyNotReady) as waiting:
        await USERS.prepare(ctx, ctx.spec)
    assert waiting.value.message == f"VPN server {SERVER} shows no Default user group"


@pytest.mark.parametrize(("group", "group_id"), [
    ({"groupRef": {"name": "gone"}}, None), ({"groupId": "g-external"}, "g-external"), ({}, None),
], ids=["groupRef", "groupId", "default"])
async def test_deleting_a_user_resolves_no_group(world: World, group: dict[str, str],
                                                 group_id: str | None) -> None:
    ctx = world.context(VPN_USER, {"vpnServerId": SERVER, **group})
    target = await USERS.before_delete(ctx, ctx.spec)
    assert target == UserTarget(SERVER, "alice", "", "disable", group_id)
    assert not isinstance(target, DesiredUser)  # nothing managing needs resolved
    await world.dependencies.passed(ObjectKey("VpnUserGroup", "ns", "gone"), {},
                                    group_resource()["status"])
    assert world.vpn.calls == [] and world.woken == []  # no listing, no waiting


# -- credentials -------------------------------------------------------------------------


@dataclass(frozen=True)
class CredentialedKind:
    adapter: Adapter
    kind: KindDef
    spec: dict[str, Any]  # names the cloud object `cloud_name`
    cloud_name: str
    ref_field: str
    owned_suffix: str
    owned_key: str
    identity_key: str
    rules: Callable[[str, str], str | None]  # why the cloud would refuse (value, cloud name)

    def problem(self, value: str) -> str | None:
        return self.rules(value, self.cloud_name)


VPN_CREDENTIALS = CredentialedKind(
    USERS, VPN_USER, {**USER_SPEC, "name": "Alice-0001"}, "Alice-0001", "passwordSecretRef",
    "-vpn-credentials", "password", "username", vpn_password_problem)
MQ_CREDENTIALS = CredentialedKind(
    MQ, MQ_USER, {**MQ_SPEC, "accessKey": "Orders-app1"}, "Orders-app1", "secretKeySecretRef",
    "-mq-credentials", "secretKey", "accessKey", mq_secret_problem)
CREDENTIALED = pytest.mark.parametrize("case", [VPN_CREDENTIALS, MQ_CREDENTIALS],
                                       ids=lambda c: c.kind.kind)
OWN_SECRET = {"name": "own-secret", "key": "value"}


async def credentials_of(world: World, case: CredentialedKind, *, secret_ref: bool = True,
                         status: dict[str, Any] | None = None) -> Credentials:
    spec = {**case.spec, case.ref_field: OWN_SECRET} if secret_ref else case.spec
    ctx, desired = await world.prepared(case.adapter, case.kind, spec, status=status)
    assert case.adapter.cloud_name(desired) == case.cloud_name
    return await case.adapter.credentials(ctx, desired)


@CREDENTIALED
async def test_the_named_secrets_value_is_the_credentials(world: World,
                                                           case: CredentialedKind) -> None:
    world.kube.add_secret("own-secret", {"value": GOOD_SECRET})
    assert await credentials_of(world, case) == Credentials(GOOD_SECRET, None)
    assert world.secret_refs.watched("ns", "own-secret")  # its change wakes the resource
    assert world.kube.created == [] and world.kube.events == []


@pytest.mark.parametrize(("case", "value", "why"), [
    (VPN_CREDENTIALS, "Ab1-", "the password has 4 characters; the VPN needs 8 to 32"),
    (VPN_CREDENTIALS, "Pass\tword-1", "the password has a character the VPN does not allow"),
    (VPN_CREDENTIALS, "abcdefghij",
     "the password needs at least 2 of: upper case, lower case, digits, special"),
    (VPN_CREDENTIALS, "Alice-0001", "the password must not be the user name or its reverse"),
    (VPN_CREDENTIALS, "1000-ecilA", "the password must not be the user name or its reverse"),
    (MQ_CREDENTIALS, "Ab1-", "the secret key has 4 characters; RocketMQ needs 8 to 32"),
    (MQ_CREDENTIALS, "Pass word-1", "the secret key has a character RocketMQ does not allow"),
    (MQ_CREDENTIALS, "abcdefgh1",
     "the secret key needs at least 3 of: upper case, lower case, digits, special"),
    (MQ_CREDENTIALS, "Orders-app1",
     "the secret key must not be the access key or its reverse"),
], ids=lambda v: v.kind.kind if isinstance(v, CredentialedKind) else None)
async def test_a_secret_value_the_cloud_would_refuse_is_invalid_input_without_the_value(
        world: World, case: CredentialedKind, value: str, why: str) -> None:
    world.kube.add_secret("own-secret", {"value": value})
    with pytest.raises(InvalidInput) as refused:
        await credentials_of(world, case)
    assert refused.value.message == f"Secret ns/own-secret: {why}"
    assert value not in refused.value.message
    # InvalidSpec to the user, but re-checked slowly: the Secret is no spec change
    assert refused.value.reason is Reason.INVALID_SPEC and not refused.value.terminal


@CREDENTIALED
async def test_a_resource_without_a_namespace_has_none_for_its_secret(
        world: World, case: CredentialedKind) -> None:
    ctx, desired = await world.prepared(case.adapter, case.kind, case.spec)
    body = {**ctx.resource.body, "metadata": {"name": "alice", "uid": UID}}
    with pytest.raises(InvalidSpec) as refused:
        await case.adapter.credentials(replace(ctx, resource=Resource(case.kind, body)), desired)
    assert refused.value.message == (f"{case.kind.kind} alice is not namespaced: it has no "
                                     "namespace to hold its credentials Secret")
    assert world.kube.created == [] and world.kube.cache == {}


@CREDENTIALED
async def test_a_named_secret_that_is_missing_is_waited_for(world: World,
                                                            case: CredentialedKind) -> None:
    with pytest.raises(DependencyNotReady) as waiting:
        await credentials_of(world, case)
    assert waiting.value.message == (
        "Secret ns/own-secret not found; waiting for it to be created")
    assert waiting.value.woken and world.secret_refs.watched("ns", "own-secret")


@CREDENTIALED
async def test_a_named_secret_without_the_key_is_invalid_input(world: World,
                                                               case: CredentialedKind) -> None:
    world.kube.add_secret("own-secret", {"other": GOOD_SECRET})
    with pytest.raises(InvalidInput) as refused:
        await credentials_of(world, case)
    assert refused.value.message == "Secret ns/own-secret has no key 'value'"


@CREDENTIALED
async def test_an_unlabelled_secret_is_said_once(world: World, case: CredentialedKind) -> None:
    world.kube.add_secret("own-secret", {"value": GOOD_SECRET}, labelled=False)
    for _ in range(2):
        assert await credentials_of(world, case) == Credentials(GOOD_SECRET, None)
    assert world.kube.events == [("alice", "Warning", "SecretNotLabelled")]


@CREDENTIALED
async def test_without_a_named_secret_one_is_generated_and_kept(world: World,
                                                                case: CredentialedKind) -> None:
    first = await credentials_of(world, case, secret_ref=False)
    owned = f"alice{case.owned_suffix}"
    assert first.generated_secret == owned and case.problem(first.secret) is None
    assert world.kube.created == [
        (owned, {case.identity_key: case.cloud_name, case.owned_key: first.secret})]
    assert await credentials_of(world, case, secret_ref=False) == first
    assert len(world.kube.created) == 1
    assert world.secret_refs.watched("ns", owned)


@CREDENTIALED
async def test_after_a_restart_the_generated_secret_is_read_not_made_again(
        world: World, case: CredentialedKind) -> None:
    owned = f"alice{case.owned_suffix}"
    world.kube.add_secret(owned, {case.owned_key: GOOD_SECRET}, owner=UID)
    credentials = await credentials_of(world, case, secret_ref=False,
                                       status={"credentialsSecret": owned})
    assert credentials == Credentials(GOOD_SECRET, owned) and world.kube.created == []


@CREDENTIALED
async def test_a_generated_secrets_name_taken_by_a_foreign_secret_is_invalid_spec(
        world: World, case: CredentialedKind) -> None:
    owned = f"alice{case.owned_suffix}"
    world.kube.add_secret(owned, {case.owned_key: GOOD_SECRET}, owner="someone-else")
    with pytest.raises(InvalidSpec) as refused:
        await credentials_of(world, case, secret_ref=False)
    assert refused.value.message == (
        f"Secret ns/{owned} exists and is not owned by this {case.kind.kind}: name a Secret "
        "in the spec or remove it")


@CREDENTIALED
async def test_throwaway_credentials_are_new_each_time_and_pass_the_rules(
        world: World, case: CredentialedKind) -> None:
    _, desired = await world.prepared(case.adapter, case.kind, case.spec)
    made = [case.adapter.throwaway_credentials(desired) for _ in range(3)]
    assert len({c.secret for c in made}) == 3
    assert all(case.problem(c.secret) is None and c.generated_secret is None for c in made)
    assert world.kube.created == []  # nobody holds them


async def test_a_group_has_no_credentials(world: World) -> None:
    ctx, desired = await world.prepared(GROUPS, VPN_USER_GROUP, GROUP_SPEC)
    assert await GROUPS.credentials(ctx, desired) is None
    assert GROUPS.throwaway_credentials(desired) is None
    with pytest.raises(NotImplementedError):
        await GROUPS.apply_credentials(ctx, desired, None, cloud_group())


# -- differences -------------------------------------------------------------------------


@pytest.mark.parametrize(("observed", "found"), [
    (cloud_group(), []),
    (cloud_group(description="old"), ["description"]),
    (cloud_group(type="Default", user_number=7, name="ops"), []),  # read-only fields
])
def test_group_differences(observed: VpnGroup, found: list[str]) -> None:
    assert GROUPS.differences(DesiredGroup(SERVER, "ops", "ops team"), observed) == found


def test_a_missing_description_equals_an_empty_one() -> None:
    assert GROUPS.differences(DesiredGroup(SERVER, "ops", ""),
                              cloud_group(description=None)) == []
    assert USERS.differences(DesiredUser(SERVER, "alice", "", "disable", "g-1"),
                             cloud_user(description=None)) == []


@pytest.mark.parametrize(("observed", "found"), [
    (cloud_user(), []),
    (cloud_user(static_ip=None), []),  # the cloud leaves it out when disabled
    (cloud_user(user_group_name="renamed"), []),  # read back, not asked for
    (cloud_user(description="old"), ["description"]),
    (cloud_user(static_ip="10.0.0.9"), ["staticIp"]),
    (cloud_user(user_group_id="g-2"), ["group"]),
    (cloud_user(description="old", static_ip="10.0.0.9", user_group_id=None),
     ["description", "staticIp", "group"]),
])
def test_user_differences(observed: VpnUser, found: list[str]) -> None:
    assert USERS.differences(DesiredUser(SERVER, "alice", "dev", "disable", "g-1"),
                             observed) == found


@pytest.mark.parametrize(("observed", "found"), [
    (cloud_mq_user(), []),
    (cloud_mq_user(topic_perms=[Perm(name="topic2", perm="SUB"),
                                Perm(name="topic1", perm="PUB|SUB")]), []),
    (cloud_mq_user(admin=None), []),
    (cloud_mq_user(white_remote_address="10.0.0.0/16"), ["whiteRemoteAddress"]),
    (cloud_mq_user(admin=True), ["admin"]),
    (cloud_mq_user(default_topic_perm="DENY"), ["defaultTopicPerm"]),
    (cloud_mq_user(default_group_perm="SUB"), ["defaultGroupPerm"]),
    (cloud_mq_user(topic_perms=[Perm(name="topic1", perm="PUB"),
                                Perm(name="topic2", perm="SUB")]), ["topicPerms"]),
    (cloud_mq_user(topic_perms=[Perm(name="topic1", perm="PUB|SUB")]), ["topicPerms"]),
    (cloud_mq_user(group_perms=[]), ["groupPerms"]),
    (cloud_mq_user(white_remote_address=None, admin=True, default_topic_perm=None,
                   default_group_perm=None, topic_perms=[], group_perms=[]),
     ["whiteRemoteAddress", "admin", "defaultTopicPerm", "defaultGroupPerm", "topicPerms",
      "groupPerms"]),
])
async def test_mq_user_differences(world: World, observed: MqUser, found: list[str]) -> None:
    _, desired = await world.prepared(MQ, MQ_USER, MQ_SPEC)
    assert MQ.differences(desired, observed) == found


async def test_an_empty_whitelist_equals_none_read_back(world: World) -> None:
    _, desired = await world.prepared(MQ, MQ_USER, {**MQ_SPEC, "whiteRemoteAddress": ""})
    assert MQ.differences(desired, cloud_mq_user(white_remote_address=None)) == []


# -- the cloud calls ---------------------------------------------------------------------


async def test_group_calls(world: World) -> None:
    ctx, desired = await world.prepared(GROUPS, VPN_USER_GROUP, GROUP_SPEC)
    world.vpn.answers["create_group"] = "g-new"
    assert await GROUPS.create(ctx, desired, None, TOKEN) == "g-new"
    await GROUPS.update(ctx, desired, cloud_group(description="old"))
    await GROUPS.delete(ctx, desired, cloud_group(user_number=0))
    assert world.vpn.calls == [
        ("create_group", {"server_id": SERVER, "name": "ops", "description": "ops team",
                          "client_token": TOKEN}),
        ("update_group", {"server_id": SERVER, "group_id": "g-1", "name": "ops",
                          "description": "ops team"}),
        ("delete_group", {"server_id": SERVER, "group_id": "g-1"}),
    ]


def member(group_id: str) -> dict[str, Any]:
    return {"spec": {"vpnServerId": SERVER}, "status": {"groupId": group_id}}


@pytest.mark.parametrize(("user_number", "detail"), [
    (2, "2 of them VpnUser(s) in this namespace"),
    (5, "2 of them VpnUser(s) in this namespace, 3 not managed here (delete them or move "
        "them to another group in the cloud)"),
])
async def test_a_group_with_users_is_not_deleted_and_says_who_they_are(
        world: World, user_number: int, detail: str) -> None:
    world.kube.objects.update({
        ("VpnUser", "ns", "alice"): member("g-1"),
        ("VpnUser", "ns", "bob"): member("g-1"),
        ("VpnUser", "ns", "carol"): member("g-other"),  # another group
        ("VpnUser", "elsewhere", "dave"): member("g-1"),  # not counted
    })
    ctx, desired = await world.prepared(GROUPS, VPN_USER_GROUP, GROUP_SPEC)
    world.vpn.answers["get_group"] = cloud_group(user_number=user_number)
    with pytest.raises(DependencyNotReady) as waiting:  # the listing said 1: counted again
        await GROUPS.delete(ctx, desired, cloud_group(user_number=1))
    assert waiting.value.message == (
        f"the group still has {user_number} user(s) ({detail}); it is deleted once they "
        "are gone")
    assert world.vpn.calls == [("get_group", {"server_id": SERVER, "group_id": "g-1"})]


async def test_a_group_whose_last_users_just_left_is_deleted_at_once(world: World) -> None:
    ctx, desired = await world.prepared(GROUPS, VPN_USER_GROUP, GROUP_SPEC)
    world.vpn.answers["get_group"] = cloud_group(user_number=0)
    await GROUPS.delete(ctx, desired, cloud_group(user_number=3))  # a listing seconds old
    assert world.vpn.calls == [("get_group", {"server_id": SERVER, "group_id": "g-1"}),
                               ("delete_group", {"server_id": SERVER, "group_id": "g-1"})]


async def test_user_calls(world: World) -> None:
    ctx, desired = await world.prepared(USERS, VPN_USER, {
        **USER_SPEC, "staticIp": "10.0.0.5"})
    world.vpn.answers["create_user"] = "u-new"
    assert await USERS.create(ctx, desired, Credentials(GOOD_SECRET), TOKEN) == "u-new"
    observed = cloud_user(description="old")
    await USERS.update(ctx, desired, observed)
    await USERS.apply_credentials(ctx, desired, Credentials("Other-Pass-456"), observed)
    await USERS.delete(ctx, desired, observed)
    assert world.vpn.calls == [
        ("create_user", {"server_id": SERVER, "name": "alice", "password": GOOD_SECRET,
                         "description": "dev", "user_group_id": "g-1",
                         "static_ip": "10.0.0.5", "client_token": TOKEN}),
        ("update_user", {"server_id": SERVER, "user_id": "u-1", "description": "dev",
                         "user_group_id": "g-1", "static_ip": "10.0.0.5"}),
        ("reset_password", {"server_id": SERVER, "user_id": "u-1",
                            "new_password": "Other-Pass-456"}),
        ("delete_user", {"server_id": SERVER, "user_id": "u-1"}),
    ]


async def test_a_deletion_finds_deletes_and_creates_again_with_its_target(
        world: World) -> None:
    """A deletion whose create's answer was lost sends that create again (the same client
    token) to learn what it made: with the spec's fields, the group as the spec's groupId."""
    ctx = world.context(VPN_USER, {**USER_SPEC, "description": "d"})
    target = await USERS.before_delete(ctx, ctx.spec)
    assert USERS.view(ctx, target).key == ViewKey("", "vpn-users", SERVER)
    assert USERS.cloud_name(target) == "alice"
    world.vpn.answers["create_user"] = "u-made"
    assert await USERS.create(ctx, target, USERS.throwaway_credentials(target), TOKEN) \
        == "u-made"
    await USERS.delete(ctx, target, cloud_user(id="u-made"))
    [(_, create), delete] = world.vpn.calls
    assert {k: v for k, v in create.items() if k != "password"} == {
        "server_id": SERVER, "name": "alice", "description": "d", "user_group_id": "g-1",
        "static_ip": "disable", "client_token": TOKEN}
    assert delete == ("delete_user", {"server_id": SERVER, "user_id": "u-made"})


async def test_mq_user_calls(world: World) -> None:
    ctx, desired = await world.prepared(MQ, MQ_USER, MQ_SPEC)
    assert await MQ.create(ctx, desired, Credentials(GOOD_SECRET), TOKEN) == "orders-app"
    observed = cloud_mq_user(admin=True)
    await MQ.update(ctx, desired, observed)
    await MQ.apply_credentials(ctx, desired, Credentials("Other-Pass-456"), observed)
    await MQ.delete(ctx, desired, observed)
    write = desired.write
    assert world.mq.calls == [  # no client token: the API has none
        ("create_user", {"instance_id": INSTANCE, "user": write, "secret_key": GOOD_SECRET}),
        ("update_user", {"instance_id": INSTANCE, "access_key": "orders-app", "user": write,
                         "secret_key": None}),  # None keeps the secret key
        ("update_user", {"instance_id": INSTANCE, "access_key": "orders-app", "user": write,
                         "secret_key": "Other-Pass-456"}),
        ("delete_user", {"instance_id": INSTANCE, "access_key": "orders-app"}),
    ]
    assert world.vpn.calls == []


# -- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Readable:
    adapter: Adapter
    kind: KindDef
    spec: dict[str, Any]
    observed: Any  # the cloud object as read
    client: str  # the World's client: vpn or mq
    collection: str
    scope: str
    list_call: tuple[str, dict[str, Any]]
    get_call: tuple[str, dict[str, Any]]
    read_back: dict[str, Any]


READABLE = pytest.mark.parametrize("case", [
    Readable(GROUPS, VPN_USER_GROUP, GROUP_SPEC, cloud_group(user_number=3), "vpn",
             "vpn-groups", SERVER,
             ("list_groups", {"server_id": SERVER, "page_size": VPN_PAGE_SIZE}),
             ("get_group", {"server_id": SERVER, "group_id": "g-1"}),
             {"type": "Custom", "userNumber": 3}),
    Readable(USERS, VPN_USER, USER_SPEC, cloud_user(), "vpn", "vpn-users", SERVER,
             ("list_users", {"server_id": SERVER, "page_size": VPN_PAGE_SIZE}),
             ("get_user", {"server_id": SERVER, "user_id": "u-1"}),
             {"groupId": "g-1", "userGroupName": "ops"}),
    Readable(MQ, MQ_USER, MQ_SPEC, cloud_mq_user(), "mq", "mq-users", INSTANCE,
             ("list_users", {"instance_id": INSTANCE, "page_size": MQ_PAGE_SIZE}),
             ("get_user", {"instance_id": INSTANCE, "access_key": "orders-app"}),
             {}),
], ids=lambda c: c.kind.kind)


@READABLE
@pytest.mark.parametrize("account", ["", "acct"])
async def test_the_view_lists_the_accounts_collection_on_its_scope(
        world: World, case: Readable, account: str) -> None:
    spec = {**case.spec, "accountRef": {"name": account}} if account else case.spec
    ctx, desired = await world.prepared(case.adapter, case.kind, spec)
    client = getattr(world, case.client)
    client.answers[case.list_call[0]] = [case.observed]
    view = case.adapter.view(ctx, desired)
    assert view.key == ViewKey(account, case.collection, case.scope)
    snapshot = await view.snapshot(newer_than=time.monotonic())
    cloud_id = case.adapter.cloud_id(case.observed)
    name = case.adapter.cloud_name(desired)
    assert snapshot.by_id == {cloud_id: case.observed} and snapshot.by_name == {
        name: case.observed}
    assert client.calls == [case.list_call]
    assert case.adapter.view(ctx, desired) is view  # one listing shared by all its objects


@READABLE
async def test_read_one_gets_the_object_and_read_back_reports_it(world: World,
                                                                 case: Readable) -> None:
    ctx, desired = await world.prepared(case.adapter, case.kind, case.spec)
    client = getattr(world, case.client)
    client.answers[case.get_call[0]] = case.observed
    cloud_id = case.adapter.cloud_id(case.observed)
    assert await case.adapter.read_one(ctx, desired, cloud_id) is case.observed
    assert client.calls == [case.get_call]
    assert case.adapter.read_back(case.observed) == case.read_back
    # Of no object: the same fields, emptied (what a resource shows when it may show nothing)
    assert case.adapter.read_back(None) == dict.fromkeys(case.read_back)
