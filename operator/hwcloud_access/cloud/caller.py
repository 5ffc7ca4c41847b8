"""One place where a cloud call is made: limiter slot, request, metrics, errors, retry.

``Caller.call`` runs one logical operation: each attempt takes a slot of the
per-server limiter, is sent with a timeout no longer than what is left of the
budget, is reported through ``on_call(operation, outcome, seconds)`` (by the
metering transport, once per HTTP request), and a non-2xx answer becomes a typed
``CloudError``. Retryable errors are retried with backoff inside the budget.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from .auth import OPERATION_KEY, AuthStatus
from .errors import (
    AuthError,
    CloudError,
    InvalidRequestError,
    classify,
    transport_error,
)
from .limiter import CallOutcome, LimiterRegistry
from .retry import RetryPolicy, retry_call

log = logging.getLogger(__name__)

OnCall = Callable[[str, str, float], None]

# The shortest timeout an attempt is sent with, however little of the budget is left.
MIN_ATTEMPT_TIMEOUT = 1.0


def segment(value: str, what: str = "id") -> str:
    """One path segment, URL-encoded; refuses values that would change the path."""
    text = str(value)
    if not text or text in (".", ".."):
        raise InvalidRequestError(f"invalid {what}: {text!r}")
    return quote(text, safe="")


class MeteringTransport(httpx.AsyncBaseTransport):
    """Calls ``on_call(operation, status-or-"error", seconds)`` for every HTTP request."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        on_call: OnCall | None,
        *,
        owns_inner: bool = True,
    ) -> None:
        self._inner = inner
        self._on_call = on_call
        self._owns_inner = owns_inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        operation = str(request.extensions.get(OPERATION_KEY, "unknown"))
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
        except asyncio.CancelledError:
            raise  # the caller gave up: not an outcome of the cloud
        except BaseException:
            self._report(operation, "error", time.perf_counter() - started)
            raise
        self._report(operation, str(response.status_code), time.perf_counter() - started)
        return response

    def _report(self, operation: str, outcome: str, seconds: float) -> None:
        if self._on_call is None:
            return
        try:
            self._on_call(operation, outcome, seconds)
        except Exception:  # a metrics bug must not fail a cloud call
            log.exception("on_call hook failed")

    async def aclose(self) -> None:
        if self._owns_inner:
            await self._inner.aclose()


class Caller:
    """Sends the calls of one service (one ``httpx.AsyncClient``); with ``auth_status``,
    records there whether the cloud took the credentials (AuthError or a success)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        limiters: LimiterRegistry,
        policy: RetryPolicy,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        uniform: Callable[[], float] = random.random,
        auth_status: AuthStatus | None = None,
    ) -> None:
        self.client = client
        self.limiters = limiters
        self.policy = policy
        self.timeout = timeout
        self._clock = clock
        self._sleep = sleep
        self._uniform = uniform
        self._auth_status = auth_status

    async def call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        limiter_key: str,
        json: Any = None,
        params: Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        repeatable: bool = True,
    ) -> httpx.Response:
        """The 2xx answer, or the typed error once retries are exhausted or pointless.

        ``repeatable=False`` (calls not safe to repeat blindly): an error after which the
        request may have taken effect (no answer, a 5xx) is raised at once, for the caller
        to find out what happened; only refusals (busy, throttled) are retried.
        """
        write = method.upper() not in ("GET", "HEAD")

        async def attempt(deadline: float) -> httpx.Response:
            limiter = self.limiters.get(limiter_key)
            permit = await limiter.acquire(write=write, deadline=deadline)
            outcome = CallOutcome.NEUTRAL
            try:
                response = await self._send(operation, method, path, json, params, headers,
                                            deadline)
                if response.is_success:
                    outcome = CallOutcome.SUCCESS
                    return response
                error = classify(response.status_code, response.content,
                                 operation=operation, headers=response.headers)
                outcome = CallOutcome.CONGESTION if error.congestion else (
                    CallOutcome.NEUTRAL if error.retryable else CallOutcome.SUCCESS
                )
                raise error
            finally:
                limiter.release(permit, outcome)

        try:
            response = await retry_call(
                attempt,
                policy=self.policy,
                clock=self._clock,
                sleep=self._sleep,
                uniform=self._uniform,
                on_retry=lambda err, n, delay: log.debug(
                    "%s: attempt %d failed (%s); retrying in %.2f s", operation, n,
                    err.code or err.status or type(err).__name__, delay),
                retry_if=None if repeatable else _nothing_applied,
            )
        except AuthError as refused:
            if self._auth_status is not None:
                self._auth_status.record(refused)
            raise
        if self._auth_status is not None:
            self._auth_status.record(None)
        return response

    async def _send(
        self,
        operation: str,
        method: str,
        path: str,
        json: Any,
        params: Sequence[tuple[str, str]] | None,
        headers: Mapping[str, str] | None,
        deadline: float,
    ) -> httpx.Response:
        remaining = deadline - self._clock()
        timeout = min(self.timeout, max(MIN_ATTEMPT_TIMEOUT, remaining))
        request = self.client.build_request(
            method,
            path,
            json=json,
            params=list(params) if params else None,
            headers=dict(headers) if headers else None,
            timeout=timeout,
            extensions={OPERATION_KEY: operation},
        )
        try:
            response = await self.client.send(request)
        except httpx.TransportError as exc:
            raise transport_error(exc, operation=operation) from None
        return response


def _nothing_applied(error: CloudError) -> bool:
    """A refusal (busy, throttled), after which the request did nothing: safe to repeat."""
    return not error.may_have_applied
