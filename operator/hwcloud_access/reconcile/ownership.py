"""One resource per cloud object, the same one after any restart, whatever account reached it.

A cloud object is named by what identifies it in the cloud (`CloudKey`): its kind, the VPN
server or RocketMQ instance it lives on (their ids are unique across projects, so the
project is implied) and its cloud name. A resource claims an object once it has made or
adopted it: `status.id`, or a create intent in `status.pendingChange` (managementPolicy
Observe writes neither: what it sees is in `status.observedId`). kopf indexes every
resource's claim (`claim_of`) and fills the index before any handler runs after a start, so
ownership is rebuilt from the resources themselves; claims made by this process since are
held here until the index has them. Among several claimants the earliest made resource wins.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from .registry import ObjectKey

# How long a released resource's claim is ignored where kopf's index may still show it (the
# index forgets a resource when its deletion reaches the watch, a moment after the release).
RELEASED_MEMORY = 600.0


class CloudKey(NamedTuple):
    kind: str
    scope: str  # VPN server id or RocketMQ instance id
    name: str  # the cloud name


class ManagedGroup(NamedTuple):
    """A VPN user group this cluster manages, by its cloud id: kopf's index maps it to the
    namespace of the VpnUserGroup that claims it, so that a VpnUser's `groupId` cannot put a
    user into another namespace's group."""

    server: str
    group_id: str


class Claimant(NamedTuple):
    created: str  # metadata.creationTimestamp (RFC 3339 sorts as text)
    uid: str


def claimant(body: dict[str, Any]) -> Claimant:
    metadata = body.get("metadata") or {}
    return Claimant(metadata.get("creationTimestamp") or "", metadata.get("uid") or "")


def claims_object(body: dict[str, Any]) -> bool:
    """Whether the resource made or adopted its cloud object (Observe mode never does)."""
    if (body.get("spec") or {}).get("managementPolicy") == "Observe":
        return False
    status = body.get("status") or {}
    pending = status.get("pendingChange") or {}
    return bool(status.get("id")) or pending.get("action") == "create"


def cloud_id_in(status: dict[str, Any]) -> str | None:
    """The id of the cloud object a resource manages (`status.id`) or, under
    managementPolicy Observe, only sees (`status.observedId`): e.g. the group a VpnUser joins."""
    return status.get("id") or status.get("observedId")


def claim_of(key: CloudKey, body: dict[str, Any]) -> dict[CloudKey, Claimant]:
    """The kopf index entry of one resource: its claim, if it has one ({} when not: kopf
    keeps an earlier result where an index function says None)."""
    return {key: claimant(body)} if claims_object(body) else {}


class Ownership:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._held: dict[CloudKey, Claimant] = {}
        self._waiting: dict[CloudKey, set[ObjectKey]] = {}
        self._released: dict[str, float] = {}  # uid -> when

    def owned_by_another(self, key: CloudKey, body: dict[str, Any],
                         indexed: Iterable[Claimant]) -> bool:
        """Whether another resource owns the object `key` names: it claims it (in the index
        or here), and this one either does not, or was made later."""
        me = claimant(body)
        others = {c for c in (*indexed, self._held.get(key))
                  if c is not None and c.uid != me.uid and c.uid not in self._released}
        if not others:
            return False
        mine = claims_object(body) or self._held.get(key) == me
        return not mine or any(other < me for other in others)

    def hold(self, key: CloudKey, body: dict[str, Any]) -> None:
        """This resource claims the object now (before the index can show it)."""
        self._held.setdefault(key, claimant(body))

    def unhold(self, key: CloudKey, uid: str) -> None:
        """The resource's create was refused: the object is someone else's, no claim."""
        if key in self._held and self._held[key].uid == uid:
            del self._held[key]

    def wait(self, key: CloudKey, resource: ObjectKey) -> None:
        """A resource refused as AlreadyOwned: woken when a resource naming the object goes."""
        self._waiting.setdefault(key, set()).add(resource)

    def release(self, key: CloudKey, uid: str) -> set[ObjectKey]:
        """A resource naming `key` lets its object go (deleted, or released without
        deleting): its claim goes with it, also where the index still shows it. Returns the
        resources refused for that object, to be woken (one of them may own it now)."""
        self.unhold(key, uid)
        now = self.clock()
        self._released = {u: t for u, t in self._released.items()
                          if now - t < RELEASED_MEMORY}
        self._released[uid] = now
        return self._waiting.pop(key, set())

    def forget(self, key: ObjectKey) -> None:
        """A deleted resource waits for no cloud object any more."""
        for waiting in self._waiting.values():
            waiting.discard(key)
        self._waiting = {k: v for k, v in self._waiting.items() if v}
