"""The runner's metrics, written every ``metrics_flush_seconds``: what its runs recorded
(starts, ends, queue age, dispatch delay) and, each time, its slots in use.

A Lambda flushes when its handler returns; a runner never returns, so a thread does it, and
once more when the runner stops, so nothing recorded is left in the buffer. Where a flush goes is
``metrics_sink``'s choice (in AWS the stack gives runners ``cloudwatch``: ``PutMetricData``, with
what a flush could not send kept for the next one); a flush never raises into the runner.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from chalicelib.services import telemetry

logger = logging.getLogger(__name__)


class MetricsFlusher:
    def __init__(self, host: str, interval: float, slots_in_use: Callable[[], int]) -> None:
        self.host = host
        self.interval = max(0.1, interval)
        self.slots_in_use = slots_in_use
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="metrics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def flush(self) -> int:
        telemetry.runner_slots_in_use(self.host, self.slots_in_use())
        return telemetry.flush()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:
                logger.exception("writing the runner's metrics failed")
