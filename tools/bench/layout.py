"""What one benchmark run creates, and where: VPN servers with their users and groups,
RocketMQ instances with their MqUsers. Everything that follows from that alone lives here:
the emulator's servers and instances, the manifests in creation order, the theoretical
minimum time and the pages one drift sweep must read.

Two scenarios (BENCH_SCENARIOS=one|many|both, default both):

- ``one``: BENCH_N VpnUsers in BENCH_GROUPS groups and BENCH_MQ_N MqUsers on the emulator's
  one server and instance; with BENCH_SIZES="1000,2500,5000" one run per size (BENCH_N
  each time), for the RSS slope.
- ``many``: BENCH_SERVERS servers of BENCH_USERS_PER_SERVER users in
  BENCH_GROUPS_PER_SERVER groups each, and BENCH_INSTANCES instances of
  BENCH_MQ_PER_INSTANCE MqUsers each.
"""

from __future__ import annotations

import math
import os
import uuid
from dataclasses import dataclass
from itertools import chain, zip_longest
from typing import Any

from tests.faults.fleet import INSTANCE, SERVER, fleet

from hwcloud_access.cloud import MQ_PAGE_SIZE, VPN_PAGE_SIZE

SCENARIOS = ("one", "many")
MAX_SERVERS = 256  # one client CIDR 10.<k>.0.0/16 each
_IDS = uuid.UUID("3f2b8c4e-9a1d-4c7e-b5f0-6d2e8a1c9b47")  # of the many-server scenario's ids


@dataclass(frozen=True)
class ServerLoad:
    """One VPN server's share of a run; ``prefix`` starts its objects' names."""

    id: str
    users: int
    groups: int
    prefix: str

    @property
    def changes(self) -> int:
        """Changes its queue must apply before all is Ready: a create per user and group."""
        return self.users + self.groups

    def min_s(self, queue_capacity: int, apply_delay: float) -> float:
        """The least time its queue can apply them in: ceil(changes / capacity) x delay."""
        return math.ceil(self.changes / queue_capacity) * apply_delay


@dataclass(frozen=True)
class InstanceLoad:
    id: str
    mq_users: int
    prefix: str


@dataclass(frozen=True)
class Layout:
    scenario: str
    servers: tuple[ServerLoad, ...]
    instances: tuple[InstanceLoad, ...]

    @property
    def vpn_users(self) -> int:
        return sum(s.users for s in self.servers)

    @property
    def groups(self) -> int:
        return sum(s.groups for s in self.servers)

    @property
    def mq_users(self) -> int:
        return sum(i.mq_users for i in self.instances)

    @property
    def objects(self) -> int:
        return self.vpn_users + self.groups + self.mq_users

    @property
    def label(self) -> str:
        return f"{self.scenario}-n{self.objects}"

    def describe(self) -> str:
        server, instance = self.servers[0], self.instances[0]  # the same load on each
        return (f"{len(self.servers)} VPN server(s) x ({server.users} VpnUsers in "
                f"{server.groups} groups), {len(self.instances)} RocketMQ instance(s) x "
                f"{instance.mq_users} MqUsers: {self.objects} objects")

    def emulator_config(self, apply_delay: float, queue_capacity: int) -> dict[str, Any]:
        return {
            "apply_delay": apply_delay,
            "queue_capacity": queue_capacity,
            "vpn_servers": [{"id": s.id, "client_cidr": f"10.{k}.0.0/16"}
                            for k, s in enumerate(self.servers)],
            "rocketmq_instances": [{"id": i.id} for i in self.instances],
        }

    def manifests(self) -> list[dict[str, Any]]:
        """Every group first, then the users taking the servers in turn, then the MqUsers
        taking the instances in turn: no server's queue starts later than another's."""
        per_server = [fleet(s.users, 0, s.groups, prefix=s.prefix, server=s.id)
                      for s in self.servers]
        groups = [[o for o in objs if o["kind"] == "VpnUserGroup"] for objs in per_server]
        users = [[o for o in objs if o["kind"] == "VpnUser"] for objs in per_server]
        mq = [fleet(0, i.mq_users, 0, prefix=i.prefix, instance=i.id) for i in self.instances]
        return [*chain.from_iterable(groups), *_in_turn(users), *_in_turn(mq)]

    def theoretical_min_s(self, queue_capacity: int, apply_delay: float) -> float:
        """The slowest server's queue: ceil(changes / capacity) x apply_delay (MqUsers have
        no queue limit)."""
        return max((s.min_s(queue_capacity, apply_delay) for s in self.servers), default=0.0)

    def sweep_pages(self) -> dict[str, int]:
        """Pages one idle sweep must read: per server its users and its groups (with the
        server's default group), per instance its MqUsers."""
        return {
            "list_users": sum(max(1, math.ceil(s.users / VPN_PAGE_SIZE)) for s in self.servers),
            "list_groups": sum(max(1, math.ceil((s.groups + 1) / VPN_PAGE_SIZE))
                               for s in self.servers),
            "list_mq_users": sum(max(1, math.ceil(i.mq_users / MQ_PAGE_SIZE))
                                 for i in self.instances),
        }


