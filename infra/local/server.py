"""Serving the front door and the stack's background loops until Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from chalicelib.settings import Settings
from infra.local.gateway import RestGateway, build_app

logger = logging.getLogger("slipway.local")


def serve(host: str, port: int, settings: Settings) -> None:
    import app as chalice_module

    rest = RestGateway(chalice_module.app)
    application = build_app(rest, gzip_min_bytes=settings.gzip_min_bytes)
    asyncio.run(_serve(application, host, port, settings))


async def _dispatch_forever(interval: float) -> None:
    """The dispatcher tick that EventBridge drives each minute in AWS, here each ``interval``."""
    from chalicelib import dispatcher

    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        try:
            await loop.run_in_executor(None, dispatcher.tick)
        except Exception:
            logger.exception("dispatcher tick failed")
        await asyncio.sleep(max(0.0, interval - (loop.time() - started)))


async def _serve(application: web.Application, host: str, port: int, settings: Settings) -> None:
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    logger.info("Slipway is up on http://%s:%d (Ctrl-C stops it)", "localhost" if host == "127.0.0.1" else host, port)
    ticker = asyncio.create_task(_dispatch_forever(settings.dispatch_interval_seconds))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    logger.info("stopping")
    ticker.cancel()
    await runner.cleanup()
