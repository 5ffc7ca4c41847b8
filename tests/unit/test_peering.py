"""High availability on kopf's peering: priorities by registration order, the registration
before kopf starts (entry, settle, ties, a given priority held), the leaving entry, whether a
replica acts (the background loops ask). The e2e test
(tests/e2e/test_high_availability.py) runs the replicas themselves."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import kopf
import pytest
from kubernetes.client.exceptions import ApiException

from hwcloud_access import peering
from hwcloud_access.peering import (
    LEAVING_SUFFIX,
    LIFETIME,
    Replica,
    derived_priority,
    join,
    live_priorities,
    replica_identity,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
LOG = logging.getLogger("test-peering")


class FakePeerings:
    """CustomObjectsApi's calls on kopf.dev peering objects, as the chart's RBAC allows them
    (patch, list; no get): (namespace or None, name) -> status."""

    def __init__(self, *objects: tuple[str | None, str]) -> None:
        self.status: dict[tuple[str | None, str], dict[str, Any]] = {o: {} for o in objects}
        self.written: list[str] = []  # the identities patched, in order

    def _status(self, namespace: str | None, plural: str, name: str) -> dict[str, Any]:
        assert plural == ("clusterkopfpeerings" if namespace is None else "kopfpeerings")
        if (namespace, name) not in self.status:
            raise ApiException(status=404, reason="Not Found")
        return self.status[(namespace, name)]

    def _patch(self, status: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        self.written.extend(body["status"])
        for identity, entry in body["status"].items():
            if entry is None:
                status.pop(identity, None)
            else:
                status[identity] = entry
        return {"status": status}

    def patch_cluster_custom_object(self, group, version, plural, name, body):
        return self._patch(self._status(None, plural, name), body)

    def patch_namespaced_custom_object(self, group, version, namespace, plural, name, body):
        return self._patch(self._status(namespace, plural, name), body)

    def _list(self, namespace: str | None, plural: str, field_selector: str) -> dict[str, Any]:
        name = field_selector.removeprefix("metadata.name=")
        if (namespace, name) not in self.status:
            return {"items": []}
        return {"items": [{"status": self._status(namespace, plural, name)}]}

    def list_cluster_custom_object(self, group, version, plural, field_selector):
        return self._list(None, plural, field_selector)

    def list_namespaced_custom_object(self, group, version, namespace, plural, field_selector):
        return self._list(namespace, plural, field_selector)


@pytest.fixture
def api(monkeypatch) -> FakePeerings:
    fake = FakePeerings((None, "peers"), ("team-a", "peers"), ("team-b", "peers"))
    monkeypatch.setattr(peering, "_custom_objects_api", lambda: fake)
    monkeypatch.setattr(peering, "SETTLE_SECONDS", 0.0)
    return fake


def entry(priority: int, seen: datetime, lifetime: int = LIFETIME) -> dict[str, Any]:
    return {"priority": priority, "lifetime": lifetime, "lastseen": seen.isoformat()}


def test_an_earlier_registration_has_the_higher_priority() -> None:
    now = NOW.timestamp()
    assert derived_priority("pod-b", now) > derived_priority("pod-a", now + 0.001)
    assert derived_priority("pod-a", now) > derived_priority("pod-b", now + 0.001)
    assert derived_priority("pod-a", now) == derived_priority("pod-a", now + 0.0004)
    assert derived_priority("pod-a", now) != derived_priority("pod-b", now)  # same millisecond
    assert 0 < derived_priority("pod-a", now) < 2**60


def test_only_live_entries_count() -> None:
    status = {"alive": entry(3, NOW - timedelta(seconds=LIFETIME - 1)),
              "dead": entry(5, NOW - timedelta(seconds=LIFETIME + 1)),
              "gone": None, "broken": {"priority": 9}}
    assert live_priorities(status, NOW) == {"alive": 3}


def test_the_identity_is_the_pod_name() -> None:
    assert replica_identity({"POD_ID": "operator-7d9f-x2k4q"}) == "operator-7d9f-x2k4q"
    assert replica_identity({}) != replica_identity({"POD_ID": "operator-7d9f-x2k4q"})


async def test_namespace_patterns_are_refused_with_peering() -> None:
    standalone = join(None, None, ["team-*"])
    assert standalone.kopf_options == {"standalone": True} and await standalone.acting()
    with pytest.raises(SystemExit, match=r"not patterns \(team-\*\)"):
        join("peers", None, ["apps", "team-*"])


async def test_registration_writes_the_entry_in_each_peering_object(api) -> None:
    settings = kopf.OperatorSettings()
    replica = Replica("peers", ["team-a", "team-b"], None, "pod-a")
    await replica.register(settings=settings, logger=LOG)
    assert settings.peering.lifetime == LIFETIME and settings.peering.stealth
    assert settings.peering.priority == replica.priority > 0
    for namespace in ("team-a", "team-b"):
        assert live_priorities(api.status[(namespace, "peers")], datetime.now(UTC)) == \
            {"pod-a": replica.priority}
    assert api.status[(None, "peers")] == {}
    assert replica.kopf_options()["priority"] is None  # kopf is given none: it is derived


async def test_a_given_priority_is_kept(api) -> None:
    settings = kopf.OperatorSettings()
    replica = Replica("peers", [], 7, "pod-a")
    await replica.register(settings=settings, logger=LOG)
    assert settings.peering.priority == 7 == api.status[(None, "peers")]["pod-a"]["priority"]
    assert replica.kopf_options()["priority"] == 7


async def test_a_given_priority_a_live_replica_holds_stops_this_one_unwritten(api) -> None:
    api.status[(None, "peers")]["pod-b"] = entry(7, datetime.now(UTC))
    replica = Replica("peers", [], 7, "pod-a")
    with pytest.raises(SystemExit, match=r"--priority 7 is held by the live replica\(s\) "
                                         r"pod-b on peering 'peers': kopf would pause all"):
        await replica.register(settings=kopf.OperatorSettings(), logger=LOG)
    assert api.written == []  # pod-b never sees a tie: it goes on acting


class RegisteringTogether(FakePeerings):
    """pod-b writes its entry, with priority 7, right after pod-a's first one."""

    def _patch(self, status: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        answer = super()._patch(status, body)
        if "pod-a" in body["status"] and "pod-b" not in status:
            status["pod-b"] = entry(7, datetime.now(UTC))
        return answer


async def test_given_priorities_registered_together_stop_and_remove_their_entries(
        monkeypatch) -> None:
    api = RegisteringTogether((None, "peers"))
    monkeypatch.setattr(peering, "_custom_objects_api", lambda: api)
    monkeypatch.setattr(peering, "SETTLE_SECONDS", 0.0)
    replica = Replica("peers", [], 7, "pod-a")
    with pytest.raises(SystemExit, match="--priority 7 is held by the live replica"):
        await replica.register(settings=kopf.OperatorSettings(), logger=LOG)
    assert api.written == ["pod-a", "pod-a"]  # written, then removed
    assert set(api.status[(None, "peers")]) == {"pod-b"}


async def test_a_leaving_entry_is_no_tie(api) -> None:
    api.status[(None, "peers")]["pod-b" + LEAVING_SUFFIX] = entry(7, datetime.now(UTC))
    replica = Replica("peers", [], 7, "pod-a")
    await replica.register(settings=kopf.OperatorSettings(), logger=LOG)
    assert api.status[(None, "peers")]["pod-a"]["priority"] == 7


async def test_a_replica_acts_by_kopfs_rule_on_every_peering_object(api, monkeypatch,
                                                                   caplog) -> None:
    replica = Replica("peers", ["team-a", "team-b"], 7, "pod-a")
    assert not await replica.acting()  # not registered: kopf has not started
    await replica.register(settings=kopf.OperatorSettings(), logger=LOG)
    assert await replica.acting()
    team_b = api.status[("team-b", "peers")]
    now = datetime.now(UTC)
    for others, acts in [({"pod-b": entry(6, now)}, True),
                         ({"pod-b": entry(8, now - timedelta(seconds=LIFETIME + 1))}, True),
                         ({"pod-b": entry(8, now)}, False),  # a higher priority
                         ({"pod-b": entry(7, now)}, False),  # kopf pauses both
                         ({"pod-a" + LEAVING_SUFFIX: entry(8, now)}, False),  # leaving
                         ({"frozen": entry(2**62, now, lifetime=60)}, False)]:  # kopf freeze
        team_b.update(others)
        assert await replica.acting() == acts, others
        for identity in others:
            del team_b[identity]

    def unreachable(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ApiException(status=503, reason="Service Unavailable")

    monkeypatch.setattr(api, "list_namespaced_custom_object", unreachable)
    assert not await replica.acting()
    assert "Cannot tell whether this replica acts (HTTP 503)" in caplog.text


async def test_a_peering_object_deleted_after_the_start_keeps_the_last_decision(
        api, caplog) -> None:
    """As kopf does: its keep-alives find nothing, and no event changes what it decided."""
    active = Replica("peers", ["team-a", "team-b"], 7, "pod-a")
    standby = Replica("peers", ["team-a", "team-b"], 5, "pod-b")
    for replica in (active, standby):
        await replica.register(settings=kopf.OperatorSettings(), logger=LOG)
    assert await active.acting() and not await standby.acting()
    del api.status[("team-a", "peers")]
    assert await active.acting() and not await standby.acting()
    assert "KopfPeering team-a/peers not found: this replica keeps its last decision " \
        "(acting), as kopf does" in caplog.text


async def test_a_tie_registers_again(api, monkeypatch, caplog) -> None:
    moments = iter([NOW.timestamp(), NOW.timestamp() + 1])
    monkeypatch.setattr(peering, "time", SimpleNamespace(time=lambda: next(moments)))
    tied = derived_priority("pod-a", NOW.timestamp())
    api.status[(None, "peers")]["pod-b"] = entry(tied, datetime.now(UTC))
    replica = Replica("peers", [], None, "pod-a")
    await replica.register(settings=kopf.OperatorSettings(), logger=LOG)
    assert replica.priority == derived_priority("pod-a", NOW.timestamp() + 1) != tied
    assert "['pod-b'] registered with the same priority: registering again" in caplog.text


async def test_a_missing_peering_object_is_waited_for(api) -> None:
    replica = Replica("elsewhere", [], None, "pod-a")
    with pytest.raises(kopf.TemporaryError, match="ClusterKopfPeering elsewhere not found"):
        await replica.register(settings=kopf.OperatorSettings(), logger=LOG)


async def test_leaving_pauses_every_replica_until_the_clean_up(api) -> None:
    replica = Replica("peers", [], None, "pod-a")
    await replica.register(settings=kopf.OperatorSettings(), logger=LOG)
    replica._signalled(LOG)
    await replica._leaving
    assert replica.stop_flag.is_set()
    live = live_priorities(api.status[(None, "peers")], datetime.now(UTC))
    assert live == {"pod-a": replica.priority, "pod-a" + LEAVING_SUFFIX: replica.priority + 1}
    await replica.unregister()
    assert set(api.status[(None, "peers")]) == {"pod-a"}  # kopf removes its own entry
