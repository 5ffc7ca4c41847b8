"""Exponential backoff with full jitter, bounded by attempts AND a time budget.

A retryable error is retried inside the client while both allow; then the typed
retryable error is raised for the caller to requeue. A caller is never held longer
than the budget (default 10 s) plus at most one request timeout.
"""

from __future__ import annotations

import asyncio
import random as _random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from .errors import CloudError, LimiterTimeoutError

T = TypeVar("T")


def backoff(attempt: int, base: float, cap: float,
            uniform: Callable[[], float] = _random.random) -> float:
    """The one backoff formula (client retries and the engine's requeues): exponential with
    full jitter, uniform in [0, min(cap, base * 2**attempt))."""
    return uniform() * min(cap, base * 2 ** min(attempt, 30))


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 0.2
    max_delay: float = 5.0
    budget: float = 10.0

    def backoff(self, failures: int, uniform: Callable[[], float]) -> float:
        return backoff(max(0, failures - 1), self.base_delay, self.max_delay, uniform)


Attempt = Callable[[float], Awaitable[T]]


async def retry_call(
    attempt: Attempt[T],
    *,
    policy: RetryPolicy,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    uniform: Callable[[], float] = _random.random,
    on_retry: Callable[[CloudError, int, float], None] | None = None,
    retry_if: Callable[[CloudError], bool] | None = None,
) -> T:
    """Run ``attempt(deadline)`` until it returns, a terminal error, the last attempt, or
    the budget is spent; then the last error is raised. ``retry_if``: a retryable error
    this says no to is raised at once too (a call not safe to repeat after some errors)."""
    deadline = clock() + policy.budget
    number = 0
    while True:
        number += 1
        try:
            return await attempt(deadline)
        except CloudError as err:
            if not err.retryable or isinstance(err, LimiterTimeoutError):
                raise
            if retry_if is not None and not retry_if(err):
                raise
            if number >= policy.max_attempts:
                raise
            delay = policy.backoff(number, uniform)
            if err.retry_after is not None:
                delay = max(delay, err.retry_after)
            if clock() + delay >= deadline:
                raise
            if on_retry is not None:
                on_retry(err, number, delay)
            await sleep(delay)
