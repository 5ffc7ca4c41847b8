"""A per-server (per VPN server / RocketMQ instance) adaptive bound on calls.

Two knobs, both AIMD:

* ``limit``: how many calls may be in flight at once (min ``min_limit``, max
  ``max_limit``).
* ``rate``: how many *writes* may start per second. VPN user/group calls return at
  once and congest the server's apply queue afterwards, so a bound on calls in
  flight alone would not keep the queue from overflowing; the start rate does.

On a congestion answer (VPN.0030, 429, DMS.00400026) the limit halves
(``decrease``) and the rate shrinks by ``rate_decrease`` (0.8), at most once per
epoch: answers to calls started before the last shrink are ignored (they were sent
at the old rate), as TCP reacts once per round trip; but never below 90% of the writes
the server accepted over the last 4 s, so that a storm of busy answers over many
round trips cannot collapse the rate. On every other answer the limit
grows by ``1/limit`` (one per window of successes) and the rate grows additively:
``max(rate_increase, rate_increase_fraction * rate_at_last_shrink)`` per second of
successes. Before the first congestion the rate grows by ``slow_start`` (25%) per
success, to find the server's pace fast from a cautious ``initial_rate``.

Why these numbers: a gentle shrink (0.8) plus a growth scaled to the rate found
keeps the server's queue from running dry between two busy answers, so the
throughput stays near the server's physical rate (queue capacity / apply time).
In the simulation of tests/unit/test_cloud_limiter.py (1,000 concurrent creates, a
queue of 10, round trips of 5 or 50 ms), the time to finish is 1.1-1.2x the ideal
with an apply time of 0.5-2 s, and 1.4-1.8x with 0.05-0.2 s (where a round trip is a
large part of a change's time in the queue); 0-7% of the calls get VPN.0030. A gentler
shrink (0.9) gained 1-4% at 0.5-2 s but took 3x the ideal time at 0.05 s. In
`make bench` (1,000 creates, apply 0.5 s) creates are accepted at 17.2/s on average
against the queue's 20/s.

Waiters are served first come, first served, and give up at their deadline with
``LimiterTimeoutError`` (no request sent; the caller requeues).

``clock`` and ``sleep`` are injectable so the tests run on a fake clock.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from .errors import LimiterTimeoutError


class CallOutcome(StrEnum):
    """What a call that held a permit tells the pacer."""

    SUCCESS = "success"  # the server took it (or refused it for good): the pace may grow
    CONGESTION = "congestion"  # the server is congested: the pace shrinks
    NEUTRAL = "neutral"  # no word on congestion (no answer, a retryable error)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class Permit:
    write: bool
    started: float
    released: bool = field(default=False)


class AimdLimiter:
    def __init__(
        self,
        *,
        max_limit: int = 8,
        min_limit: int = 1,
        decrease: float = 0.5,
        rate_decrease: float = 0.8,
        initial_rate: float = 4.0,
        min_rate: float = 0.2,
        max_rate: float = 1000.0,
        rate_increase: float = 0.1,
        rate_increase_fraction: float = 0.03,
        slow_start: float = 0.25,
        goodput_window: float = 4.0,
        goodput_share: float = 0.9,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        name: str = "",
    ) -> None:
        if not 1 <= min_limit <= max_limit:
            raise ValueError("need 1 <= min_limit <= max_limit")
        if not 0 < decrease < 1:
            raise ValueError("decrease must be in (0, 1)")
        if not 0 < min_rate <= initial_rate <= max_rate:
            raise ValueError("need 0 < min_rate <= initial_rate <= max_rate")
        self.name = name
        self.min_limit = min_limit
        self.max_limit = max_limit
        self.limit = float(max_limit)
        self.decrease = decrease
        self.rate = initial_rate
        self.min_rate = min_rate
        self.max_rate = max_rate
        self.rate_decrease = rate_decrease
        self.rate_increase = rate_increase
        self.rate_increase_fraction = rate_increase_fraction
        self._rate_at_decrease = initial_rate
        self.slow_start = slow_start
        self.in_slow_start = True
        self.goodput_window = goodput_window
        self.goodput_share = goodput_share
        self._accepted: collections.deque[float] = collections.deque()  # write successes
        self._clock = clock
        self._sleep = sleep
        self.in_flight = 0
        self.pacing = 0  # writes waiting for their start time
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._pace_lock = asyncio.Lock()
        self._next_write = -math.inf
        self._last_write = -math.inf
        self._last_decrease = -math.inf
        self._first_accepted = math.inf
        self.congestion_events = 0
        self.congestion_signals = 0

    # -- acquiring -------------------------------------------------------------------

    async def acquire(self, *, write: bool, deadline: float | None = None) -> Permit:
        """A slot; for a write, also its turn at the current start rate."""
        if write:
            await self._pace(deadline)
        await self._take_slot(deadline)
        return Permit(write=write, started=self._clock())

    async def _take_slot(self, deadline: float | None) -> None:
        if self.in_flight < int(self.limit) and not self._waiters:
            self.in_flight += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await self._wait(future, deadline)
        except BaseException:
            if future.done() and not future.cancelled():
                self._give_back()  # granted at the same moment we gave up
            else:
                future.cancel()
                self._remove_waiter(future)
            raise

    async def _wait(self, future: asyncio.Future[None], deadline: float | None) -> None:
        if deadline is None:
            await future
            return
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise self._timeout()
        try:
            async with asyncio.timeout(remaining):
                await asyncio.shield(future)
        except TimeoutError:
            raise self._timeout() from None

    def _remove_waiter(self, future: asyncio.Future[None]) -> None:
        try:
            self._waiters.remove(future)
        except ValueError:
            pass

    async def _pace(self, deadline: float | None) -> None:
        self.pacing += 1
        try:
            await self._take_turn(deadline)
        finally:
            self.pacing -= 1

    async def _take_turn(self, deadline: float | None) -> None:
        try:
            if deadline is None:
                await self._pace_lock.acquire()
            else:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise self._timeout()
                async with asyncio.timeout(remaining):
                    await self._pace_lock.acquire()
        except TimeoutError:
            raise self._timeout() from None
        try:
            while True:
                now = self._clock()
                start = max(self._next_write, self._last_write + 1.0 / self.rate)
                wait = start - now
                if wait <= 0:
                    break
                if deadline is not None and start > deadline:
                    raise self._timeout()
                await self._sleep(wait)
            # A wake-up less than an interval late (a busy event loop) keeps its place on
            # the schedule, so that lateness does not add up write after write; after an
            # idle spell the schedule starts again from now (no burst).
            slot = start if now - start < 1.0 / self.rate else now
            self._last_write = slot
            self._next_write = slot + 1.0 / self.rate
        finally:
            self._pace_lock.release()

    def _timeout(self) -> LimiterTimeoutError:
        return LimiterTimeoutError(
            "no slot of the per-server limiter within the time budget; no request was sent",
            operation=f"limiter {self.name}".strip(),
            code="CLIENT.LimiterTimeout",
        )

    # -- releasing -------------------------------------------------------------------

    def release(self, permit: Permit, outcome: CallOutcome) -> None:
        if permit.released:
            return
        permit.released = True
        if outcome is CallOutcome.CONGESTION:
            self._on_congestion(permit)
        elif outcome is CallOutcome.SUCCESS:
            self._on_success(permit)
        self._give_back()

    def _give_back(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < int(self.limit):
            future = self._waiters.popleft()
            if future.done():
                continue
            self.in_flight += 1
            future.set_result(None)

    def _on_success(self, permit: Permit) -> None:
        self.limit = min(self.max_limit, self.limit + 1.0 / self.limit)
        if permit.write:
            now = self._clock()
            self._accepted.append(now)
            self._forget_accepted_before(now - self.goodput_window)
            if self._first_accepted == math.inf:
                self._first_accepted = now
            if self.in_slow_start:
                self.rate = min(self.max_rate, self.rate + self.slow_start * self.rate)
            else:
                step = max(self.rate_increase, self.rate_increase_fraction * self._rate_at_decrease)
                self.rate = min(self.max_rate, self.rate + step / self.rate)
        self._wake()

    def _on_congestion(self, permit: Permit) -> None:
        self.congestion_signals += 1
        if permit.started < self._last_decrease:
            return  # sent before the last shrink: already accounted for
        self.congestion_events += 1
        self._last_decrease = self._clock()
        self.in_slow_start = False
        self.limit = max(float(self.min_limit), self.limit * self.decrease)
        self._rate_at_decrease = self.rate
        shrunk = max(self.rate * self.rate_decrease, self._goodput_floor())
        self.rate = max(self.min_rate, min(self.rate, shrunk))
        self._next_write = max(self._next_write, self._last_write + 1.0 / self.rate)

    def _forget_accepted_before(self, moment: float) -> None:
        while self._accepted and self._accepted[0] < moment:
            self._accepted.popleft()

    def _goodput_floor(self) -> float:
        """``goodput_share`` of the writes the server accepted over the last
        ``goodput_window`` seconds (or since the first, if later; at least 1 s). A congested
        queue accepts exactly its drain rate, so a storm of busy answers (one shrink per
        round trip) brings the pace down to next to that rate, not below it: recovering
        from far below takes the additive growth a long time."""
        now = self._clock()
        self._forget_accepted_before(now - self.goodput_window)
        if not self._accepted:
            return 0.0
        span = min(self.goodput_window, max(1.0, now - self._first_accepted))
        return self.goodput_share * len(self._accepted) / span

    def snapshot(self) -> dict[str, float]:
        return {
            "limit": self.limit,
            "rate": self.rate,
            "in_flight": self.in_flight,
            "waiting": len(self._waiters) + self.pacing,
            "congestion_events": self.congestion_events,
            "congestion_signals": self.congestion_signals,
        }


class LimiterRegistry:
    """One limiter per key (``vpn:{server_id}``, ``dms:{instance_id}``)."""

    def __init__(self, factory: Callable[[str], AimdLimiter]) -> None:
        self._factory = factory
        self._limiters: dict[str, AimdLimiter] = {}

    def get(self, key: str) -> AimdLimiter:
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = self._factory(key)
        return limiter

    def items(self) -> list[tuple[str, AimdLimiter]]:
        return list(self._limiters.items())
