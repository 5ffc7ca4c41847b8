"""Shared, coalesced listings of one cloud collection (a VPN server's users or groups, a
RocketMQ instance's users).

Many objects waiting for their change to show up read one listing instead of sending one
GET each: a caller asks for a snapshot taken after a given moment, and concurrent callers
share the same list call. The drift sweep uses the same listings.

A listing costs one call per page, shared by everyone who waits at that moment; a GET costs
one call per object. So while fewer objects wait than the listing has pages (a long
collection, few changes in flight), each waiting object reads itself
(`read_back_by_get`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

T = TypeVar("T")
S = TypeVar("S")  # the cloud session a view lists with


class ViewKey(NamedTuple):
    """What a listing is: whose account, which collection, on which server or instance."""

    account: str  # the HuaweiCloudAccount's name; "" for the operator's default account
    collection: str  # vpn-users, vpn-groups, mq-users
    scope: str  # the VPN server id or RocketMQ instance id


@dataclass
class Snapshot(Generic[T]):
    taken_at: float  # monotonic time the listing started
    by_id: dict[str, T] = field(default_factory=dict)
    by_name: dict[str, T] = field(default_factory=dict)


class CollectionView(Generic[T]):
    def __init__(self, key: ViewKey, lister: Callable[[int], AsyncIterator[T]], *,
                 page_size: int,
                 id_of: Callable[[T], str], name_of: Callable[[T], str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`lister(page_size)` lists the whole collection, `page_size` items per call."""
        self.key = key
        self._lister = lister
        self.page_size = page_size
        self._id_of = id_of
        self._name_of = name_of
        self._clock = clock
        self._latest: Snapshot[T] | None = None
        self._refresh: asyncio.Task[Snapshot[T]] | None = None
        self._refresh_started = 0.0
        self._waits: deque[float] = deque()  # when objects last asked to see their change

    @property
    def pages(self) -> int:
        """Calls one listing costs, as of the last one (0 before any)."""
        if self._latest is None:
            return 0
        return max(1, math.ceil(len(self._latest.by_id) / self.page_size))

    def read_back_by_get(self, window: float) -> bool:
        """One object waits for its change to show: True when it should GET itself, i.e.
        when fewer objects asked in the last `window` seconds (they would share a listing)
        than a listing has pages."""
        now = self._clock()
        self._waits.append(now)
        while self._waits and self._waits[0] < now - window:
            self._waits.popleft()
        return len(self._waits) < self.pages

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
        async for item in self._lister(self.page_size):
            snapshot.by_id[self._id_of(item)] = item
            snapshot.by_name[self._name_of(item)] = item
        if self._latest is None or self._latest.taken_at < started:
            self._latest = snapshot
        return snapshot


class Views:
    """One CollectionView per ViewKey, made on first use. A view lists with the session its
    account was last used with: an account whose session is replaced (its Secret changed)
    keeps its views, and nothing keeps the closed session."""

    def __init__(self) -> None:
        self._views: dict[ViewKey, CollectionView[Any]] = {}
        self._sessions: dict[str, Any] = {}  # account -> its current session

    def get(self, key: ViewKey, session: S, list_with: Callable[[S, int], AsyncIterator[T]],
            *, page_size: int, id_of: Callable[[T], str],
            name_of: Callable[[T], str]) -> CollectionView[T]:
        """The view `key` names; `list_with(session, page_size)` lists its collection."""
        self._sessions[key.account] = session
        view = self._views.get(key)
        if view is None:
            account = key.account
            view = self._views[key] = CollectionView(
                key, lambda size: list_with(self._sessions[account], size),
                page_size=page_size, id_of=id_of, name_of=name_of)
        return view

    def release(self, account: str) -> None:
        """The account is deleted: its views and session go."""
        self._sessions.pop(account, None)
        self._views = {k: v for k, v in self._views.items() if k.account != account}
