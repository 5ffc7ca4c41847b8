"""In-memory state and the asynchronous apply model.

Every VPN server and RocketMQ instance keeps two views of its objects:

- ``future``: everything the service has accepted. Writes are validated against it (names
  of pending creates are reserved, a pending delete frees them, and so on).
- ``visible``: what has taken effect. Reads (show and list) answer from it.

An accepted change is a list of *ops* (``("put_user", record)``, ``("del_user", id)``, ...):
each op is applied to ``future`` at once and queued, with a due time, for ``visible``. The
queue is FIFO: an op's due time is ``max(now + delay, due time of the op before it)``, and
``settle(now)`` applies every op that is due. Records are frozen dataclasses, so one record
object is shared by both views without copying.

All lookups are dicts keyed by id or by name; the only O(n) work is building the ordered id
list that the list calls page through, which is cached until an object is added or removed.
"""

from __future__ import annotations

import uuid
from bisect import bisect_left, bisect_right
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hwcloud_emulator import clock
from hwcloud_emulator.config import RocketMQInstance, VpnServer
from hwcloud_emulator.errors import CloudError
from hwcloud_emulator.stats import QueueCounters

Op = tuple[str, Any]

_NAMESPACE = uuid.UUID("5d1c9f3e-6b7a-4e2f-9c1d-0e4b8a7f6c52")


@dataclass(frozen=True, slots=True)
class VpnGroup:
    id: str
    seq: int
    name: str
    description: str
    type: str  # Default | Custom
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class VpnUser:
    id: str
    seq: int
    name: str
    description: str
    user_group_id: str
    static_ip: str  # "disable" or an IPv4 address
    created_at: str
    updated_at: str
    pw_history: tuple[str, ...]  # salted hashes, newest (= current) first
    pw_version: int
    pw_fingerprint: str | None  # sha256 of the current password; memory only


@dataclass(frozen=True, slots=True)
class MqUser:
    access_key: str
    seq: int
    secret_hash: str
    secret_version: int
    secret_fingerprint: str | None  # memory only
    white_remote_address: str
    admin: bool
    default_topic_perm: str
    default_group_perm: str
    topic_perms: tuple[tuple[str, str], ...]
    group_perms: tuple[tuple[str, str], ...]
    created_at: str
    updated_at: str


def _drop_index(index: dict[str, str], key: str, value: str) -> None:
    if index.get(key) == value:
        del index[key]


def _in_order(records: dict[str, Any], keys: Any) -> tuple[list[str], list[str]]:
    """(created_at stamps, keys) of ``keys`` in creation order."""
    triples = sorted((records[k].seq, records[k].created_at, k) for k in keys)
    return [t[1] for t in triples], [t[2] for t in triples]


class _Ordered:
    """(created_at stamps, keys) in creation order for one dict of records, kept up to date.

    Stamps strictly increase with creation order (see ``Stamper``), so the stamp list is
    sorted: a list marker (the last stamp of the previous page) is found by bisection, a new
    record (always the newest) is appended, a removed one is found by bisection too.
    """

    __slots__ = ("_stamps", "_keys", "_valid")

    def __init__(self) -> None:
        self._stamps: list[str] = []
        self._keys: list[str] = []
        self._valid = False

    def added(self, record: Any, key: str) -> None:
        if not self._valid:
            return
        if self._stamps and record.created_at <= self._stamps[-1]:
            self._valid = False  # out of order (only when loading odd data): rebuild
            return
        self._stamps.append(record.created_at)
        self._keys.append(key)

    def removed(self, record: Any, key: str) -> None:
        if not self._valid:
            return
        i = bisect_left(self._stamps, record.created_at)
        if i < len(self._keys) and self._keys[i] == key:
            del self._stamps[i]
            del self._keys[i]
        else:
            self._valid = False

    def get(self, records: dict[str, Any]) -> tuple[list[str], list[str]]:
        if not self._valid:
            self._stamps, self._keys = _in_order(records, records.keys())
            self._valid = True
        return self._stamps, self._keys


