"""The sandbox of one run, as this runner's pool gives it, and what the sandbox says about a
run's end (killed for memory, stuck at its process limit).

The API checked the job against its pool when it was submitted; the runner checks again, since
the pools' settings may have changed since (or the job came some other way): a job its pool no
longer allows fails with the reason instead of running unconfined.
"""

from __future__ import annotations

import logging
import threading

from chalicelib.domain.errors import ValidationError
from chalicelib.domain.payload import JobSpec
from chalicelib.domain.pools import pool_named, sandbox_of
from chalicelib.domain.registries import refuse_unlisted
from chalicelib.domain.sandbox import AppliedSandbox, format_memory
from chalicelib.settings import Settings
from runner.docker_engine import DockerEngine, EngineError

logger = logging.getLogger(__name__)


def sandbox_for(spec: JobSpec, settings: Settings) -> AppliedSandbox:
    """The sandbox of ``spec``'s container in this runner's pool; an EngineError (the job's
    fault) when the pool does not allow its image's registry or its ``resources``."""
    pool = pool_named(settings.runner_pool, settings)
    try:
        refuse_unlisted(spec.image, pool.registries, pool.name)
        return sandbox_of(pool, settings).apply(spec.resources)
    except ValidationError as exc:
        raise EngineError(f"refused by pool {pool.name!r}: {exc.message}", host_fault=False) from exc


def out_of_memory(applied: AppliedSandbox | None) -> str:
    limit = f" of {format_memory(applied.limits.memory_bytes)}" if applied is not None else ""
    return (
        f"killed: out of memory (the container reached its memory limit{limit}; "
        "ask for more with resources.memory, within the pool's ceiling)"
    )


def at_process_limit(processes: tuple[int, int | None] | None, applied: AppliedSandbox | None) -> str | None:
    """The reason to give when a container was found at its pids limit (None: it was not)."""
    if processes is None:
        return None
    current, limit = processes
    limit = limit or (applied.limits.pids if applied is not None else None)
    if limit is None or current < limit:
        return None
    return (
        f"the container reached its limit of {limit} processes (pids) and was killed: "
        "a fork bomb, or a job that needs a higher resources.pids within the pool's ceiling"
    )


# A container found at its pids limit this many times in a row is killed as a fork bomb.
_STRIKES = 2


class _PidsWatch:
    """A thread that looks every ``interval`` seconds whether a running container sits at its
    pids limit, and kills one found there ``_STRIKES`` times in a row (``reason`` says so).

    Apart from the run's own wait, so that a slow ``stats`` call (a second or two on a busy
    host) never delays noticing the container's end.
    """

    def __init__(
        self, engine: DockerEngine, container_id: str, applied: AppliedSandbox | None, interval: float
    ) -> None:
        self.reason: str | None = None
        self._engine, self._container_id, self._applied, self._interval = engine, container_id, applied, interval
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"pids-{container_id[:12]}", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        strikes = 0
        while not self._ended.wait(self._interval):
            reason = at_process_limit(self._engine.processes(self._container_id), self._applied)
            strikes = strikes + 1 if reason else 0
            if reason and strikes >= _STRIKES and not self._ended.is_set():
                self.reason = reason
                try:
                    self._engine.kill(self._container_id)
                except EngineError:
                    logger.exception("could not kill container %s at its process limit", self._container_id)
                return

    def end(self) -> str | None:
        self._ended.set()
        self._thread.join(timeout=5)
        return self.reason


def wait_watching(
    engine: DockerEngine, container_id: str, timeout: float, applied: AppliedSandbox | None, interval: float
) -> tuple[int | None, str | None]:
    """Wait for the container's end like ``engine.wait``, while a watch (every ``interval``
    seconds; 0: none) kills it should it sit at its process limit: a legitimate job may touch
    its limit for a moment, a fork bomb stays there, so only a second look in a row kills it.

    Answers the exit code (None: still running after ``timeout``) and, when the watch killed
    it, the reason.
    """
    if interval <= 0:
        return engine.wait(container_id, timeout), None
    watch = _PidsWatch(engine, container_id, applied, interval)
    try:
        exit_code = engine.wait(container_id, timeout)
    finally:
        reason = watch.end()
    return exit_code, reason
