"""kopf's last-handled state of each object, kept in memory instead of an annotation.

kopf compares each event's object with the state it last handled to tell a change from an
echo of its own writes; by default it keeps that state in an annotation, which costs a PATCH
of every object at the end of every handled change. Here it lives in this process: after a
restart, or when a standby replica takes over, every object counts as new once and its pass
runs, as kopf's resume would. Deleted objects are forgotten through the ObjectRegistry.
"""

from __future__ import annotations

from typing import Any

import kopf

from .reconcile.registry import ObjectKey


def _key(body: kopf.Body) -> ObjectKey:
    return ObjectKey(body.get("kind", ""), body.metadata.namespace or "", body.metadata.name)


class MemoryDiffBaseStorage(kopf.DiffBaseStorage):
    def __init__(self) -> None:
        super().__init__()
        self._handled: dict[ObjectKey, kopf.BodyEssence] = {}

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return self._handled.get(_key(body))

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence,
              **_: Any) -> None:
        self._handled[_key(body)] = essence

    def forget(self, key: ObjectKey) -> None:
        self._handled.pop(key, None)