class VpnView:
    """Users and groups of one VPN server, with indexes by name, static IP and group."""

    def __init__(self) -> None:
        self.users: dict[str, VpnUser] = {}
        self.groups: dict[str, VpnGroup] = {}
        self.user_by_name: dict[str, str] = {}
        self.group_by_name: dict[str, str] = {}
        self.user_by_ip: dict[str, str] = {}
        self.members: dict[str, dict[str, None]] = {}
        self._user_order = _Ordered()
        self._group_order = _Ordered()

    def apply(self, op: Op) -> None:
        kind, payload = op
        if kind == "put_user":
            self.put_user(payload)
        elif kind == "del_user":
            self.del_user(payload)
        elif kind == "put_group":
            self.put_group(payload)
        elif kind == "del_group":
            self.del_group(payload)
        else:  # pragma: no cover - programming error
            raise ValueError(f"unknown op {kind}")

    def _unindex_user(self, user: VpnUser) -> None:
        _drop_index(self.user_by_name, user.name, user.id)
        if user.static_ip != "disable":
            _drop_index(self.user_by_ip, user.static_ip, user.id)
        members = self.members.get(user.user_group_id)
        if members is not None:
            members.pop(user.id, None)

    def put_user(self, user: VpnUser) -> None:
        old = self.users.get(user.id)
        if old is None:
            self._user_order.added(user, user.id)
        else:
            self._unindex_user(old)
        self.users[user.id] = user
        self.user_by_name[user.name] = user.id
        if user.static_ip != "disable":
            self.user_by_ip[user.static_ip] = user.id
        self.members.setdefault(user.user_group_id, {})[user.id] = None

    def del_user(self, user_id: str) -> None:
        user = self.users.pop(user_id, None)
        if user is not None:
            self._unindex_user(user)
            self._user_order.removed(user, user_id)

    def put_group(self, group: VpnGroup) -> None:
        old = self.groups.get(group.id)
        if old is None:
            self._group_order.added(group, group.id)
        else:
            _drop_index(self.group_by_name, old.name, old.id)
        self.groups[group.id] = group
        self.group_by_name[group.name] = group.id
        self.members.setdefault(group.id, {})

    def del_group(self, group_id: str) -> None:
        group = self.groups.pop(group_id, None)
        if group is not None:
            _drop_index(self.group_by_name, group.name, group.id)
            self._group_order.removed(group, group_id)
            if not self.members.get(group_id):
                self.members.pop(group_id, None)

    def user_count(self, group_id: str) -> int:
        return len(self.members.get(group_id, ()))

    def ordered_users(self) -> tuple[list[str], list[str]]:
        return self._user_order.get(self.users)

    def ordered_groups(self) -> tuple[list[str], list[str]]:
        return self._group_order.get(self.groups)

    def ordered_members(self, group_id: str) -> tuple[list[str], list[str]]:
        return _in_order(self.users, self.members.get(group_id, ()))


class MqView:
    """Users of one RocketMQ instance, keyed by access key."""

    def __init__(self) -> None:
        self.users: dict[str, MqUser] = {}
        self._order = _Ordered()

    def apply(self, op: Op) -> None:
        kind, payload = op
        if kind == "put_mq":
            if payload.access_key not in self.users:
                self._order.added(payload, payload.access_key)
            self.users[payload.access_key] = payload
        elif kind == "del_mq":
            old = self.users.pop(payload, None)
            if old is not None:
                self._order.removed(old, payload)
        else:  # pragma: no cover - programming error
            raise ValueError(f"unknown op {kind}")

    def ordered(self) -> tuple[list[str], list[str]]:
        return self._order.get(self.users)


