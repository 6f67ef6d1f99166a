"""Graceful shutdown: let running containers finish, up to a deadline; hand back the rest.

On the first SIGTERM the runner stops receiving, then waits here for its executions to end, for
at most ``drain_seconds``. Past the deadline (or at once on a second signal) every run still
going is handed back: its container is killed and removed and its execution reset to
``enqueued`` with its message visible again, so another runner runs it afresh. No execution is
lost; one handed back mid-run starts over from the beginning.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from runner.execution import ExecutionRun

logger = logging.getLogger(__name__)

# How often the drain looks whether the runner is idle (seconds).
_POLL = 0.2


def drain(
    busy: Callable[[], bool], held: Callable[[], list[ExecutionRun]], seconds: float, hurry: threading.Event
) -> list[str]:
    """Wait until not ``busy()``, at most ``seconds`` or until ``hurry`` is set; then hand back
    every run ``held()`` still has. Answers the ids of the executions handed back."""
    deadline = time.monotonic() + seconds
    if busy():
        logger.info("draining: waiting up to %.0f s for the running executions", seconds)
    while busy() and not hurry.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        hurry.wait(min(_POLL, left))
    runs = [run for run in held() if not run.settled]
    for run in runs:
        run.hand_back()
    if runs:
        logger.warning("drain deadline: handed %d execution(s) back to the queue", len(runs))
    return [run.key for run in runs]
