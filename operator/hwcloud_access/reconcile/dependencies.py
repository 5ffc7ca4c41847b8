"""What VpnUsers need from their VpnUserGroup, and what a group learns from its users.

The group handler records each group's status here after every pass; a user whose group
is not Ready registers as a waiter and is woken (not polled) when it becomes Ready. Each
user's pass records the group it is in: when a user joins, moves or is deleted, its groups in
the same namespace are woken (once per MEMBERS_SETTLE seconds, however many users changed),
and their next pass reads `userNumber` back from the shared listing instead of waiting for
the drift sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from typing import Any

from ..api import VPN_USER, VPN_USER_GROUP
from .conditions import is_ready
from .kube import Kube
from .ownership import cloud_id_in
from .registry import IN_PASS_WAIT, BackgroundWakes, ObjectKey, Wake

MEMBERS_SETTLE = 3.0  # seconds: longer than a listing is shared for a first look


class Dependencies:
    def __init__(self, kube: Kube, wake: Wake, patience: float = IN_PASS_WAIT) -> None:
        """`patience`: how long a user's pass waits in memory for its group to be Ready."""
        self.kube = kube
        self.patience = patience
        self.wake = wake
        self._groups: dict[ObjectKey, dict[str, Any]] = {}
        self._waiters: dict[ObjectKey, set[ObjectKey]] = defaultdict(set)
        self._member_of: dict[ObjectKey, str] = {}  # VpnUser -> its group's cloud id
        self._recounts: set[ObjectKey] = set()  # groups with a wake-up on its way
        self._wakes = BackgroundWakes(wake)
        self._ready: dict[ObjectKey, asyncio.Event] = {}  # groups passes wait for in memory

    async def group(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The group's {spec, status}, from memory or else from the API server."""
        key = ObjectKey(VPN_USER_GROUP.kind, namespace, name)
        known = self._groups.get(key)
        if known is not None:
            return known
        body = await self.kube.get_object(VPN_USER_GROUP, name, namespace)
        if body is None:
            return None
        return self._groups.setdefault(key, {
            "spec": body.get("spec") or {}, "status": body.get("status") or {}})

    async def wait_for_ready(self, namespace: str, group: str) -> None:
        """Waits inside the pass, at most `patience` seconds, for the group's next pass to
        find it Ready (the caller reads the group again either way)."""
        key = ObjectKey(VPN_USER_GROUP.kind, namespace, group)
        ready = self._ready.setdefault(key, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), self.patience)

    def wait_for_group(self, namespace: str, group: str, user: ObjectKey) -> None:
        self._waiters[ObjectKey(VPN_USER_GROUP.kind, namespace, group)].add(user)

    async def passed(self, key: ObjectKey, spec: dict[str, Any],
                     status: dict[str, Any]) -> None:
        """After each pass of any resource: a group's new status may wake its users; a
        user that is Ready in a group its last pass did not show wakes both groups."""
        if key.kind == VPN_USER.kind:
            group_id = status.get("groupId") if is_ready(status) else None
            if group_id and self._member_of.get(key) != group_id:
                self._recount(key.namespace, self._member_of.get(key))
                self._member_of[key] = group_id
                self._recount(key.namespace, group_id)
            return
        if key.kind != VPN_USER_GROUP.kind:
            return
        self._groups[key] = {"spec": spec, "status": status}
        self._recounts.discard(key)  # this pass counted them
        if is_ready(status) and key in self._ready:
            self._ready.pop(key).set()
        if is_ready(status) and self._waiters.get(key):
            for user in self._waiters.pop(key):
                await self.wake(user, f"group {key.name} is Ready")

    def forget(self, key: ObjectKey) -> None:
        """A deleted group is forgotten (its waiters stay: a new one may come); a deleted
        user waits for nothing."""
        self._groups.pop(key, None)
        self._ready.pop(key, None)
        for waiters in self._waiters.values():
            waiters.discard(key)
        self._recount(key.namespace, self._member_of.pop(key, None))

    def _recount(self, namespace: str, group_id: str | None) -> None:
        """Wakes the group of this namespace with that cloud id (if this cluster manages
        one there) to read its user count again, unless a wake-up is already on its way."""
        group = next((k for k, g in self._groups.items() if k.namespace == namespace
                      and group_id and cloud_id_in(g["status"]) == group_id), None)
        if group is None or group in self._recounts:
            return
        self._recounts.add(group)
        self._wakes.later(MEMBERS_SETTLE, group, "its users changed")
