"""Removing containers once their results are stored, off the executions' critical path.

A finished run hands its container here and frees its slot at once; the removal (tens of
milliseconds of Docker work per container) overlaps the next run instead of delaying it. The
runner waits for pending removals before it exits; should it die first, the containers belong
to finished executions, which a restart (``reattach``) or ``python -m runner prune`` removes.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from runner.docker_engine import DockerEngine, EngineError

logger = logging.getLogger(__name__)


class ContainerRemover:
    def __init__(self, engine: DockerEngine, workers: int = 2) -> None:
        self.engine = engine
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="remover")

    def remove_later(self, container_id: str) -> None:
        self._pool.submit(self._remove, container_id)

    def flush(self) -> None:
        """Wait for every pending removal (at shutdown)."""
        self._pool.shutdown(wait=True)

    def _remove(self, container_id: str) -> None:
        try:
            self.engine.remove(container_id)
        except EngineError:
            logger.exception("could not remove container %s; `python -m runner prune` will", container_id)
