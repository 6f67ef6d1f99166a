"""The runner's place in the farm: its host item, its circuit breaker and its concurrency slots.

A background thread beats every ``runner_heartbeat_seconds``: it writes the host item (pool,
circuit, running containers) and learns from the reply whether an operator blacklisted the
host, and it renews the leases of the pool/task slots the runner's executions hold. The loop
asks ``allowance()`` before each receive, and each execution asks ``admit()`` before its claim,
so a blacklisted host or an open circuit takes nothing new and hands back what it has not started.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.adapters import host_registry, slots
from chalicelib.adapters.job_queue import ExecutionMessage
from chalicelib.domain.clock import to_iso
from chalicelib.domain.hosts import CLOSED, HALF_OPEN, Beat, host_id
from chalicelib.domain.pools import pool_named
from chalicelib.settings import Settings
from runner.circuit import CircuitBreaker

logger = logging.getLogger(__name__)

# Docker's conventional TCP port, named in the host id of a runner on a local socket.
DOCKER_PORT = 2375


@dataclass
class Admission:
    """The answer of ``admit``: may the execution start here, and what it holds if so."""

    admitted: bool
    reason: str = ""
    # When refused: send the message again this many seconds later.
    retry_after: int = 0
    slot_keys: list[str] = field(default_factory=list)
    probe: bool = False
    engine_reported: bool = False


class FarmMember:
    # A Docker host fault before a run's container existed sends the run to another host.
    moves_runs_on_host_faults = True

    def __init__(self, settings: Settings, engine_port: int | None, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.pool = pool_named(settings.runner_pool, settings)
        self.port = settings.runner_port or engine_port or DOCKER_PORT
        self.host_id = host_id(settings.runner_host, self.port)
        self.circuit = CircuitBreaker(settings.circuit_failures, settings.circuit_reset_seconds, clock)
        self.blacklisted = False
        self._lock = threading.Lock()
        self._held: dict[str, list[str]] = {}
        self._running: dict[str, dict[str, Any]] = {}
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._beat_loop, name="farm-heartbeat", daemon=True)
        self._last_state = self.circuit.state
        self._left = False

    def running_count(self) -> int:
        """Containers of this host running now (its slots in use)."""
        with self._lock:
            return len(self._running)

    # -- heartbeats --------------------------------------------------------------------------

    def start(self) -> None:
        try:
            self.beat()
        except Exception:
            logger.exception("first heartbeat of %s failed; retrying in the background", self.host_id)
        self._thread.start()
        logger.info("host %s in pool %r", self.host_id, self.pool.name)

    def beat(self) -> None:
        with self._lock:
            running = list(self._running.values())
            held = {execution_id: list(keys) for execution_id, keys in self._held.items()}
        now = self.clock()
        state = self.circuit.state
        beat = Beat(
            host_id=self.host_id,
            host=self.settings.runner_host,
            port=self.port,
            pool=self.pool.name,
            circuit=state,
            circuit_opened_at=self.circuit.opened_at if state != CLOSED else None,
            error=self.circuit.last_error,
            running=running,
        )
        blacklisted = host_registry.heartbeat(beat, now)
        if blacklisted != self.blacklisted:
            logger.warning("host %s %s", self.host_id, "blacklisted: taking no new work" if blacklisted else "back")
        self.blacklisted = blacklisted
        until = now + self.settings.slot_lease_seconds
        for execution_id, keys in held.items():
            for key in keys:
                if not slots.renew(key, execution_id, until):
                    logger.warning("execution %s lost its slot %s (lease expired)", execution_id, key)

    def leave(self) -> None:
        """The runner's last act: no more heartbeats; the host is shown gone at once."""
        self._left = True
        try:
            host_registry.leave(self.host_id)
        except Exception:
            logger.exception("could not deregister %s; it shows unavailable once its heartbeat is stale", self.host_id)

    def _beat_loop(self) -> None:
        while True:
            self._wake.wait(self.settings.runner_heartbeat_seconds)
            self._wake.clear()
            if self._left:
                return
            try:
                self.beat()
            except Exception:
                logger.exception("heartbeat of %s failed", self.host_id)

    def _beat_soon(self, always: bool = False) -> None:
        """Beat now if the circuit changed state (or ``always``, for a failure: its error shows
        in /status/ at once). A success that changes nothing, every create, costs no write."""
        state = self.circuit.state
        if state != self._last_state:
            logger.warning("circuit of %s is %s (%s)", self.host_id, state, self.circuit.last_error)
            self._last_state = state
        elif not always:
            return
        self._wake.set()

    # -- admission ---------------------------------------------------------------------------

    def allowance(self) -> int | None:
        """Messages the loop may receive now: None = as many as it has room for, 0 = none."""
        if self.blacklisted:
            return 0
        allowance = self.circuit.allowance()
        if allowance is None and self._last_state != CLOSED:
            self._beat_soon()
        return allowance

    def admit(self, message: ExecutionMessage) -> Admission:
        """Whether ``message`` may start on this host now; takes its pool and task slots if so."""
        if self.blacklisted:
            return Admission(False, f"host {self.host_id} is blacklisted")
        if not self.circuit.admit():
            return Admission(False, f"the circuit of {self.host_id} is {self.circuit.state}")
        admission = Admission(True, probe=self.circuit.state == HALF_OPEN)
        now = self.clock()
        for prefix, limit, what in self._limits(message):
            key = slots.acquire(
                prefix, limit, message.execution_id, self.host_id, now, self.settings.slot_lease_seconds
            )
            if key is None:
                self._release_slots(message.execution_id, admission.slot_keys)
                if admission.probe:
                    self.circuit.probe_abandoned()
                reason = f"the {what} runs its maximum of {limit} at once"
                return Admission(False, reason, retry_after=self.settings.slot_retry_seconds)
            admission.slot_keys.append(key)
        with self._lock:
            self._held[message.execution_id] = admission.slot_keys
        return admission

    def hold(self, message: ExecutionMessage) -> Admission:
        """The slots of a run whose container already runs (re-attached after a restart): taken
        where free, its own unexpired lease included, and never refused; a limit already full
        is logged and the run goes on (stopping a running container would lose work)."""
        admission = Admission(True)
        now = self.clock()
        for prefix, limit, what in self._limits(message):
            key = slots.acquire(
                prefix, limit, message.execution_id, self.host_id, now, self.settings.slot_lease_seconds
            )
            if key is None:
                logger.warning(
                    "re-attached execution %s runs over the %s limit of %d", message.execution_id, what, limit
                )
            else:
                admission.slot_keys.append(key)
        with self._lock:
            self._held[message.execution_id] = admission.slot_keys
        return admission

    def _limits(self, message: ExecutionMessage) -> list[tuple[str, int, str]]:
        """(slot prefix, limit, what) of each limit that applies to ``message``'s run."""
        limits = [
            (slots.pool_slots(self.pool.name), self.pool.max_running, "pool"),
            (slots.task_slots(self.pool.name, message.task_id), self.pool.max_running_per_task, "task"),
        ]
        return [limit for limit in limits if limit[1]]

    def release(self, message: ExecutionMessage, admission: Admission) -> None:
        """The execution is over (or never started): free its slots and its place in /status/."""
        with self._lock:
            self._held.pop(message.execution_id, None)
            self._running.pop(message.execution_id, None)
        self._release_slots(message.execution_id, admission.slot_keys)
        if admission.probe and not admission.engine_reported:
            self.circuit.probe_abandoned()

    def _release_slots(self, execution_id: str, keys: list[str]) -> None:
        for key in keys:
            try:
                slots.release(key, execution_id)
            except Exception:
                logger.exception("could not release slot %s; its lease will expire", key)

    # -- what executions report --------------------------------------------------------------

    def engine_ok(self, admission: Admission) -> None:
        admission.engine_reported = True
        self.circuit.record_success()
        self._beat_soon()

    def engine_failed(self, admission: Admission, error: str) -> None:
        admission.engine_reported = True
        self.circuit.record_failure(error)
        self._beat_soon(always=True)

    def container_started(self, message: ExecutionMessage, container_id: str, started_at: datetime) -> None:
        with self._lock:
            self._running[message.execution_id] = {
                "executionId": message.execution_id,
                "jobId": message.job_id,
                "taskId": message.task_id,
                "containerId": container_id,
                "startedAt": to_iso(started_at),
            }
        # Shown in /status/ at the next heartbeat (within runner_heartbeat_seconds): an extra
        # write per container start would cost throughput for no one's benefit.
