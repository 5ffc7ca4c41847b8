"""Accounts: one cloud session per account, whatever the concurrency."""

from __future__ import annotations

import asyncio

from hwcloud_access.cloud import AccountConfig
from hwcloud_access.reconcile.accounts import Accounts


class SlowAccounts(Accounts):
    """Loading an account takes a moment, as reading a CR and its Secret does."""

    async def _load(self, name: str | None) -> AccountConfig:
        await asyncio.sleep(0.01)
        return AccountConfig(region="cn-north-4", project_id="p", access_key="a",
                             secret_key="s")


async def test_concurrent_passes_share_one_session_per_account() -> None:
    made: list[AccountConfig] = []

    def make_session(config: AccountConfig) -> object:
        made.append(config)
        return object()

    accounts = SlowAccounts(None, None, make_session)  # type: ignore[arg-type]
    sessions = await asyncio.gather(*(accounts.session("acct") for _ in range(20)))
    assert len(made) == 1 and len({id(s) for s in sessions}) == 1
