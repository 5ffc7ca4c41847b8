"""Backoff with full jitter, bounded by attempts and a time budget (fake clock)."""

from __future__ import annotations

import pytest

from hwcloud_access.cloud.errors import (
    BusyError,
    CloudError,
    InvalidRequestError,
    LimiterTimeoutError,
    ServerError,
    TransportError,
)
from hwcloud_access.cloud.retry import RetryPolicy, retry_call


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def failing(errors, result="ok"):
    calls = []

    async def attempt(deadline):
        calls.append(deadline)
        if errors:
            raise errors.pop(0)
        return result

    return attempt, calls


def test_backoff_is_full_jitter_exponential_and_capped():
    policy = RetryPolicy(base_delay=0.2, max_delay=5.0)
    assert [policy.backoff(n, lambda: 1.0) for n in range(1, 9)] == pytest.approx(
        [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0])
    assert policy.backoff(3, lambda: 0.0) == 0.0
    assert policy.backoff(3, lambda: 0.5) == pytest.approx(0.4)


async def test_retries_until_success():
    t = FakeTime()
    attempt, calls = failing([BusyError("b"), ServerError("s"), TransportError("t")])
    result = await retry_call(attempt, policy=RetryPolicy(), clock=t.clock, sleep=t.sleep,
                              uniform=lambda: 1.0)
    assert result == "ok"
    assert len(calls) == 4
    assert t.slept == pytest.approx([0.2, 0.4, 0.8])
    assert set(calls) == {10.0}  # one deadline for the whole call


async def test_terminal_error_is_raised_at_once():
    t = FakeTime()
    attempt, calls = failing([InvalidRequestError("bad")])
    with pytest.raises(InvalidRequestError):
        await retry_call(attempt, policy=RetryPolicy(), clock=t.clock, sleep=t.sleep)
    assert len(calls) == 1 and t.slept == []


async def test_bounded_by_attempts():
    t = FakeTime()
    attempt, calls = failing([BusyError(str(i)) for i in range(10)])
    with pytest.raises(BusyError) as info:
        await retry_call(attempt, policy=RetryPolicy(max_attempts=3, budget=1000),
                         clock=t.clock, sleep=t.sleep, uniform=lambda: 1.0)
    assert len(calls) == 3
    assert str(info.value) == "cloud call: 2"


async def test_bounded_by_time_budget():
    t = FakeTime()
    attempt, calls = failing([BusyError(str(i)) for i in range(100)])
    with pytest.raises(BusyError):
        await retry_call(attempt, policy=RetryPolicy(max_attempts=100, budget=10.0),
                         clock=t.clock, sleep=t.sleep, uniform=lambda: 1.0)
    assert t.now < 10.0
    assert sum(t.slept) == pytest.approx(0.2 + 0.4 + 0.8 + 1.6 + 3.2)
    assert len(calls) == 6


async def test_retry_after_is_honoured_within_budget():
    t = FakeTime()
    throttled = BusyError("429", retry_after=3.0)
    attempt, _ = failing([throttled])
    assert await retry_call(attempt, policy=RetryPolicy(), clock=t.clock, sleep=t.sleep,
                            uniform=lambda: 0.0) == "ok"
    assert t.slept == [3.0]
    attempt, _ = failing([BusyError("429", retry_after=60.0)])
    with pytest.raises(BusyError):
        await retry_call(attempt, policy=RetryPolicy(), clock=t.clock, sleep=t.sleep)


async def test_limiter_timeout_is_not_retried_in_place():
    t = FakeTime()
    attempt, calls = failing([LimiterTimeoutError("no slot")])
    with pytest.raises(LimiterTimeoutError):
        await retry_call(attempt, policy=RetryPolicy(), clock=t.clock, sleep=t.sleep)
    assert len(calls) == 1


async def test_retry_if_raises_at_once_what_it_refuses():
    t = FakeTime()
    attempt, calls = failing([BusyError("b"), ServerError("s")])
    with pytest.raises(ServerError):
        await retry_call(attempt, policy=RetryPolicy(), clock=t.clock, sleep=t.sleep,
                         uniform=lambda: 1.0, retry_if=lambda err: not err.may_have_applied)
    assert len(calls) == 2  # the busy answer was retried, the 5xx was not
    assert t.slept == pytest.approx([0.2])


async def test_retry_if_cannot_make_a_terminal_error_retried():
    t = FakeTime()
    attempt, calls = failing([InvalidRequestError("bad")])
    with pytest.raises(InvalidRequestError):
        await retry_call(attempt, policy=RetryPolicy(), clock=t.clock, sleep=t.sleep,
                         retry_if=lambda err: True)
    assert len(calls) == 1


async def test_non_cloud_errors_propagate():
    async def attempt(deadline):
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await retry_call(attempt, policy=RetryPolicy())
    assert issubclass(BusyError, CloudError)
