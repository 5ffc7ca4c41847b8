"""The project's own cloud client pointed at a running emulator (client tests, e2e tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tests.support.emulator import EmulatorProcess

from hwcloud_access.cloud import AccountConfig, NotFoundError


def aksk_account(emu: EmulatorProcess, secret_key: str | None = None) -> AccountConfig:
    c = emu.config
    return AccountConfig(region=c.region, project_id=c.project_id, access_key=c.access_key,
                         secret_key=secret_key or c.secret_key, vpn_endpoint=c.url,
                         dms_endpoint=c.url, iam_endpoint=c.url)


def token_account(emu: EmulatorProcess, password: str | None = None) -> AccountConfig:
    c = emu.config
    return AccountConfig(region=c.region, project_id=c.project_id, iam_domain=c.iam_domain,
                         iam_user=c.iam_user, iam_password=password or c.iam_password,
                         vpn_endpoint=c.url, dms_endpoint=c.url, iam_endpoint=c.url)


def calls(emu: EmulatorProcess, operation: str) -> dict[str, int]:
    """The emulator's answers to one operation, by status."""
    return emu.stats()["calls"].get(operation, {})


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 10.0) -> Any:
    """Polls until `check` returns something truthy; NotFoundError counts as not yet (the
    cloud applies changes asynchronously)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            result = await check()
            if result:
                return result
        except NotFoundError:
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
