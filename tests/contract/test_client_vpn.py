"""The VPN client against a real running emulator: create, show, list, update, delete
for groups and users. Created objects become visible only after ``apply_delay``, so
reads poll (that is the cloud's behaviour, not a client bug)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from typing import Any

import pytest
from tests.contract.helpers import sdk_error, vpn_client
from tests.contract.vpn_calls import Vpn
from tests.support.cloud import aksk_account as account
from tests.support.cloud import eventually

from hwcloud_access.cloud import (
    VPN_PAGE_SIZE,
    CloudSession,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
)

PASSWORD = "Passw0rd!x9"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def server(emulator) -> str:
    return emulator.config.vpn_server_id


async def test_group_lifecycle(emulator, server):
    name = unique("grp")
    async with CloudSession(account(emulator)) as s:
        group_id = await s.vpn.create_group(server, name=name, description="first")
        group = await eventually(lambda: s.vpn.get_group(server, group_id))
        assert (group.name, group.description, group.type) == (name, "first", "Custom")
        assert group.user_number == 0
        assert (name, group_id) in [(g.name, g.id) async for g in s.vpn.list_groups(server)]

        await s.vpn.update_group(server, group_id, name=name + "-x", description="second")

        async def renamed():
            current = await s.vpn.get_group(server, group_id)
            return current.name == name + "-x" and current.description == "second"

        await eventually(renamed)
        await s.vpn.delete_group(server, group_id)

        async def gone():
            try:
                await s.vpn.get_group(server, group_id)
            except NotFoundError:
                return True
            return False

        await eventually(gone)
        await s.vpn.delete_group(server, group_id)  # already gone: still fine
        assert group_id not in [g.id async for g in s.vpn.list_groups(server)]


async def test_same_client_token_gives_the_same_group(emulator, server):
    token = str(uuid.uuid4())
    name = unique("grp")
    async with CloudSession(account(emulator)) as s:
        first = await s.vpn.create_group(server, name=name, description="", client_token=token)
        second = await s.vpn.create_group(server, name=name, description="", client_token=token)
        assert first == second
        await eventually(lambda: s.vpn.get_group(server, first))
        assert [g.id async for g in s.vpn.list_groups(server) if g.name == name] == [first]
        await s.vpn.delete_group(server, first)


async def test_duplicate_group_name_is_a_terminal_conflict(emulator, server):
    name = unique("grp")
    async with CloudSession(account(emulator)) as s:
        group_id = await s.vpn.create_group(server, name=name, description="")
        with pytest.raises(ConflictError) as info:
            await s.vpn.create_group(server, name=name, description="")
        assert info.value.code == "VPN.0001" and not info.value.retryable
        await s.vpn.delete_group(server, group_id)


async def test_user_lifecycle(emulator, server):
    name = unique("usr")
    group_name = unique("grp")
    async with CloudSession(account(emulator)) as s:
        group_id = await s.vpn.create_group(server, name=group_name, description="")
        user_id = await s.vpn.create_user(server, name=name, password=PASSWORD,
                                          description="hello", user_group_id=group_id,
                                          static_ip=None)
        user = await eventually(lambda: s.vpn.get_user(server, user_id))
        assert (user.name, user.description, user.user_group_id, user.user_group_name) == (
            name, "hello", group_id, group_name)
        assert user.static_ip == "disable"
        assert emulator.check_password(name, PASSWORD, server)
        assert (name, user_id) in [(u.name, u.id) async for u in s.vpn.list_users(server)]

        await s.vpn.update_user(server, user_id, description="changed", static_ip="172.16.0.77")

        async def updated():
            current = await s.vpn.get_user(server, user_id)
            return current.description == "changed" and current.static_ip == "172.16.0.77"

        await eventually(updated)
        await s.vpn.reset_password(server, user_id, "N3w-Passw0rd!")
        await eventually(lambda: asyncio.sleep(0, emulator.check_password(
            name, "N3w-Passw0rd!", server)))

        await s.vpn.delete_user(server, user_id)
        await eventually(lambda: _missing(s.vpn.get_user(server, user_id)))
        await s.vpn.delete_user(server, user_id)
        await s.vpn.delete_group(server, group_id)


async def _missing(awaitable: Awaitable[Any]) -> bool:
    try:
        await awaitable
    except NotFoundError:
        return True
    return False


async def test_user_without_group_lands_in_the_default_group(emulator, server):
    async with CloudSession(account(emulator)) as s:
        user_id = await s.vpn.create_user(server, name=unique("usr"), password=PASSWORD)
        user = await eventually(lambda: s.vpn.get_user(server, user_id))
        default = [g async for g in s.vpn.list_groups(server) if g.id == user.user_group_id]
        assert default and default[0].type == "Default"
        await s.vpn.delete_user(server, user_id)


async def test_list_users_over_several_pages(emulator, server):
    prefix = unique("pg")
    calls: list[str] = []
    async with CloudSession(account(emulator),
                            on_call=lambda op, outcome, sec: calls.append(op)) as s:
        ids = await asyncio.gather(*(
            s.vpn.create_user(server, name=f"{prefix}-{i}", password=PASSWORD)
            for i in range(7)))
        assert len(set(ids)) == 7

        async def all_listed():
            listed = [u async for u in s.vpn.list_users(server, page_size=3)]
            mine = sorted(u.name for u in listed if u.name.startswith(prefix))
            return mine == sorted(f"{prefix}-{i}" for i in range(7)) and listed

        listed = await eventually(all_listed)
        assert len({u.id for u in listed}) == len(listed)  # no row twice across pages
        assert calls.count("vpn.list_users") >= 3
        await asyncio.gather(*(s.vpn.delete_user(server, user_id) for user_id in ids))


def test_the_clients_page_size_is_the_largest_limit_the_emulator_takes(emulator, server):
    """Both follow the SDK's bound on a listing's ``limit`` (200)."""
    vpn = Vpn(vpn_client(emulator), server)
    for list_call in (vpn.list_users, vpn.list_groups):
        assert list_call(limit=VPN_PAGE_SIZE).status_code == 200
        err = sdk_error(lambda call=list_call: call(limit=VPN_PAGE_SIZE + 1))
        assert (err.status_code, err.error_code) == (400, "VPN.0001")


async def test_bad_password_is_terminal_and_not_retried(emulator, server):
    name = unique("usr")
    before = emulator.stats()["calls"].get("create_user", {}).get("400", 0)
    async with CloudSession(account(emulator)) as s:
        with pytest.raises(InvalidRequestError) as info:
            await s.vpn.create_user(server, name=name, password="password")
    assert info.value.code == "VPN.0001"
    assert "password" not in repr(info.value).replace("password must", "")
    assert emulator.stats()["calls"]["create_user"]["400"] == before + 1


async def test_unknown_ids_are_not_found(emulator, server):
    async with CloudSession(account(emulator)) as s:
        with pytest.raises(NotFoundError):
            await s.vpn.get_user(server, str(uuid.uuid4()))
        with pytest.raises(NotFoundError):
            await s.vpn.get_group(server, str(uuid.uuid4()))