def _in_turn(lists: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [obj for row in zip_longest(*lists) for obj in row if obj is not None]


def one_server(users: int, groups: int, mq_users: int) -> Layout:
    """The emulator's default server and instance, names without a prefix."""
    return Layout("one", (ServerLoad(SERVER, users, groups, ""),),
                  (InstanceLoad(INSTANCE, mq_users, ""),))


def many_servers(servers: int, users: int, groups: int, instances: int,
                 mq_users: int) -> Layout:
    """``servers`` servers of ``users`` users in ``groups`` groups, ``instances`` instances
    of ``mq_users`` MqUsers; ids derived from the index, names prefixed s<k>- / i<k>-."""
    return Layout(
        "many",
        tuple(ServerLoad(str(uuid.uuid5(_IDS, f"server-{k}")), users, groups, f"s{k}-")
              for k in range(servers)),
        tuple(InstanceLoad(str(uuid.uuid5(_IDS, f"instance-{k}")), mq_users, f"i{k}-")
              for k in range(instances)))


def env_number(name: str, default: float, minimum: float = 0) -> float:
    """A number from the environment (``default`` when unset or empty), at least ``minimum``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r}: not a number") from None
    if value < minimum:
        raise SystemExit(f"{name}={raw}: must be at least {minimum}")
    return value


def env_int(name: str, default: int, minimum: int = 0) -> int:
    value = env_number(name, default, minimum)
    if value != int(value):
        raise SystemExit(f"{name}={value}: not a whole number")
    return int(value)


def layouts_from_env() -> list[Layout]:
    """The runs BENCH_SCENARIOS asks for, in order: the one-server sizes, then many."""
    raw = os.environ.get("BENCH_SCENARIOS", "both").strip() or "both"
    scenarios = SCENARIOS if raw == "both" else (raw,)
    if scenarios[0] not in SCENARIOS:
        raise SystemExit(f"BENCH_SCENARIOS={raw!r}: choose one, many or both")
    groups = env_int("BENCH_GROUPS", 2)
    layouts = []
    if "one" in scenarios:
        mq = env_int("BENCH_MQ_N", 200)
        layouts += [one_server(n, groups, mq) for n in _sizes(env_int("BENCH_N", 1000))]
    if "many" in scenarios:
        servers = env_int("BENCH_SERVERS", 4, minimum=1)
        if servers > MAX_SERVERS:
            raise SystemExit(f"BENCH_SERVERS={servers}: at most {MAX_SERVERS}")
        layouts.append(many_servers(
            servers, env_int("BENCH_USERS_PER_SERVER", 500),
            env_int("BENCH_GROUPS_PER_SERVER", groups), env_int("BENCH_INSTANCES", 2, minimum=1),
            env_int("BENCH_MQ_PER_INSTANCE", 100)))
    return layouts


def _sizes(default: int) -> list[int]:
    """BENCH_SIZES ("1000,2500,5000": VpnUsers per run), else BENCH_N alone."""
    raw = os.environ.get("BENCH_SIZES", "").strip()
    if not raw:
        return [default]
    try:
        sizes = sorted({int(part) for part in raw.split(",") if part.strip()})
    except ValueError:
        raise SystemExit(f"BENCH_SIZES={raw!r}: give VpnUser counts separated by commas, "
                         "e.g. 1000,2500,5000") from None
    if not sizes or sizes[0] < 0:
        raise SystemExit(f"BENCH_SIZES={raw!r}: give at least one count, none negative")
    return sizes
