"""The one place that knows which parts of the operator keep state per object, and the one
way to wake an object.

Several parts remember something per Kubernetes object, each with the index it needs to act
on it: the drift sweeper (which listing it is compared in), the create turns (its place in a
server's line), the Secret references (which Secret wakes it), the dependencies (the group it
waits for, a group's last status), ownership (the cloud object it waits for), the Ready gauge.
Each registers here once; a deleted object is forgotten by all of them with one `forget(key)`,
so a new part cannot be missed in the delete handler. Every wake-up goes through `wake`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import NamedTuple, Protocol


class ObjectKey(NamedTuple):
    """How the operator's in-memory state names a Kubernetes object."""

    kind: str
    namespace: str  # "" for a cluster-scoped kind (HuaweiCloudAccount)
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else \
            f"{self.kind} {self.name}"


Wake = Callable[[ObjectKey, str], Awaitable[None]]
# How long a pass waits in memory for what it needs (the cloud to apply a change, a turn to
# create, its group to be Ready) before it ends and leaves the rest to a wake-up: a wait in
# memory costs no API write, a wake-up costs a status write, kopf's retry state and a PATCH.
IN_PASS_WAIT = 30.0
log = logging.getLogger(__name__)


class Forgets(Protocol):
    def forget(self, key: ObjectKey) -> None:
        """Drops everything kept about the object (it was deleted)."""


class ObjectRegistry:
    def __init__(self, wake: Wake) -> None:
        self.wake = wake  # makes the operator look at the object again, with the reason why
        self._holders: list[Forgets] = []

    def holds(self, holder: Forgets) -> None:
        """`holder` keeps state per object: it is told when an object is gone."""
        self._holders.append(holder)

    def forget(self, key: ObjectKey) -> None:
        for holder in self._holders:
            holder.forget(key)


class BackgroundWakes:
    """Wake-ups sent in the background, now or after a delay: the pass that causes them is
    not held up by their API calls, and a failed one is logged, not lost silently."""

    def __init__(self, wake: Wake) -> None:
        self.wake = wake
        self._tasks: set[asyncio.Task[None]] = set()

    def soon(self, key: ObjectKey, why: str) -> None:
        task = asyncio.get_running_loop().create_task(self.wake(key, why))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def later(self, delay: float, key: ObjectKey, why: str) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(delay, self.soon, key, why)

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a wake-up failed: %s", task.exception())
