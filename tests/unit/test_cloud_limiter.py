"""The per-server AIMD limiter, on a virtual-time event loop (deterministic, instant)."""

from __future__ import annotations

import asyncio
import random

import pytest

from hwcloud_access.cloud.errors import LimiterTimeoutError
from hwcloud_access.cloud.limiter import AimdLimiter, CallOutcome, LimiterRegistry


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """When nothing is ready, time jumps to the next timer."""

    def __init__(self) -> None:
        super().__init__()
        self._virtual = 0.0

    def time(self) -> float:
        return self._virtual

    def _run_once(self) -> None:
        if not self._ready and self._scheduled:
            self._virtual = max(self._virtual, self._scheduled[0]._when)
        super()._run_once()


def run(coro_fn):
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro_fn(loop))
    finally:
        loop.close()


def make(loop, **kw):
    return AimdLimiter(clock=loop.time, **kw)


def test_concurrency_never_exceeds_limit_and_is_fifo():
    async def main(loop):
        limiter = make(loop, max_limit=3)
        peak = 0
        order = []

        async def task(i):
            nonlocal peak
            permit = await limiter.acquire(write=False)
            order.append(i)
            peak = max(peak, limiter.in_flight)
            await asyncio.sleep(1.0)
            limiter.release(permit, CallOutcome.NEUTRAL)

        await asyncio.gather(*(task(i) for i in range(10)))
        return peak, order, loop.time(), limiter.in_flight

    peak, order, elapsed, in_flight = run(main)
    assert peak == 3
    assert order == list(range(10))
    assert elapsed == pytest.approx(4.0)  # ceil(10/3) rounds of 1 s
    assert in_flight == 0


def test_writes_waiting_for_their_start_time_count_as_waiting():
    async def main(loop):
        limiter = make(loop, max_limit=8, initial_rate=1.0, min_rate=1.0)
        writes = [asyncio.ensure_future(limiter.acquire(write=True)) for _ in range(3)]
        await asyncio.sleep(0.1)
        waiting = limiter.snapshot()["waiting"]
        for permit in await asyncio.gather(*writes):
            limiter.release(permit, CallOutcome.NEUTRAL)
        return waiting, limiter.snapshot()["waiting"], loop.time()

    waiting, after, elapsed = run(main)
    assert (waiting, after) == (2, 0)  # one started at once, two wait for the 1/s pace
    assert elapsed == pytest.approx(2.0)


def test_late_wake_ups_do_not_slow_the_pace_down():
    """A busy event loop wakes the pacer late; the schedule keeps the rate anyway."""
    async def main(loop):
        async def late_sleep(seconds):
            await asyncio.sleep(seconds + 0.02)

        limiter = AimdLimiter(clock=loop.time, sleep=late_sleep, initial_rate=10.0,
                              min_rate=10.0, max_rate=10.0)
        starts = []
        for _ in range(21):
            permit = await limiter.acquire(write=True)
            starts.append(loop.time())
            limiter.release(permit, CallOutcome.NEUTRAL)
        return starts

    starts = run(main)
    assert starts[-1] - starts[0] == pytest.approx(2.0, abs=0.03)  # 20 intervals of 0.1 s
    assert min(b - a for a, b in zip(starts, starts[1:], strict=False)) >= 0.1 - 1e-9


def test_waiter_gives_up_at_deadline_without_leaking_a_slot():
    async def main(loop):
        limiter = make(loop, max_limit=1)
        held = await limiter.acquire(write=False)
        with pytest.raises(LimiterTimeoutError):
            await limiter.acquire(write=False, deadline=loop.time() + 2.0)
        assert loop.time() == pytest.approx(2.0)
        limiter.release(held, CallOutcome.NEUTRAL)
        again = await limiter.acquire(write=False, deadline=loop.time() + 0.1)
        limiter.release(again, CallOutcome.NEUTRAL)
        return limiter.in_flight, limiter.snapshot()["waiting"]

    assert run(main) == (0, 0)


def test_writes_are_paced_at_the_current_rate():
    async def main(loop):
        limiter = make(loop, initial_rate=4.0, slow_start=0.0)
        starts = []
        for _ in range(5):
            permit = await limiter.acquire(write=True)
            starts.append(loop.time())
            limiter.release(permit, CallOutcome.NEUTRAL)
        return starts

    assert run(main) == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])


def test_pacing_wait_beyond_deadline_times_out():
    async def main(loop):
        limiter = make(loop, initial_rate=1.0)
        limiter.release(await limiter.acquire(write=True), CallOutcome.NEUTRAL)
        with pytest.raises(LimiterTimeoutError):
            await limiter.acquire(write=True, deadline=loop.time() + 0.5)
        return loop.time()

    assert run(main) < 0.5


def test_congestion_shrinks_once_per_epoch():
    async def main(loop):
        limiter = make(loop, max_limit=8, initial_rate=10.0, rate_decrease=0.5, decrease=0.5)
        permits = [await limiter.acquire(write=False) for _ in range(4)]
        await asyncio.sleep(0.1)
        for permit in permits:  # four busy answers to calls sent in the same epoch
            limiter.release(permit, CallOutcome.CONGESTION)
        first = (limiter.limit, limiter.rate, limiter.congestion_events)
        later = await limiter.acquire(write=False)
        await asyncio.sleep(0.1)
        limiter.release(later, CallOutcome.CONGESTION)  # sent after the shrink: counts
        return first, (limiter.limit, limiter.rate, limiter.congestion_events,
                       limiter.congestion_signals)

    first, second = run(main)
    assert first == (4.0, 5.0, 1)
    assert second == (2.0, 2.5, 2, 5)


