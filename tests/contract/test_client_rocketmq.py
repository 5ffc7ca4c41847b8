"""The RocketMQ client against a real running emulator: create, show, list (pages),
update (with and without a new secret key), delete."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from tests.support.cloud import aksk_account as account
from tests.support.cloud import eventually

from hwcloud_access.cloud import (
    CloudSession,
    InstanceNotFoundError,
    InvalidRequestError,
    MqUserWrite,
    NotFoundError,
    Perm,
)

SECRET = "Secr3t-Key!x"


def access_key() -> str:
    return f"app_{uuid.uuid4().hex[:10]}"


def write(key: str, **kw: Any) -> MqUserWrite:
    fields: dict[str, Any] = dict(
        access_key=key, white_remote_address="10.0.0.0/8", admin=False,
        default_topic_perm="SUB", default_group_perm="SUB",
        topic_perms=[Perm(name="orders", perm="PUB|SUB")],
        group_perms=[Perm(name="billing", perm="SUB")])
    fields.update(kw)
    return MqUserWrite(**fields)


async def test_mq_user_lifecycle(emulator):
    instance = emulator.config.instance_id
    key = access_key()
    async with CloudSession(account(emulator)) as s:
        await s.rocketmq.create_user(instance, write(key), SECRET)
        user = await eventually(lambda: s.rocketmq.get_user(instance, key))
        assert user.access_key == key
        assert user.white_remote_address == "10.0.0.0/8"
        assert (user.admin, user.default_topic_perm, user.default_group_perm) == (
            False, "SUB", "SUB")
        assert user.topic_perms == [Perm(name="orders", perm="PUB|SUB")]
        assert user.group_perms == [Perm(name="billing", perm="SUB")]
        assert emulator.check_mq_secret(key, SECRET)

        # no new secret: the old one is kept
        await s.rocketmq.update_user(instance, key, write(key, default_topic_perm="PUB|SUB",
                                                          topic_perms=[]))

        async def updated():
            current = await s.rocketmq.get_user(instance, key)
            return current.default_topic_perm == "PUB|SUB" and current.topic_perms == []

        await eventually(updated)
        assert emulator.check_mq_secret(key, SECRET)

        await s.rocketmq.update_user(instance, key, write(key), "N3w-Secret!y")
        await eventually(lambda: asyncio.sleep(0, emulator.check_mq_secret(key,
                                                                            "N3w-Secret!y")))

        await s.rocketmq.delete_user(instance, key)

        async def gone():
            try:
                await s.rocketmq.get_user(instance, key)
            except NotFoundError:
                return True
            return False

        await eventually(gone)
        await s.rocketmq.delete_user(instance, key)  # already gone: fine


async def test_mq_list_over_several_pages(emulator):
    instance = emulator.config.instance_id
    keys = sorted(access_key() for _ in range(7))
    calls: list[str] = []
    async with CloudSession(account(emulator),
                            on_call=lambda op, outcome, sec: calls.append(op)) as s:
        await asyncio.gather(*(s.rocketmq.create_user(instance, write(k), SECRET)
                               for k in keys))

        async def listed():
            users = [u async for u in s.rocketmq.list_users(instance, page_size=3)]
            return users if {u.access_key for u in users} >= set(keys) else None

        users = await eventually(listed)
        assert len({u.access_key for u in users}) == len(users)
        assert calls.count("rocketmq.list_users") >= 3
        await asyncio.gather(*(s.rocketmq.delete_user(instance, k) for k in keys))


async def test_mq_missing_user_and_instance(emulator):
    instance = emulator.config.instance_id
    async with CloudSession(account(emulator)) as s:
        with pytest.raises(NotFoundError):
            await s.rocketmq.get_user(instance, access_key())
        with pytest.raises(InstanceNotFoundError):
            await s.rocketmq.get_user(str(uuid.uuid4()), access_key())
        await s.rocketmq.delete_user(str(uuid.uuid4()), access_key())


async def test_mq_bad_secret_is_terminal(emulator):
    async with CloudSession(account(emulator)) as s:
        with pytest.raises(InvalidRequestError) as info:
            await s.rocketmq.create_user(emulator.config.instance_id, write(access_key()),
                                         "weak")
    assert not info.value.retryable
    assert "weak" not in str(info.value).split(":", 1)[0]
