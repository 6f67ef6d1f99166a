"""Removing containers once their results are stored, off the executions' critical path.

A finished run hands its container here and frees its slot at once; the removal (tens of
milliseconds of Docker work per container) overlaps the next run instead of delaying it. A
removal that fails (the Docker Engine restarting) is tried again with back-off for
``runner_remove_retry_seconds``: a run handed back needs its container's name free for its next
attempt. The runner waits for pending removals before it exits (retries then stop); should it
die first, the containers belong to finished executions, which a restart (``reattach``) or
``python -m runner prune`` removes.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from chalicelib.domain.backoff import Backoff
from runner.docker_engine import DockerEngine, EngineError

logger = logging.getLogger(__name__)

# Between two attempts at one removal: 0.2 s, doubling, at most 2 s (the Engine is back soon).
_RETRY_BACKOFF = Backoff(min_ms=200, factor=2.0, max_ms=2_000)


class ContainerRemover:
    def __init__(self, engine: DockerEngine, workers: int = 2, retry_seconds: float = 300) -> None:
        self.engine = engine
        self.retry_seconds = retry_seconds
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="remover")
        self._closing = threading.Event()

    def remove_later(self, container_id: str) -> None:
        self._pool.submit(self._remove, container_id)

    def flush(self) -> None:
        """Wait for every pending removal (at shutdown); failed ones are not tried again."""
        self._closing.set()
        self._pool.shutdown(wait=True)

    def _remove(self, container_id: str) -> None:
        deadline = time.monotonic() + self.retry_seconds
        attempt = 0
        while True:
            try:
                self.engine.remove(container_id)
                if attempt:
                    logger.info("container %s removed at attempt %d", container_id, attempt + 1)
                return
            except EngineError as exc:
                attempt += 1
                wait = min(_RETRY_BACKOFF.delay_ms(attempt) / 1000, deadline - time.monotonic())
                if wait <= 0 or self._closing.is_set():
                    logger.exception("could not remove container %s; `python -m runner prune` will", container_id)
                    return
                logger.warning("could not remove container %s (%s); trying again in %.1f s", container_id, exc, wait)
                self._closing.wait(wait)
