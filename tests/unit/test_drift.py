"""The drift sweep on a fake clock: one listing per period (the shortest a member asks
for), and a wake-up for each member changed in the cloud or gone from its listing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from pydantic import BaseModel

from hwcloud_access.cloud import VpnUser
from hwcloud_access.reconcile.acting import always_acting
from hwcloud_access.reconcile.drift import DriftSweeper, resync_interval
from hwcloud_access.reconcile.outcome import Outcome, Reason
from hwcloud_access.reconcile.registry import ObjectKey
from hwcloud_access.reconcile.views import CollectionView, ViewKey


class Item(BaseModel):
    id: str
    name: str
    description: str = ""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cloud() -> dict[str, Item]:
    return {i: Item(id=i, name=f"n{i}") for i in ("a", "b", "c")}


def setup(cloud: dict[str, Item], clock: Clock, interval: float = 300.0, page_size: int = 100,
          acting: Callable[[], Awaitable[bool]] = always_acting):
    listings: list[float] = []
    woken: list[tuple[tuple[str, str, str], str]] = []

    async def lister(page_size: int):
        listings.append(clock.now)
        for item in list(cloud.values()):
            yield item

    async def wake(key, why) -> None:
        woken.append((key, why))

    view = CollectionView(ViewKey("", "vpn-users", "server"), lister, page_size=page_size,
                          id_of=lambda i: i.id, name_of=lambda i: i.name, clock=clock)
    sweeper = DriftSweeper(wake, interval=interval, clock=clock, acting=acting)
    return view, sweeper, listings, woken


def key(name: str) -> ObjectKey:
    return ObjectKey("VpnUser", "ns", name)


async def test_one_listing_per_period_wakes_only_what_drifted(cloud) -> None:
    clock = Clock()
    view, sweeper, listings, woken = setup(cloud, clock, interval=60.0)
    for i in cloud:
        sweeper.track(key(i), view, lambda o: o.id, cloud[i])
    clock.now = 59.0
    await sweeper.sweep_due()
    assert listings == [] and woken == []
    cloud["a"] = cloud["a"].model_copy(update={"description": "tampered"})
    del cloud["b"]
    clock.now = 61.0
    await sweeper.sweep_due()
    assert listings == [61.0]
    assert sorted(woken) == [(key("a"), "drift sweep: changed in the cloud"),
                             (key("b"), "drift sweep: gone from the cloud's listing")]
    clock.now = 200.0  # the drifted ones are re-tracked by their reconcile, not before
    await sweeper.sweep_due()
    assert len(listings) == 2 and len(woken) == 2


async def test_a_resource_that_is_no_longer_ready_leaves_the_sweep(cloud) -> None:
    """Ready, then e.g. AccountNotAllowed (its account stopped admitting its namespace): no
    listing of that account's cloud is made for it any more."""
    clock = Clock()
    view, sweeper, listings, woken = setup(cloud, clock, interval=60.0)
    ready = Outcome(ready=True, reason=Reason.AVAILABLE, message="", cloud_object=cloud["a"],
                    view=view)
    sweeper.follow(key("a"), ready, lambda o: o.id)
    clock.now = 61.0
    await sweeper.sweep_due()
    assert listings == [61.0]
    refused = Outcome(ready=False, reason=Reason.ACCOUNT_NOT_ALLOWED, message="not admitted")
    sweeper.follow(key("a"), refused, lambda o: o.id)
    del cloud["a"]
    clock.now = 200.0
    await sweeper.sweep_due()
    assert listings == [61.0] and woken == []


async def test_the_shortest_resync_interval_of_a_listing_wins(cloud) -> None:
    clock = Clock()
    view, sweeper, listings, _ = setup(cloud, clock)
    sweeper.track(key("a"), view, lambda o: o.id, cloud["a"])
    sweeper.track(key("b"), view, lambda o: o.id, cloud["b"], resync_interval("40s"))
    clock.now = 41.0
    await sweeper.sweep_due()
    assert listings == [41.0]
    sweeper.forget(key("b"))
    clock.now = 90.0
    await sweeper.sweep_due()
    assert listings == [41.0]  # back to the operator's period (300 s)


async def test_one_object_cannot_make_a_long_listing_sweep_faster_than_its_floor() -> None:
    clock = Clock()
    cloud = {str(i): Item(id=str(i), name=f"n{i}") for i in range(40)}
    view, sweeper, listings, _ = setup(cloud, clock, page_size=2)  # 20 pages: 100 s floor
    await view.snapshot(newer_than=0.0)
    sweeper.track(key("0"), view, lambda o: o.id, cloud["0"], resync_interval("30"))
    for clock.now in (31.0, 99.0):
        await sweeper.sweep_due()
    assert listings == [0.0]
    clock.now = 101.0
    await sweeper.sweep_due()
    assert listings == [0.0, 101.0]


async def test_a_replica_that_does_not_act_neither_lists_nor_wakes(cloud) -> None:
    """Paused by kopf's peering after it has acted: another replica sweeps."""
    clock, asked = Clock(), []

    async def acting() -> bool:
        asked.append(clock.now)
        return clock.now > 150.0

    view, sweeper, listings, woken = setup(cloud, clock, interval=60.0, acting=acting)
    sweeper.track(key("a"), view, lambda o: o.id, cloud["a"])
    del cloud["a"]
    clock.now = 30.0
    await sweeper.sweep_due()
    assert asked == []  # nothing due: nothing asked
    for clock.now in (61.0, 62.0, 75.0):
        await sweeper.sweep_due()
    assert listings == [] and woken == []
    assert asked == [61.0]  # asked again PAUSED_RECHECK later, not at every tick
    for clock.now in (76.0, 151.0):
        await sweeper.sweep_due()
    assert asked == [61.0, 76.0, 151.0]
    assert listings == [151.0]  # acting again: what was due is swept at once
    assert woken == [(key("a"), "drift sweep: gone from the cloud's listing")]


def test_resync_interval_annotation() -> None:
    assert resync_interval("60") == 60.0
    assert resync_interval("90s") == 90.0
    assert resync_interval(None) is None
    for bad in ("5", "29s", "-5", "nan", "inf", "abc", "", "1e400"):
        with pytest.raises(ValueError, match="at least 30"):
            resync_interval(bad)


async def test_a_moved_stamp_is_not_drift() -> None:
    """Our own password reset moves a user's updated_at: nobody changed what the spec says."""
    clock = Clock()
    answer = {"id": "a", "name": "na", "updated_at": "2026-01-01T00:00:00Z"}
    stamped = {"a": VpnUser.model_validate(answer)}
    view, sweeper, listings, woken = setup(stamped, clock, interval=60.0)
    sweeper.track(key("a"), view, lambda o: o.id, stamped["a"])
    stamped["a"] = VpnUser.model_validate({**answer, "updated_at": "2026-01-01T00:05:00Z"})
    clock.now = 61.0
    await sweeper.sweep_due()
    assert listings == [61.0] and woken == []
    stamped["a"] = stamped["a"].model_copy(update={"description": "tampered"})
    clock.now = 122.0
    await sweeper.sweep_due()
    assert woken == [(key("a"), "drift sweep: changed in the cloud")]
