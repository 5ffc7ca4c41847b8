"""Authentication against the real emulator: AK/SK signing and IAM tokens (one fetch
for many calls, refresh on expiry and before it, terminal failures), and the proof of an
account's credentials (CloudSession.verify)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.support.cloud import aksk_account, calls, token_account

from hwcloud_access.cloud import AuthError, CloudSession, ServerError


async def _group_ids(s: CloudSession, server: str) -> list[str]:
    """One authenticated read: the server's groups (its Default group at least)."""
    return [g.id async for g in s.vpn.list_groups(server)]


async def _list_mq(s: CloudSession, instance: str) -> list[Any]:
    return [u async for u in s.rocketmq.list_users(instance)]


async def test_one_token_for_many_concurrent_calls(fresh_emulator):
    emu = fresh_emulator()
    server, instance = emu.config.vpn_server_id, emu.config.instance_id
    async with CloudSession(token_account(emu)) as s:
        await asyncio.gather(*(_group_ids(s, server) for _ in range(10)),
                             *(_list_mq(s, instance) for _ in range(10)))
    assert calls(emu, "issue_token") == {"201": 1}
    assert calls(emu, "list_groups") == {"200": 10}


async def test_expired_token_is_refreshed_once_and_the_call_succeeds(fresh_emulator):
    emu = fresh_emulator()
    server = emu.config.vpn_server_id
    async with CloudSession(token_account(emu)) as s:
        await _group_ids(s, server)
        emu.expire_tokens()
        assert await _group_ids(s, server)
        await _group_ids(s, server)
    assert calls(emu, "issue_token") == {"201": 2}
    assert calls(emu, "list_groups") == {"200": 3, "401": 1}


async def test_short_lived_token_is_renewed_before_it_expires(fresh_emulator):
    emu = fresh_emulator(token_ttl=2)
    server = emu.config.vpn_server_id
    async with CloudSession(token_account(emu)) as s:
        await _group_ids(s, server)
        await asyncio.sleep(1.3)  # past half the token's life, before its end
        await _group_ids(s, server)
    assert calls(emu, "issue_token") == {"201": 2}
    assert calls(emu, "list_groups") == {"200": 2}  # never refused


async def test_wrong_iam_password_is_terminal(fresh_emulator):
    emu = fresh_emulator()
    async with CloudSession(token_account(emu, password="Wrong-Pass-999")) as s:
        with pytest.raises(AuthError) as info:
            await _group_ids(s, emu.config.vpn_server_id)
    assert "Wrong-Pass-999" not in str(info.value) + repr(info.value)
    assert calls(emu, "issue_token") == {"401": 1}
    assert calls(emu, "list_groups") == {}


async def test_aksk_signature_is_accepted_and_a_wrong_key_is_terminal(fresh_emulator):
    emu = fresh_emulator()
    server = emu.config.vpn_server_id
    async with CloudSession(aksk_account(emu)) as s:
        assert await _group_ids(s, server)
    async with CloudSession(aksk_account(emu, secret_key="not-the-secret-key")) as s:
        with pytest.raises(AuthError) as info:
            await _group_ids(s, server)
    assert info.value.status == 401 and info.value.code == "APIGW.0301"
    assert "not-the-secret-key" not in str(info.value)
    assert calls(emu, "list_groups") == {"200": 1, "401": 1}  # not retried


async def test_aksk_is_proven_by_one_project_listing_and_a_wrong_key_refused(fresh_emulator):
    emu = fresh_emulator(faults={"fail_next": 1})
    async with CloudSession(aksk_account(emu)) as s:
        with pytest.raises(ServerError):  # no verdict: the caller tries again later
            await s.verify()
        for _ in range(3):
            await s.verify()  # accepted: asked once
    async with CloudSession(aksk_account(emu, secret_key="not-the-secret-key")) as s:
        for _ in range(3):
            with pytest.raises(AuthError) as info:
                await s.verify()  # refused: asked once, remembered
    assert (info.value.status, info.value.code) == (401, "APIGW.0301")
    assert "not-the-secret-key" not in str(info.value) + repr(info.value)
    assert calls(emu, "list_auth_projects") == {"503": 1, "200": 1, "401": 1}


async def test_an_iam_user_is_proven_by_its_login(fresh_emulator):
    emu = fresh_emulator()
    async with CloudSession(token_account(emu)) as s:
        await s.verify()
        await _group_ids(s, emu.config.vpn_server_id)  # with the token the proof got
    async with CloudSession(token_account(emu, password="Wrong-Pass-999")) as s:
        with pytest.raises(AuthError):
            await s.verify()
    assert calls(emu, "issue_token") == {"201": 1, "401": 1}
    assert calls(emu, "list_auth_projects") == {}


async def test_token_auth_writes_work(fresh_emulator):
    emu = fresh_emulator(apply_delay=0)
    server = emu.config.vpn_server_id
    async with CloudSession(token_account(emu)) as s:
        group_id = await s.vpn.create_group(server, name="tok-group", description="via token")
        assert (await s.vpn.get_group(server, group_id)).description == "via token"
        await s.vpn.delete_group(server, group_id)
