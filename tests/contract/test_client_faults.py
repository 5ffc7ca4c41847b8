"""The client under the emulator's faults: busy storms, 5xx, throttling, dropped
answers after an accepted create (no duplicates), and the time budget."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from tests.support.cloud import aksk_account as account
from tests.support.cloud import calls, eventually

from hwcloud_access.cloud import (
    BusyError,
    CloudSession,
    LimiterTimeoutError,
    MqUserWrite,
    ServerError,
)

PASSWORD = "Passw0rd!x9"
# Random faults come from a seeded emulator, so that a run that passed once passes again:
# at a 50% throttle rate an unseeded run exhausts the 8 attempts in about 1 of 25 runs.
FAULT_SEED = 7


@pytest.mark.parametrize(("creates", "apply_delay"), [(1000, 0.05), (200, 0.5)])
async def test_busy_storm_creates_each_user_once_with_few_busy_answers(fresh_emulator,
                                                                       creates, apply_delay):
    """Concurrent creates against one server whose queue holds 10 changes: the pacer keeps
    the busy answers rare. How fast it converges is the benchmark's job (``make bench``)."""
    emu = fresh_emulator(apply_delay=apply_delay, queue_capacity=10)
    server = emu.config.vpn_server_id
    prefix = f"st{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}-{i}" for i in range(creates)]
    async with CloudSession(account(emu), retry_budget=120) as s:
        started = time.monotonic()
        ids = await asyncio.gather(*(
            s.vpn.create_user(server, name=name, password=PASSWORD) for name in names))
        elapsed = time.monotonic() - started
        limiter = s.limiters.get(f"vpn:{server}")
        assert len(set(ids)) == creates

        async def all_there():
            listed = [u.name async for u in s.vpn.list_users(server)]
            return sorted(n for n in listed if n.startswith(prefix)) == sorted(names)

        await eventually(all_there, within=apply_delay * creates / 10 + 15)
    stats = emu.stats()
    created = calls(emu, "create_user")
    ideal = creates * apply_delay / 10
    busy_share = stats["busy"] / sum(created.values())
    print(f"{creates} creates, apply {apply_delay}s: {elapsed:.1f}s (ideal {ideal:.1f}s), "
          f"{stats['busy']} busy of {sum(created.values())} calls, limiter {limiter.snapshot()}")
    assert created.get("201") == creates
    assert busy_share < 0.10


async def test_injected_server_errors_are_retried(fresh_emulator):
    emu = fresh_emulator(apply_delay=0, seed=FAULT_SEED)
    emu.set_faults(error_rate=0.3, error_statuses=[500, 502, 503])
    server = emu.config.vpn_server_id
    async with CloudSession(account(emu), retry_budget=30) as s:
        ids = await asyncio.gather(*(
            s.vpn.create_group(server, name=f"g5xx-{i}", description="") for i in range(20)))
        groups = await asyncio.gather(*(s.vpn.get_group(server, gid) for gid in ids))
    assert sorted(g.name for g in groups) == sorted(f"g5xx-{i}" for i in range(20))
    statuses = {status for op in emu.stats()["calls"].values() for status in op}
    assert statuses & {"500", "502", "503"}, "the fault injection did not fire"
    assert calls(emu, "create_group").get("201") == 20


async def test_server_error_past_the_budget_is_raised_typed_and_quickly(fresh_emulator):
    emu = fresh_emulator(apply_delay=0)
    emu.set_faults(error_rate=1.0, error_statuses=[503])
    async with CloudSession(account(emu), retry_budget=1.0) as s:
        started = time.monotonic()
        with pytest.raises(ServerError) as info:
            [g async for g in s.vpn.list_groups(emu.config.vpn_server_id)]
        assert time.monotonic() - started < 2.5
    assert info.value.retryable and calls(emu, "list_groups").get("503", 0) >= 2


async def test_busy_past_the_budget_is_raised_as_busy(fresh_emulator):
    emu = fresh_emulator(apply_delay=0)
    emu.set_faults(busy_rate=1.0)
    async with CloudSession(account(emu), retry_budget=1.0) as s:
        with pytest.raises((BusyError, LimiterTimeoutError)) as info:
            await s.vpn.create_group(emu.config.vpn_server_id, name="never", description="")
    # the last busy answer, or the limiter (shrunk by them) had no slot left in the budget
    assert info.value.code in ("VPN.0030", "CLIENT.LimiterTimeout") and info.value.retryable
    assert emu.stats()["busy"] >= 1


async def test_throttling_is_retried(fresh_emulator):
    emu = fresh_emulator(apply_delay=0, seed=FAULT_SEED)
    emu.set_faults(throttle_rate=0.5)
    async with CloudSession(account(emu), retry_budget=30) as s:
        for _ in range(10):
            assert [g async for g in s.vpn.list_groups(emu.config.vpn_server_id)]
    assert calls(emu, "list_groups").get("429", 0) > 0


@pytest.mark.parametrize("operation", ["create_user", "create_group"])
async def test_dropped_answer_after_create_gives_no_duplicate(fresh_emulator, operation):
    emu = fresh_emulator(apply_delay=0.1)
    emu.set_faults(drop_operations=[operation], drop_next=1)
    server = emu.config.vpn_server_id
    name = f"drop-{uuid.uuid4().hex[:6]}"
    async with CloudSession(account(emu)) as s:
        if operation == "create_user":
            created = await s.vpn.create_user(server, name=name, password=PASSWORD)
            listing = s.vpn.list_users
        else:
            created = await s.vpn.create_group(server, name=name, description="")
            listing = s.vpn.list_groups

        async def named() -> list[str]:
            return [found.id async for found in listing(server) if found.name == name]

        assert await eventually(named, within=15) == [created]
    stats = emu.stats()
    assert stats["dropped"] == 1
    assert calls(emu, operation).get("dropped") == 1


async def test_dropped_answer_after_mq_create_is_settled(fresh_emulator):
    emu = fresh_emulator(rocketmq_apply_delay=0)
    emu.set_faults(drop_operations=["create_mq_user"], drop_next=1)
    instance = emu.config.instance_id
    key = f"app_{uuid.uuid4().hex[:8]}"
    async with CloudSession(account(emu)) as s:
        await s.rocketmq.create_user(instance, MqUserWrite(access_key=key), "Secr3t-Key!x")
        users = [u async for u in s.rocketmq.list_users(instance) if u.access_key == key]
    assert len(users) == 1
    assert emu.check_mq_secret(key, "Secr3t-Key!x")
    assert calls(emu, "create_mq_user").get("dropped") == 1
