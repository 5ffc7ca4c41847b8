"""What VpnUsers need from their VpnUserGroup, and waking them when it becomes Ready.

The group handler records each group's status here after every pass; a user whose group
is not Ready registers as a waiter and is woken (not polled) when it becomes Ready.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..api import VPN_USER_GROUP
from .conditions import is_ready
from .kube import Kube
from .registry import ObjectKey, Wake


class Dependencies:
    def __init__(self, kube: Kube, wake: Wake) -> None:
        self.kube = kube
        self.wake = wake
        self._groups: dict[ObjectKey, dict[str, Any]] = {}
        self._waiters: dict[ObjectKey, set[ObjectKey]] = defaultdict(set)

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

    def wait_for_group(self, namespace: str, group: str, user: ObjectKey) -> None:
        self._waiters[ObjectKey(VPN_USER_GROUP.kind, namespace, group)].add(user)

    async def passed(self, key: ObjectKey, spec: dict[str, Any],
                     status: dict[str, Any]) -> None:
        """After each pass of any resource: a group's new status may wake its users."""
        if key.kind != VPN_USER_GROUP.kind:
            return
        self._groups[key] = {"spec": spec, "status": status}
        if is_ready(status) and self._waiters.get(key):
            for user in self._waiters.pop(key):
                await self.wake(user, f"group {key.name} is Ready")

    def forget(self, key: ObjectKey) -> None:
        """A deleted group is forgotten (its waiters stay: a new one may come); a deleted
        user waits for nothing."""
        self._groups.pop(key, None)
        for waiters in self._waiters.values():
            waiters.discard(key)
