"""What VpnUsers need from their VpnUserGroup, and waking them when it becomes Ready.

The group handler records each group's status here after every pass; a user whose group
is not Ready registers as a waiter and is woken (not polled) when it becomes Ready.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..api import VPN_USER, VPN_USER_GROUP, KindDef
from .conditions import is_ready
from .kube import Kube

Key = tuple[str, str]  # namespace, name


class Dependencies:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._groups: dict[Key, dict[str, Any]] = {}
        self._waiters: dict[Key, set[Key]] = defaultdict(set)

    async def group(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The group's {spec, status}, from memory or else from the API server."""
        known = self._groups.get((namespace, name))
        if known is not None:
            return known
        body = await self.kube.get_object(VPN_USER_GROUP, name, namespace)
        if body is None:
            return None
        return self._groups.setdefault((namespace, name), {
            "spec": body.get("spec") or {}, "status": body.get("status") or {}})

    def wait_for_group(self, group: Key, user: Key) -> None:
        self._waiters[group].add(user)

    async def passed(self, kind: KindDef, key: tuple[str, str, str], spec: dict[str, Any],
                     status: dict[str, Any]) -> None:
        """After each pass of any resource: a group's new status may wake its users."""
        if kind is not VPN_USER_GROUP:
            return
        group = (key[1], key[2])
        self._groups[group] = {"spec": spec, "status": status}
        if is_ready(status) and self._waiters.get(group):
            users = self._waiters.pop(group)
            for namespace, name in users:
                await self.kube.wake(VPN_USER, namespace, name, f"group {group[1]} is Ready")

    def gone(self, kind: KindDef, key: tuple[str, str, str]) -> None:
        """A resource is deleted: a group is forgotten."""
        if kind is VPN_USER_GROUP:
            self._groups.pop((key[1], key[2]), None)