class DelayedState:
    """The future/visible pair and the FIFO queue between them."""

    view_class: type = VpnView

    def __init__(self) -> None:
        self.future = self.view_class()
        self.visible = self.view_class()
        self.queue: deque[tuple[float, Op]] = deque()
        # X-Client-Token -> (status, body) of the first successful answer.
        self.client_tokens: dict[str, tuple[int, dict[str, Any]]] = {}
        self.seq = 0
        self.stamper = Stamper()
        self.counters = QueueCounters()  # reset with the stats, not with the state

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def settle(self, now: float) -> int:
        """Apply every queued op that is due; returns how many were applied."""
        applied = 0
        queue = self.queue
        while queue and queue[0][0] <= now:
            due, op = queue.popleft()
            self.visible.apply(op)
            self.counters.applied_at(due)
            applied += 1
        return applied

    def commit(self, ops: list[Op], now: float, delay: float, capacity: int | None = None) -> None:
        """Accept ``ops``: at once into ``future``, after ``delay`` into ``visible``.

        With a ``capacity``, refuse (VPN.0030, nothing changed) if the queue cannot take
        every op of this call.
        """
        self.settle(now)
        if capacity is not None and len(self.queue) + len(ops) > capacity:
            self.counters.refused_call()
            raise CloudError("VPN_BUSY")
        self.counters.accepted(len(ops), now)
        due = now + delay
        if self.queue and self.queue[-1][0] > due:
            due = self.queue[-1][0]
        for op in ops:
            self.future.apply(op)
            self.queue.append((due, op))
        self.settle(now)

    def apply_all_now(self, now: float) -> None:
        while self.queue:
            self.visible.apply(self.queue.popleft()[1])
            self.counters.applied_at(now)


def page_after(
    stamps: list[str], keys: list[str], marker: str | None, limit: int
) -> tuple[list[str], str | None]:
    """Keys created after the stamp ``marker`` (None: from the start), at most ``limit``;
    and the next page's marker (the last stamp of this page), None on the last page."""
    start = 0 if marker is None else bisect_right(stamps, marker)
    end = start + limit
    page = keys[start:end]
    return page, (stamps[end - 1] if end < len(keys) and page else None)


class Stamper:
    """Creation/update timestamps that strictly increase (by at least 1 µs) per server.

    VPN list markers are the ``created_at`` of the last item of a page, so two objects must
    never share one. Format: ``2024-05-01T12:00:00.123456Z`` (UTC), which sorts as text.
    """

    def __init__(self) -> None:
        self.last: datetime | None = None

    def seen(self, stamp: str) -> None:
        when = parse_stamp(stamp)
        if self.last is None or when > self.last:
            self.last = when

    def __call__(self) -> str:
        now = clock.utcnow()
        if self.last is not None and now <= self.last:
            now = self.last + timedelta(microseconds=1)
        self.last = now
        return format_stamp(now)


def format_stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(value: str) -> datetime:
    """Parse an ISO 8601 time (``Z`` or offset; naive means UTC). ValueError if it is not one."""
    when = datetime.fromisoformat(value.strip())
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def normalize_marker(value: str) -> str:
    """A client's marker in the stamp format (so that text comparison works)."""
    return format_stamp(parse_stamp(value))


class VpnServerState(DelayedState):
    view_class = VpnView

    def __init__(self, cfg: VpnServer) -> None:
        super().__init__()
        self.cfg = cfg
        self.default_group_id = str(uuid.uuid5(_NAMESPACE, f"{cfg.id}/default-group"))
        self.created_at = self.stamper()
        self._add_default_group()

    def _add_default_group(self) -> None:
        group = VpnGroup(
            id=self.default_group_id,
            seq=self.next_seq(),
            name=self.cfg.default_group_name,
            description="",
            type="Default",
            created_at=self.created_at,
            updated_at=self.created_at,
        )
        self.future.put_group(group)
        self.visible.put_group(group)

    def reset(self) -> None:
        """Drop every user and Custom group, pending changes and client tokens."""
        self.future = VpnView()
        self.visible = VpnView()
        self.queue.clear()
        self.client_tokens.clear()
        self._add_default_group()


class MqInstanceState(DelayedState):
    view_class = MqView

    def __init__(self, cfg: RocketMQInstance) -> None:
        super().__init__()
        self.cfg = cfg

    def reset(self) -> None:
        self.future = MqView()
        self.visible = MqView()
        self.queue.clear()
        self.client_tokens.clear()
