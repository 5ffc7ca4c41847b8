"""Shared, coalesced listings of one cloud collection (a VPN server's users or groups, a
RocketMQ instance's users).

Many objects waiting for their change to show up read one listing instead of sending one
GET each: a caller asks for a snapshot taken after a given moment, and concurrent callers
share the same list call. The drift sweep uses the same listings.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class Snapshot(Generic[T]):
    taken_at: float  # monotonic time the listing started
    by_id: dict[str, T] = field(default_factory=dict)
    by_name: dict[str, T] = field(default_factory=dict)


class CollectionView(Generic[T]):
    def __init__(self, lister: Callable[[], AsyncIterator[T]], *, id_of: Callable[[T], str],
                 name_of: Callable[[T], str], clock: Callable[[], float] = time.monotonic) -> None:
        self._lister = lister
        self._id_of = id_of
        self._name_of = name_of
        self._clock = clock
        self._latest: Snapshot[T] | None = None
        self._refresh: asyncio.Task[Snapshot[T]] | None = None
        self._refresh_started = 0.0

    async def snapshot(self, newer_than: float) -> Snapshot[T]:
        """A listing that started at or after `newer_than` (monotonic seconds)."""
        if self._latest is not None and self._latest.taken_at >= newer_than:
            return self._latest
        stale = self._refresh is None or self._refresh_started < newer_than
        if stale or (self._refresh.done() and self._refresh.exception() is not None):
            self._refresh_started = self._clock()
            self._refresh = asyncio.ensure_future(self._list(self._refresh_started))
        return await asyncio.shield(self._refresh)

    async def _list(self, started: float) -> Snapshot[T]:
        snapshot: Snapshot[T] = Snapshot(taken_at=started)
        async for item in self._lister():
            snapshot.by_id[self._id_of(item)] = item
            snapshot.by_name[self._name_of(item)] = item
        if self._latest is None or self._latest.taken_at < started:
            self._latest = snapshot
        return snapshot


class Views:
    """One CollectionView per (session, scope, collection), made on first use."""

    def __init__(self) -> None:
        self._views: dict[tuple[object, str, str], CollectionView[Any]] = {}

    def get(self, session: object, scope: str, collection: str,
            make: Callable[[], CollectionView[Any]]) -> CollectionView[Any]:
        key = (session, scope, collection)
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = make()
        return view
