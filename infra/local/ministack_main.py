"""The local AWS emulator's process: MiniStack, served with a clean shutdown and checkpoints.

Run by ``infra.local.aws_emulator`` with the emulator's own interpreter (its virtualenv holds
MiniStack and the botocore it pins, apart from the service's), so this file imports nothing of
Slipway: only MiniStack and the standard library. Its settings come from the environment
``aws_emulator`` prepares (``GATEWAY_PORT``, ``PERSIST_STATE``, ``STATE_DIR``, ...), which
MiniStack reads at import.

What it adds to ``python -m ministack``:

- **A shutdown that saves.** MiniStack writes its state to ``STATE_DIR`` in its ASGI lifespan
  shutdown, but its own entry point exits from the SIGTERM handler without running it, so a
  stopped emulator would lose everything. Here SIGTERM and SIGINT end hypercorn gracefully and
  the lifespan shutdown (the save) runs.
- **Checkpoints.** Every ``SLIPWAY_EMULATOR_CHECKPOINT_SECONDS`` the same save runs on the
  event loop, between requests (MiniStack's handlers run on that one loop, so the state is
  consistent), so a crash (``kill -9``) loses at most that much.
- **Long polls that wake on a send.** MiniStack's ``ReceiveMessage`` looks at its queue every
  100 ms while it waits; a message sent meanwhile waits for the next look (50 ms on average).
  Here a send, a batch send or a visibility change wakes the waiting polls at once; the 100 ms
  looks remain for delayed messages becoming visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("slipway.emulator")


class _Wakeup:
    """An ``asyncio`` stand-in for MiniStack's SQS module whose ``sleep`` ends early on a send."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    def notify(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def sleep(self, delay: float, result: Any = None) -> Any:
        if self._event is None:
            self._event = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), delay)
        return result


def _install_sqs_wakeup() -> None:
    from ministack.services import sqs

    wakeup = _Wakeup()

    def waking(action: Callable[..., Any]) -> Callable[..., Any]:
        def act(*args: Any, **kwargs: Any) -> Any:
            try:
                return action(*args, **kwargs)
            finally:
                wakeup.notify()

        return act

    for name in ("_act_send_message", "_act_send_message_batch", "_act_change_visibility",
                 "_act_change_visibility_batch"):
        setattr(sqs, name, waking(getattr(sqs, name)))
    # The action table holds the functions themselves: point it at the wrapped ones.
    for action, function in list(sqs._HANDLERS.items()):
        wrapped = getattr(sqs, function.__name__, function)
        sqs._HANDLERS[action] = wrapped
    sqs.asyncio = wakeup  # the long-poll loop's ``asyncio.sleep``


async def _checkpoint_forever(every: float) -> None:
    from ministack.app import _build_persistence_save_dict
    from ministack.core.persistence import save_all

    while True:
        await asyncio.sleep(every)
        started = time.monotonic()
        save_all(_build_persistence_save_dict())
        logger.debug("checkpoint written in %.0f ms", (time.monotonic() - started) * 1000)


async def _serve() -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config
    from ministack.app import app

    config = Config()
    config.bind = [f"{os.environ.get('BIND_HOST', '127.0.0.1')}:{os.environ['GATEWAY_PORT']}"]
    config.keep_alive_timeout = 75
    config.graceful_timeout = 5
    config.loglevel = os.environ.get("LOG_LEVEL", "WARNING").upper()
    config.accesslog = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    tasks = []
    every = float(os.environ.get("SLIPWAY_EMULATOR_CHECKPOINT_SECONDS", "0") or 0)
    if every > 0 and os.environ.get("PERSIST_STATE") == "1":
        tasks.append(asyncio.create_task(_checkpoint_forever(every)))
    try:
        await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
    finally:
        for task in tasks:
            task.cancel()


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING").upper(), stream=sys.stderr)
    if os.environ.get("SLIPWAY_EMULATOR_SQS_WAKEUP", "1") == "1":
        _install_sqs_wakeup()
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
