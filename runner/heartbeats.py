"""The runner's sign of life on each execution it holds, and its watch over the other runners.

Every ``execution_heartbeat_seconds`` it writes ``heartbeat_at`` and bumps ``beats`` on each
execution it holds (a conditional update: still active and still on this host). A refused beat
means the execution is no longer this runner's (the reconciler gave it up while this runner was
silent, say a long pause or a network cut): its container is killed at once instead of running
on unaccounted for. Between beats it also runs the reconciler's ``reap``, as a reaper named by
its host, so a dead host's executions are ended within about a minute (watched on this runner's
own clock, never compared with the dead one's) even where the dispatcher ticks once a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from chalicelib.adapters import execution_repository
from chalicelib.services import liveness
from chalicelib.settings import Settings
from runner.execution import ExecutionRun

logger = logging.getLogger(__name__)


class ExecutionHeartbeats:
    def __init__(self, settings: Settings, held: Callable[[], list[ExecutionRun]]) -> None:
        self.settings = settings
        self._held = held
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="execution-heartbeat", daemon=True)
        self._next_reap = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()

    def _loop(self) -> None:
        while not self._done.wait(self.settings.execution_heartbeat_seconds):
            try:
                self.beat_once()
            except Exception:
                # Never the end of the thread: without it every held execution would go silent
                # and be reaped while its container runs on.
                logger.exception("a heartbeat round failed; the next one tries again")
            if time.monotonic() >= self._next_reap:
                self._next_reap = time.monotonic() + max(1.0, self.settings.execution_stale_seconds / 2)
                try:
                    liveness.reap(reaper=self.settings.runner_host)
                except Exception:
                    logger.exception("looking for silent runners failed")

    def beat_once(self) -> int:
        """One beat on every held execution; answers how many were refused."""
        refused = 0
        for run in self._held():
            execution = run.execution
            if execution is None or run.settled:
                continue
            try:
                held = execution_repository.beat(execution.job_id, execution.execution_id, self.settings.runner_host)
            except Exception:  # noqa: BLE001 - the next beat tries again
                logger.warning("could not record the heartbeat of execution %s", execution.execution_id)
                continue
            if not held and not run.settled:
                refused += 1
                run.abandon()
        return refused