def test_bounds_min_and_max():
    async def main(loop):
        limiter = make(loop, max_limit=4, min_limit=1, initial_rate=1.0, min_rate=0.5,
                       max_rate=3.0)
        for _ in range(10):
            permit = await limiter.acquire(write=False)
            await asyncio.sleep(0.01)
            limiter.release(permit, CallOutcome.CONGESTION)
        low = (limiter.limit, limiter.rate)
        for _ in range(200):
            permit = await limiter.acquire(write=True)
            limiter.release(permit, CallOutcome.SUCCESS)
        return low, (limiter.limit, limiter.rate)

    low, high = run(main)
    assert low == (1.0, 0.5)
    assert high == (4.0, 3.0)


def test_additive_increase_after_congestion():
    async def main(loop):
        limiter = make(loop, max_limit=8, initial_rate=10.0, rate_decrease=0.8,
                       rate_increase=0.1, rate_increase_fraction=0.03)
        permit = await limiter.acquire(write=True)
        limiter.release(permit, CallOutcome.CONGESTION)
        assert limiter.rate == pytest.approx(8.0)
        rates = []
        for _ in range(16):  # about two seconds of successes at ~8/s
            permit = await limiter.acquire(write=True)
            limiter.release(permit, CallOutcome.SUCCESS)
            rates.append(limiter.rate)
        return rates, loop.time()

    rates, elapsed = run(main)
    # step per second is max(0.1, 0.03 * 10) = 0.3/s: additive, not multiplicative
    assert rates[-1] == pytest.approx(8.0 + 0.3 * elapsed, rel=0.1)
    assert all(b > a for a, b in zip(rates, rates[1:], strict=False))


def test_slow_start_grows_fast_until_first_congestion():
    async def main(loop):
        limiter = make(loop, initial_rate=1.0, slow_start=0.25)
        for _ in range(10):
            limiter.release(await limiter.acquire(write=True), CallOutcome.SUCCESS)
        return limiter.rate

    assert run(main) == pytest.approx(1.25 ** 10)


def test_cancelled_waiter_frees_its_place():
    async def main(loop):
        limiter = make(loop, max_limit=1)
        held = await limiter.acquire(write=False)
        waiter = asyncio.ensure_future(limiter.acquire(write=False))
        await asyncio.sleep(0.1)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        limiter.release(held, CallOutcome.NEUTRAL)
        return limiter.in_flight, limiter.snapshot()["waiting"]

    assert run(main) == (0, 0)


def test_registry_one_limiter_per_key():
    registry = LimiterRegistry(lambda key: AimdLimiter(name=key))
    assert registry.get("vpn:a") is registry.get("vpn:a")
    assert registry.get("vpn:a") is not registry.get("vpn:b")
    assert [key for key, _ in registry.items()] == ["vpn:a", "vpn:b"]


# ---- the benchmark shape: 1,000 concurrent creates, one server, queue of 10 ------------


def simulate(capacity=10, apply_delay=0.5, creates=1000, rtt=0.005, seed=7):
    """A fake server whose apply queue holds ``capacity`` changes for ``apply_delay``
    each; callers retry busy answers with full jitter and requeue after a limiter
    timeout, as the operator does."""

    async def main(loop):
        rnd = random.Random(seed)
        limiter = make(loop, max_limit=8)
        pending: list[float] = []
        calls = busy = 0

        def accept(now):
            pending[:] = [t for t in pending if t > now]
            if len(pending) >= capacity:
                return False
            pending.append(now + apply_delay)
            return True

        async def create():
            nonlocal calls, busy
            while True:
                deadline = loop.time() + 10.0
                failures = 0
                while True:
                    try:
                        permit = await limiter.acquire(write=True, deadline=deadline)
                    except LimiterTimeoutError:
                        await asyncio.sleep(rnd.uniform(1, 5))
                        break
                    await asyncio.sleep(rtt)
                    calls += 1
                    if accept(loop.time()):
                        limiter.release(permit, CallOutcome.SUCCESS)
                        return
                    busy += 1
                    limiter.release(permit, CallOutcome.CONGESTION)
                    failures += 1
                    await asyncio.sleep(rnd.uniform(0, min(5.0, 0.2 * 2 ** failures)))

        await asyncio.gather(*(create() for _ in range(creates)))
        return loop.time(), calls, busy

    return run(main)


@pytest.mark.parametrize("apply_delay", [0.5, 2.0])
def test_thousand_creates_converge_near_physical_rate_with_few_busy_answers(apply_delay):
    elapsed, calls, busy = simulate(apply_delay=apply_delay)
    ideal = 1000 * apply_delay / 10
    assert elapsed < ideal * 1.25, (elapsed, ideal)
    assert busy / calls < 0.05, (busy, calls)


def test_a_storm_of_busy_answers_does_not_collapse_the_pace():
    """Round trips of 50 ms against a queue that drains 50/s: the slow start overshoots and
    the busy answers of many round trips arrive. Shrinking at each of them took the pace to
    a few per second, and the additive growth needed minutes (5.8x the ideal time); the
    floor at the accepted rate holds it near the queue's."""
    elapsed, _, _ = simulate(apply_delay=0.2, rtt=0.05)
    ideal = 1000 * 0.2 / 10
    assert elapsed < ideal * 2.0, (elapsed, ideal)


def test_the_accepted_writes_it_remembers_stay_within_the_window():
    """A long run without a busy answer must not grow the pacer's memory."""
    async def main(loop):
        limiter = make(loop, initial_rate=10.0, min_rate=10.0, max_rate=10.0)
        for _ in range(1000):  # 100 s at 10/s
            limiter.release(await limiter.acquire(write=True), CallOutcome.SUCCESS)
        return len(limiter._accepted)

    assert run(main) <= 10 * 4 + 1  # 4 s of writes
