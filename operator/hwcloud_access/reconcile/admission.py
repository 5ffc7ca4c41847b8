"""Turns at creating, per VPN server / RocketMQ instance.

The cloud takes only so many creates per second per server, and a create waiting for its
turn inside a kopf handler holds a kopf worker (and its memory) the whole time. So only
`limit` creates per listing are let into the client at once; the others end their pass
(Ready=False, reason Creating, "waiting for a turn") and are woken, in arrival order, when
a turn frees up. A woken object's turn is kept for it for `hold` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from .registry import BackgroundWakes, ObjectKey, Wake
from .views import ViewKey

log = logging.getLogger(__name__)


@dataclass
class _Line:
    inside: set[ObjectKey] = field(default_factory=set)
    held: dict[ObjectKey, float] = field(default_factory=dict)  # woken key -> held until
    waiting: OrderedDict[ObjectKey, None] = field(default_factory=OrderedDict)
    # Those waiting inside their pass (`turn`): told directly, with no wake-up to write.
    present: dict[ObjectKey, asyncio.Future[None]] = field(default_factory=dict)


class Admission:
    def __init__(self, wake: Wake, limit: int = 32, hold: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.wake = wake
        self.limit = limit
        self.hold = hold
        self.clock = clock
        self._lines: dict[ViewKey, _Line] = {}
        self._wakes = BackgroundWakes(wake)

    def enter(self, scope: ViewKey, key: ObjectKey) -> int:
        """0 when `key` may create now (then call `leave`), else how many wait in line."""
        line = self._lines.setdefault(scope, _Line())
        now = self.clock()
        for expired in [k for k, until in line.held.items() if until < now]:
            del line.held[expired]  # woken but never came back (deleted, restarted, ...)
        if key in line.held:
            del line.held[key]
        elif len(line.inside) + len(line.held) >= self.limit or \
                (line.waiting and next(iter(line.waiting)) != key):
            line.waiting.setdefault(key)
            self._fill(line)
            return len(line.waiting)
        line.waiting.pop(key, None)
        line.inside.add(key)
        return 0

    async def turn(self, scope: ViewKey, key: ObjectKey, patience: float) -> bool:
        """Waits inside the pass for `key`'s turn (then `enter` lets it in); False after
        `patience` seconds, and it is woken when its turn comes instead."""
        line = self._lines[scope]
        future = line.present[key] = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(future), patience)
            return True
        except TimeoutError:
            # The turn may have been handed over while the timeout was being delivered:
            # _fill then sent no wake-up, so the pass must take it.
            return future.done()
        finally:
            if line.present.get(key) is future:
                del line.present[key]

    def leave(self, scope: ViewKey, key: ObjectKey) -> None:
        """`key` is done creating: the next in line is woken and its turn held for it."""
        line = self._lines[scope]
        line.inside.discard(key)
        self._fill(line)

    def _fill(self, line: _Line) -> None:
        """Lets the next in line know: a pass waiting for it directly, any other by a
        wake-up in the background (the pass that left is not held up by it)."""
        while line.waiting and len(line.inside) + len(line.held) < self.limit:
            woken, _ = line.waiting.popitem(last=False)
            line.held[woken] = self.clock() + self.hold
            present = line.present.pop(woken, None)
            if present is not None and not present.done():
                present.set_result(None)
            else:
                self._wakes.soon(woken, "its turn to create")

    def forget(self, key: ObjectKey) -> None:
        """The resource is gone: it gives up its place."""
        for line in self._lines.values():
            line.waiting.pop(key, None)
            line.held.pop(key, None)
