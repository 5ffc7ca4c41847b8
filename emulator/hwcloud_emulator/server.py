"""The aiohttp application: routes, the gateway middleware and the background tasks.

Background tasks: ``settle`` applies due changes every 50 ms (requests also apply them
lazily, so reads never depend on it), and, with a state file, ``saver`` writes the state at
most once per ``SAVE_DEBOUNCE`` seconds after a change. ``run`` serves until SIGTERM or
SIGINT, then saves once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator

from aiohttp import web

from hwcloud_emulator import admin, iam, persistence, rocketmq, vpn
from hwcloud_emulator.core import Emulator
from hwcloud_emulator.gateway import EMULATOR_KEY, gateway

log = logging.getLogger("hwcloud_emulator")

SETTLE_INTERVAL = 0.05
SAVE_DEBOUNCE = 1.0
STATE_FILE_KEY: web.AppKey[str | None] = web.AppKey("state_file", str)


async def _settle_loop(emu: Emulator) -> None:
    while True:
        await asyncio.sleep(SETTLE_INTERVAL)
        emu.settle_all()


async def _save_loop(emu: Emulator, path: str) -> None:
    while True:
        await asyncio.sleep(SAVE_DEBOUNCE)
        if emu.dirty:
            try:
                persistence.save(emu, path)
            except OSError as exc:
                log.error("cannot write the state file %s: %s", path, exc)


async def _background(app: web.Application) -> AsyncIterator[None]:
    emu = app[EMULATOR_KEY]
    path = app[STATE_FILE_KEY]
    tasks = [asyncio.create_task(_settle_loop(emu))]
    if path:
        tasks.append(asyncio.create_task(_save_loop(emu, path)))
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if path:
        persistence.save(emu, path)
        log.info("saved emulator state to %s", path)


def build_app(emu: Emulator, state_file: str | None = None) -> web.Application:
    app = web.Application(middlewares=[gateway], client_max_size=16 * 1024 * 1024)
    app[EMULATOR_KEY] = emu
    app[STATE_FILE_KEY] = state_file
    for method, path, handler in admin.ROUTES:
        app.router.add_route(method, path, handler)
    for module in (vpn, rocketmq, iam):
        for method, path, handler, name in module.ROUTES:
            app.router.add_route(method, path, handler, name=name)
    app.cleanup_ctx.append(_background)
    return app


async def serve(emu: Emulator, host: str, port: int, state_file: str | None) -> None:
    if state_file:
        persistence.load(emu, state_file)
    app = build_app(emu, state_file)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    addresses = runner.addresses
    bound_port = addresses[0][1] if addresses else port
    shown_host = f"[{host}]" if ":" in host else host
    log.info(
        "hwcloud-emulator listening on http://%s:%d (region %s, project %s)",
        shown_host,
        bound_port,
        emu.config.region,
        emu.config.project_id,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("stopping the emulator")
        await runner.cleanup()
