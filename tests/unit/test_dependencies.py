"""A group's users: waiting for the group, and the group told when its users change."""

from __future__ import annotations

import asyncio

import pytest

from hwcloud_access.reconcile import dependencies
from hwcloud_access.reconcile.dependencies import Dependencies
from hwcloud_access.reconcile.registry import ObjectKey

READY = [{"type": "Ready", "status": "True"}]
DEVS, OPS = ObjectKey("VpnUserGroup", "team", "devs"), ObjectKey("VpnUserGroup", "team", "ops")
OTHER_TEAMS = ObjectKey("VpnUserGroup", "other", "devs")


def user(name: str) -> ObjectKey:
    return ObjectKey("VpnUser", "team", name)


@pytest.fixture
async def deps(monkeypatch) -> tuple[Dependencies, list[tuple[ObjectKey, str]]]:
    monkeypatch.setattr(dependencies, "MEMBERS_SETTLE", 0.01)
    woken: list[tuple[ObjectKey, str]] = []

    async def wake(key: ObjectKey, why: str) -> None:
        woken.append((key, why))

    deps = Dependencies(None, wake)  # type: ignore[arg-type]
    for key, group_id in ((DEVS, "g-devs"), (OPS, "g-ops"), (OTHER_TEAMS, "g-devs")):
        await deps.passed(key, {}, {"id": group_id, "conditions": READY})
    return deps, woken


async def settle() -> None:
    await asyncio.sleep(0.05)


async def test_users_joining_wake_their_group_once(deps) -> None:
    deps, woken = deps
    for name in ("alice", "bob", "carol"):
        await deps.passed(user(name), {}, {"groupId": "g-devs", "conditions": READY})
    await settle()
    assert woken == [(DEVS, "its users changed")]  # not the other namespace's group


async def test_a_user_not_ready_or_unchanged_wakes_nothing(deps) -> None:
    deps, woken = deps
    await deps.passed(user("alice"), {}, {"groupId": "g-devs", "conditions": []})
    await settle()
    assert woken == []
    await deps.passed(user("alice"), {}, {"groupId": "g-devs", "conditions": READY})
    await settle()
    await deps.passed(DEVS, {}, {"id": "g-devs", "conditions": READY})  # it counted them
    await deps.passed(user("alice"), {}, {"groupId": "g-devs", "conditions": READY})
    await settle()
    assert woken == [(DEVS, "its users changed")]


async def test_moving_or_deleting_a_user_wakes_the_groups_it_left_and_joined(deps) -> None:
    deps, woken = deps
    await deps.passed(user("alice"), {}, {"groupId": "g-devs", "conditions": READY})
    await settle()
    await deps.passed(DEVS, {}, {"id": "g-devs", "conditions": READY})
    woken.clear()
    await deps.passed(user("alice"), {}, {"groupId": "g-ops", "conditions": READY})
    await settle()
    assert sorted(key.name for key, _ in woken) == ["devs", "ops"]
    for group in (DEVS, OPS):
        await deps.passed(group, {}, {"id": f"g-{group.name}", "conditions": READY})
    woken.clear()
    deps.forget(user("alice"))
    await settle()
    assert woken == [(OPS, "its users changed")]


async def test_a_pass_waiting_in_memory_sees_its_group_become_ready(deps) -> None:
    deps, woken = deps
    waiting = asyncio.ensure_future(deps.wait_for_ready("team", "late"))  # patience: 30 s
    await asyncio.sleep(0)
    await deps.passed(ObjectKey("VpnUserGroup", "team", "late"), {}, {"id": "g-late",
                                                                      "conditions": []})
    assert not waiting.done()  # not Ready yet
    await deps.passed(ObjectKey("VpnUserGroup", "team", "late"), {}, {"id": "g-late",
                                                                      "conditions": READY})
    await asyncio.wait_for(waiting, 1.0)  # told directly: at once, and no wake-up written
    assert woken == []
    deps.patience = 0.01
    await asyncio.wait_for(deps.wait_for_ready("team", "never"), 1.0)  # gives up in time


async def test_a_group_deleted_before_it_was_ready_leaves_nothing_to_wait_on(deps) -> None:
    deps, _ = deps
    deps.patience = 0.01
    never = ObjectKey("VpnUserGroup", "team", "never")
    await deps.wait_for_ready("team", "never")
    deps.forget(never)
    assert never not in deps._ready  # a deleted group's event does not outlive it
