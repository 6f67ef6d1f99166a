"""Serving the front door and the stack's background loops until Ctrl-C."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from chalicelib.settings import Settings
from infra.local.gateway import RestGateway, build_app
from infra.local.notifications_consumer import NotificationsConsumer
from infra.local.websockets import LocalWebsocketApi

logger = logging.getLogger("slipway.local")


def app_instances(count: int) -> list[Any]:
    """``count`` Chalice apps, as ``count`` Lambda execution environments of one function would
    hold: the imported ``app`` module's, then fresh loads of ``app.py`` under other module names
    (the chalicelib modules they use are shared, as they are thread-safe)."""
    import app as chalice_module

    apps = [chalice_module.app]
    for index in range(1, count):
        spec = importlib.util.spec_from_file_location(f"app_instance_{index}", chalice_module.__file__)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        apps.append(module.app)
    return apps


def serve(host: str, port: int, settings: Settings, api_concurrency: int = 1) -> None:
    import app as chalice_module

    rest = RestGateway(app_instances(api_concurrency))
    websockets = LocalWebsocketApi(chalice_module.app, settings.stage)
    application = build_app(rest, websockets.routes(), gzip_min_bytes=settings.gzip_min_bytes)
    consumer = NotificationsConsumer(chalice_module.deliver_notifications, settings)
    asyncio.run(_serve(application, host, port, settings, consumer))


async def _dispatch_forever(interval: float) -> None:
    """The dispatcher tick that EventBridge drives each minute in AWS, here each ``interval``."""
    from chalicelib.services import dispatcher

    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        try:
            await loop.run_in_executor(None, dispatcher.tick)
        except Exception:
            logger.exception("dispatcher tick failed")
        await asyncio.sleep(max(0.0, interval - (loop.time() - started)))


async def _consume_notifications(consumer: NotificationsConsumer) -> None:
    """What Lambda's event source mapping does in AWS: the notifications queue → the handler.
    In a thread of its own, so a slow webhook receiver never holds the API or the ticks."""
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notifications")
    try:
        while True:
            try:
                await loop.run_in_executor(executor, consumer.poll_once)
            except Exception:
                logger.exception("notifications consumer failed; retrying in 1 s")
                await asyncio.sleep(1)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


async def _serve(
    application: web.Application, host: str, port: int, settings: Settings, consumer: NotificationsConsumer
) -> None:
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    logger.info("Slipway is up on http://%s:%d (Ctrl-C stops it)", "localhost" if host == "127.0.0.1" else host, port)
    ticker = asyncio.create_task(_dispatch_forever(settings.dispatch_interval_seconds))
    notifier = asyncio.create_task(_consume_notifications(consumer))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    logger.info("stopping")
    ticker.cancel()
    notifier.cancel()
    await runner.cleanup()
