"""The operator's settings: what `hwcloud-access run` passes on to the kopf start-up."""

from __future__ import annotations

import inspect
import typing
from types import ModuleType

import kubernetes
import pytest

from hwcloud_access import metrics, runtime
from hwcloud_access.reconcile.admission import Admission
from hwcloud_access.reconcile.dependencies import Dependencies
from hwcloud_access.reconcile.drift import DriftSweeper
from hwcloud_access.reconcile.kube import Kube
from hwcloud_access.reconcile.ownership import Ownership
from hwcloud_access.reconcile.registry import ObjectKey
from hwcloud_access.reconcile.secret_refs import SecretRefs
from hwcloud_access.runtime import OperatorSettings, kopf_connections, operator_settings


def test_kopf_connections_leave_room_for_every_watch() -> None:
    cluster_wide = kopf_connections([])
    assert cluster_wide == 64 + 5 + 3
    assert kopf_connections(["a", "b", "c"]) == cluster_wide + 2 * 5


def test_kopf_connections_are_unlimited_for_namespace_patterns() -> None:
    assert kopf_connections(["team-*"]) == 0
    assert kopf_connections(["!kube-system"]) == 0


def test_settings_come_from_options_then_variables_then_the_defaults() -> None:
    settings = operator_settings(namespaces=["a"], resync_interval=60.0,
                                 env={"HWCLOUD_KOPF_CONNECTIONS": "80",
                                      "HWCLOUD_CREATE_TURNS": "16",
                                      "POD_NAMESPACE": "ops"})
    assert (settings.kopf_connections, settings.create_turns, settings.resync_interval,
            settings.state_namespace) == (80, 16, 60.0, "ops")
    defaults = operator_settings(namespaces=[], env={})
    assert defaults == OperatorSettings(kopf_connections=kopf_connections([]))
    assert operator_settings(namespaces=[], state_namespace="mine",
                             env={"HWCLOUD_STATE_NAMESPACE": "other"}).state_namespace == "mine"


def test_a_variable_that_is_not_a_number_is_named() -> None:
    with pytest.raises(ValueError, match="HWCLOUD_CLOUD_BUDGET='soon' is not a number"):
        operator_settings(namespaces=[], env={"HWCLOUD_CLOUD_BUDGET": "soon"})


def test_a_default_account_with_a_key_missing_stops_the_start_with_its_names() -> None:
    """Before kopf starts: otherwise the start-up is retried for good and the liveness probe
    never answers, with the reason deep in the log."""
    with pytest.raises(ValueError, match="HW_REGION_NAME is set but HW_ACCESS_KEY not"):
        operator_settings(namespaces=[], env={"HW_REGION_NAME": "r", "HW_PROJECT_ID": "p",
                                              "HW_SECRET_KEY": "s"})
    account = operator_settings(namespaces=[], env={
        "HW_REGION_NAME": "r", "HW_PROJECT_ID": "p", "HW_ACCESS_KEY": "AK",
        "HW_SECRET_KEY": "not-shown"}).default_account
    assert account is not None and account.region == "r"
    assert "not-shown" not in repr(account)


# -- the parts built at start-up -----------------------------------------------------------


def keeps_per_object(part: object) -> bool:
    """Whether `part` keeps state per Kubernetes object: it has a `forget(ObjectKey)`."""
    forget = getattr(type(part), "forget", None)
    if not inspect.isfunction(forget):
        return False
    hints = typing.get_type_hints(forget)
    parameters = [name for name in inspect.signature(forget).parameters if name != "self"]
    return bool(parameters) and hints.get(parameters[0]) is ObjectKey


def parts_of(root: object, skip: object, depth: int = 4) -> list[object]:
    """Every object reachable from `root` through attributes and containers, `skip` left
    out (and what only it reaches)."""
    found: dict[int, object] = {}

    def walk(part: object, depth: int) -> None:
        if depth < 0 or part is skip or id(part) in found or \
                isinstance(part, str | bytes | int | float | type | ModuleType):
            return
        found[id(part)] = part
        if isinstance(part, dict):
            children = list(part.values())
        elif isinstance(part, list | tuple | set | frozenset):
            children = list(part)
        else:
            children = list(getattr(part, "__dict__", {}).values())
        for child in children:
            walk(child, depth - 1)

    walk(root, depth)
    return list(found.values())


async def test_every_part_that_keeps_state_per_object_forgets_a_deleted_one(
        monkeypatch) -> None:
    """build_runtime as `hwcloud-access run` calls it (the API server faked): each part it
    builds that remembers something per object is registered, so that the delete handler's
    one registry.forget(key) reaches it; a part added without registering fails here."""
    async def no_namespaces(self: Kube) -> list:
        return []

    async def key(kube: Kube, namespace: str, name: str) -> bytes:
        return b"k" * 32

    monkeypatch.setattr(kubernetes.config, "load_incluster_config", lambda: None)
    monkeypatch.setattr(Kube, "list_namespaces", no_namespaces)
    monkeypatch.setattr(runtime, "fingerprint_key", key)
    monkeypatch.setattr(metrics.PACERS, "source", None)
    built = await runtime.build_runtime(OperatorSettings())
    holders = [part for part in parts_of(built, skip=built.registry) + [metrics.READY]
               if keeps_per_object(part)]
    told: list[object] = []
    try:
        assert {type(h) for h in holders} >= {DriftSweeper, Admission, SecretRefs,
                                              Dependencies, Ownership, metrics.ReadyStates}
        for holder in holders:  # each records that it was told, instead of forgetting
            holder.forget = lambda key, holder=holder: told.append(holder)  # type: ignore
        built.registry.forget(ObjectKey("VpnUser", "ns", "gone"))
        assert [type(h).__name__ for h in holders if not any(h is t for t in told)] == []
    finally:
        for holder in holders:
            vars(holder).pop("forget", None)
        await built.aclose()
