"""The drift sweep: per listing (a VPN server's users or groups, a RocketMQ instance's users),
one list call per period finds managed objects that changed or went away in the cloud since
they were last Ready and wakes them; their own reconcile decides whether that is drift (a
setting changed outside the cluster: put back, with an Event) or not (a group's user count
moved because users joined it).

The cost of a sweep is the listing's pages, whatever the number of objects.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..api import GROUP
from .acting import Acting, always_acting
from .outcome import Outcome
from .registry import ObjectKey, Wake
from .views import CollectionView, ViewKey

RESYNC_ANNOTATION = f"{GROUP}/resync-interval"

log = logging.getLogger(__name__)

MIN_INTERVAL = 30.0  # seconds: the shortest resync-interval annotation taken
# A listing is swept at most once per this many seconds per page of it, whatever its
# members ask: one object must not make a listing shared by thousands sweep nonstop.
SECONDS_PER_PAGE = 5.0
# A replica that does not act asks again this often (a peering read): once it acts, its
# first sweeps come this soon, not a whole period after it last asked.
PAUSED_RECHECK = 15.0


def resync_interval(annotation: str | None) -> float | None:
    """The `resync-interval` annotation in seconds ("60" or "60s"); None when absent.
    ValueError, with a message for the resource's Synced condition, when it is not a number
    of seconds of at least MIN_INTERVAL."""
    if annotation is None:
        return None
    try:
        seconds = float(annotation.strip().removesuffix("s"))
    except ValueError:
        seconds = float("nan")
    if not MIN_INTERVAL <= seconds < float("inf"):  # also refuses nan
        raise ValueError(f"annotation {RESYNC_ANNOTATION}={annotation!r} is not a number of "
                         f"seconds of at least {MIN_INTERVAL:.0f} (e.g. \"600\" or \"600s\"); "
                         "the operator's resync interval applies")
    return seconds


def digest(cloud_object: Any) -> str:
    """What an object looked like when it last matched its spec. The cloud's stamps, which
    any write moves (our own password resets included), are not in the models."""
    return hashlib.sha256(cloud_object.model_dump_json().encode()).hexdigest()


@dataclass
class _Member:
    cloud_id: str
    digest: str
    interval: float


@dataclass
class _Listing:
    view: CollectionView[Any]
    id_of: Callable[[Any], str]
    last_sweep: float
    members: dict[ObjectKey, _Member] = field(default_factory=dict)

    def interval(self, default: float) -> float:
        """The shortest period a member asks for, no shorter than the listing's floor; the
        operator's own period is taken as configured."""
        asked = min((m.interval for m in self.members.values()), default=default)
        if asked >= default:
            return default
        return max(asked, SECONDS_PER_PAGE * self.view.pages)


class DriftSweeper:
    def __init__(self, wake: Wake, interval: float = 300.0, tick: float = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 acting: Acting = always_acting) -> None:
        self.wake = wake
        self.interval = interval
        self.tick = tick
        self.clock = clock
        self.acting = acting
        self._paused_until = float("-inf")  # not asking whether it acts before this
        self._listings: dict[ViewKey, _Listing] = {}
        self._where: dict[ObjectKey, ViewKey] = {}

    def track(self, key: ObjectKey, view: CollectionView[Any], id_of: Callable[[Any], str],
              cloud_object: Any, interval: float | None = None) -> None:
        """Remember a managed object as it was when it matched its spec."""
        self.forget(key)
        listing = self._listings.get(view.key)
        if listing is None:
            listing = self._listings[view.key] = _Listing(view, id_of, last_sweep=self.clock())
        listing.members[key] = _Member(id_of(cloud_object), digest(cloud_object),
                                       interval or self.interval)
        self._where[key] = view.key

    def follow(self, key: ObjectKey, outcome: Outcome, id_of: Callable[[Any], str]) -> None:
        """After a pass: a Ready object is tracked as the pass read it; any other outcome
        takes it out of the sweep (e.g. AccountNotAllowed: no sweep's listing may reach the
        cloud for it; it is tracked again once Ready)."""
        if not outcome.ready:
            self.forget(key)
        elif outcome.cloud_object is not None:
            self.track(key, outcome.view, id_of, outcome.cloud_object, outcome.resync_interval)

    def forget(self, key: ObjectKey) -> None:
        where = self._where.pop(key, None)
        if where is not None:
            listing = self._listings[where]
            listing.members.pop(key, None)
            if not listing.members:
                del self._listings[where]

    async def sweep(self, listing: _Listing) -> int:
        """Lists once and wakes every member that drifted; returns how many."""
        listing.last_sweep = self.clock()
        snapshot = await listing.view.snapshot(newer_than=listing.last_sweep)
        drifted = 0
        for key, member in list(listing.members.items()):
            found = snapshot.by_id.get(member.cloud_id)
            if found is None:
                why = "drift sweep: gone from the cloud's listing"
            elif digest(found) != member.digest:
                why = "drift sweep: changed in the cloud"
            else:
                continue
            drifted += 1
            self.forget(key)  # re-tracked by its reconcile
            await self.wake(key, why)
        return drifted

    async def sweep_due(self) -> None:
        """Sweeps the listings whose period is over; while another replica acts, none (a
        replica paused by kopf's peering must not list the cloud nor wake objects): it asks
        again PAUSED_RECHECK seconds later, and sweeps what is due at once when it acts."""
        now = self.clock()
        due = [listing for listing in self._listings.values()
               if now - listing.last_sweep >= listing.interval(self.interval)]
        if not due or now < self._paused_until:
            return
        if not await self.acting():
            self._paused_until = now + PAUSED_RECHECK
            return
        for listing in due:
            try:
                drifted = await self.sweep(listing)
            except Exception as error:  # a failed sweep is retried next period
                log.warning("drift sweep failed: %s", error)
                continue
            if drifted:
                log.info("drift sweep: %d object(s) changed in the cloud since last "
                         "Ready; looking again", drifted)

    async def run(self) -> None:
        while True:
            await self.sweep_due()
            await asyncio.sleep(self.tick)
