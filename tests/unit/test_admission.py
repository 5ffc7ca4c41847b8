"""Turns at creating: a bounded number inside, the rest woken in arrival order."""

from __future__ import annotations

import asyncio

from hwcloud_access.reconcile.admission import Admission
from hwcloud_access.reconcile.registry import ObjectKey
from hwcloud_access.reconcile.views import ViewKey

S, OTHER = ViewKey("", "vpn-users", "s"), ViewKey("", "vpn-users", "other")


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def key(n: int) -> ObjectKey:
    return ObjectKey("VpnUser", "ns", f"u{n}")


def admitting(limit: int, clock: Clock, **settings: float) -> tuple[Admission, list]:
    """An Admission and the keys it woke."""
    woken: list = []

    async def wake(k, why):
        woken.append(k)

    return Admission(wake, limit=limit, clock=clock, **settings), woken


async def test_a_bounded_number_inside_the_rest_woken_in_order() -> None:
    admission, woken = admitting(2, Clock())
    assert admission.enter(S, key(1)) == 0
    assert admission.enter(S, key(2)) == 0
    assert admission.enter(S, key(3)) == 1
    assert admission.enter(S, key(4)) == 2
    assert admission.enter(OTHER, key(5)) == 0  # lines are per server
    admission.leave(S, key(1))
    await asyncio.sleep(0)  # wake-ups run in the background
    assert woken == [key(3)]
    assert admission.enter(S, key(4)) == 1  # not its turn: 3's is held for it
    assert admission.enter(S, key(3)) == 0
    admission.leave(S, key(2))
    await asyncio.sleep(0)
    assert woken == [key(3), key(4)]
    assert admission.enter(S, key(4)) == 0


async def test_a_turn_held_for_an_object_that_never_comes_back_expires() -> None:
    clock = Clock()
    admission, woken = admitting(1, clock, hold=30)
    assert admission.enter(S, key(1)) == 0
    assert admission.enter(S, key(2)) == 1
    assert admission.enter(S, key(3)) == 2
    admission.leave(S, key(1))
    await asyncio.sleep(0)  # wake-ups run in the background
    assert woken == [key(2)]  # ... and key 2 is deleted, never to return
    clock.now = 31
    assert admission.enter(S, key(3)) == 0
    admission.forget(key(2))


async def test_a_pass_waiting_for_its_turn_is_told_without_a_wake_up() -> None:
    admission, woken = admitting(1, Clock())
    assert admission.enter(S, key(1)) == 0
    assert admission.enter(S, key(2)) == 1
    assert admission.enter(S, key(3)) == 2
    waiting = asyncio.ensure_future(admission.turn(S, key(2), patience=5))
    await asyncio.sleep(0)
    admission.leave(S, key(1))
    assert await waiting is True
    assert admission.enter(S, key(2)) == 0  # its turn was held for it
    assert await admission.turn(S, key(3), patience=0.01) is False  # gave up: woken instead
    admission.leave(S, key(2))
    await asyncio.sleep(0)
    assert woken == [key(3)]


async def test_a_turn_that_comes_as_the_wait_runs_out_is_taken_not_lost() -> None:
    """The turn is handed to the waiting pass directly (no wake-up) in the moment its wait
    times out: the pass must take it, or nobody would ever wake it."""
    admission, woken = admitting(1, Clock())
    assert admission.enter(S, key(1)) == 0
    assert admission.enter(S, key(2)) == 1
    asyncio.get_running_loop().call_soon(admission.leave, S, key(1))  # while the wait ends
    assert await admission.turn(S, key(2), patience=0) is True
    assert admission.enter(S, key(2)) == 0 and woken == []
