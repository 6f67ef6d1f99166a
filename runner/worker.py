"""The runner's loop, shaped like rq's worker: check stop → receive → run → heartbeat.

Executions run on a bounded thread pool; the loop only asks SQS for as many messages as it has
free slots, so waiting work stays in the queue (where another runner may take it) instead of in
this process. A heartbeat thread keeps the messages of running executions invisible.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from chalicelib.adapters import control, job_queue, warm_up
from chalicelib.adapters.job_queue import Received
from chalicelib.adapters.models import ExecutionModel
from chalicelib.domain.clock import utcnow
from chalicelib.services import telemetry
from chalicelib.settings import Settings
from runner import metadata_probe, reattach
from runner.docker_engine import DockerEngine
from runner.drain import drain
from runner.execution import Disposition, ExecutionRun, OutputListener
from runner.farm import FarmMember
from runner.heartbeats import ExecutionHeartbeats
from runner.housekeeping import ContainerRemover
from runner.log_fanout import LogFanout
from runner.message_settler import MessageSettler
from runner.metrics_flush import MetricsFlusher
from runner.registry_auth import RegistryCredentials
from runner.stand_ins import NO_LIVE_LOGS, LiveLogs, no_output
from runner.start_gate import StartGate

logger = logging.getLogger(__name__)

# Back-off of the receive loop after a failure to reach SQS: doubles up to the cap.
_BACKOFF_START = 0.5
_BACKOFF_CAP = 30.0


class Runner:
    def __init__(
        self,
        settings: Settings,
        engine: DockerEngine | None = None,
        clock: Callable[[], datetime] = utcnow,
        on_output: OutputListener = no_output,
    ) -> None:
        self.settings = settings
        self.engine = engine or DockerEngine()
        self.engine.registry_auth = RegistryCredentials(settings)
        # Set by the start-up probe when the runner must not take work (runner/metadata_probe.py).
        self._refusal: metadata_probe.MetadataReachable | None = None
        self.clock = clock
        self.on_output = on_output
        # Live log tails, when a WebSocket API is configured to post them to (else a stand-in).
        self.live_logs: LiveLogs = LogFanout(settings) if settings.ws_management_url else NO_LIVE_LOGS
        # Runs in hand: the containers running, plus the ones prepared ahead of a free slot.
        in_hand = settings.runner_concurrency + max(0, settings.runner_prefetch)
        self._pool = ThreadPoolExecutor(max_workers=in_hand, thread_name_prefix="execution")
        self._in_flight: dict[str, Received] = {}
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(in_hand)
        self._stopping = threading.Event()
        # Closed with ``_stopping``: runs prepared ahead are handed back instead of started.
        self._start_gate = StartGate(settings.runner_concurrency, closed=self._stopping)
        self._heartbeat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        self._runs: dict[str, ExecutionRun] = {}
        self._control = threading.Thread(target=self._control_loop, name="control", daemon=True)
        self._control_url = ""
        # Self-healing and shutdown (runner/reattach.py, heartbeats.py, drain.py).
        self._execution_heartbeats = ExecutionHeartbeats(settings, self.held_runs)
        self._hurry = threading.Event()
        self._resumed: list[threading.Thread] = []
        self._remover = ContainerRemover(self.engine, retry_seconds=settings.runner_remove_retry_seconds)
        self._settler = MessageSettler()
        # Called after the drain, before the process exits (deregistration of the host).
        self.on_shutdown: list[Callable[[], None]] = []
        self.farm = FarmMember(settings, self.engine.port)
        self.on_shutdown.append(self.farm.leave)
        self._metrics = MetricsFlusher(settings.runner_host, settings.metrics_flush_seconds, self.farm.running_count)
        self.on_shutdown.append(self._metrics.stop)

    # -- lifecycle ---------------------------------------------------------------------------

    def work(self) -> None:
        """Run until ``stop()``; then let running executions finish (warm stop).

        Raises ``metadata_probe.MetadataReachable`` before receiving anything when job
        containers can reach the instance metadata endpoint and ``settings.metadata_probe``
        says ``refuse`` (after the teardown: re-attached runs are drained, the host leaves). The
        probe runs while the runner re-attaches to its containers, so a restart is not slower.
        """
        probe = threading.Thread(target=self._probe_metadata, name="metadata-probe", daemon=True)
        probe.start()
        warm_up.warm_up()
        self._heartbeat.start()
        self._control_url = control.ensure_queue(self.settings.runner_host)
        self._control.start()
        try:
            reattach.recover(self.settings, self.engine, self.resume, self.clock)
        except Exception:
            # What is left is not lost: the reconciler ends silent executions, `prune` the containers.
            logger.exception("recovering what a previous run of this runner left failed")
        self._execution_heartbeats.start()
        self.farm.start()
        self._metrics.start()
        backoff = _BACKOFF_START
        try:
            probe.join()
            if self._refusal is not None:
                raise self._refusal
            logger.info(
                "runner %s taking work (concurrency %d)", self.settings.runner_host, self.settings.runner_concurrency
            )
            while not self._stopping.is_set():
                try:
                    self.poll_once()
                    backoff = _BACKOFF_START
                except Exception:
                    logger.exception("receiving from the job queue failed; retrying in %.1f s", backoff)
                    self._stopping.wait(backoff)
                    backoff = min(backoff * 2, _BACKOFF_CAP)
        finally:
            self.teardown()

    def _probe_metadata(self) -> None:
        try:
            metadata_probe.check(self.engine, self.settings)
        except metadata_probe.MetadataReachable as refusal:
            self._refusal = refusal

    def stop(self) -> None:
        self._stopping.set()

    def hurry(self) -> None:
        """Stop now: hand running executions back to the queue instead of waiting for them."""
        self._stopping.set()
        self._hurry.set()

    def teardown(self) -> None:
        drain(self.busy, self.held_runs, self.settings.drain_seconds, self._hurry)
        self._pool.shutdown(wait=True)
        for thread in self._resumed:
            thread.join()
        self._remover.flush()
        self._settler.flush()
        self.live_logs.flush()
        self._execution_heartbeats.stop()
        for hook in self.on_shutdown:
            try:
                hook()
            except Exception:
                logger.exception("shutdown hook %r failed", hook)
        logger.info("runner %s stopped", self.settings.runner_host)

    def busy(self) -> bool:
        with self._lock:
            return bool(self._in_flight or self._runs)

    def held_runs(self) -> list[ExecutionRun]:
        with self._lock:
            return list(self._runs.values())

    def resume(self, execution: ExecutionModel, container_id: str) -> None:
        """Follow to its end a container a previous life of this runner started (re-attach)."""
        run = self._new_run(None)
        with self._lock:
            self._runs[execution.execution_id] = run
        holds_slot = self._slots.acquire(blocking=False)

        def follow() -> None:
            try:
                run.resume(execution, container_id)
            except Exception:
                logger.exception("re-attached execution %s not settled", execution.execution_id)
            finally:
                with self._lock:
                    self._runs.pop(execution.execution_id, None)
                if holds_slot:
                    self._slots.release()

        thread = threading.Thread(target=follow, name=f"resumed-{execution.execution_id}")
        self._resumed.append(thread)
        thread.start()

    # -- one iteration -----------------------------------------------------------------------

    def poll_once(self) -> int:
        """Receive what fits in the free slots and start it; answers how many were started."""
        allowance = self.farm.allowance()
        if allowance == 0:
            # Blacklisted or circuit open: take nothing new (running executions go on).
            self._stopping.wait(1)
            return 0
        while not self._slots.acquire(timeout=0.5):
            if self._stopping.is_set():
                return 0
        free = 1
        while free < min(10, allowance or 10) and self._slots.acquire(blocking=False):
            free += 1
        try:
            wait = 1 if self._stopping.is_set() else self.settings.runner_poll_seconds
            messages = job_queue.receive(free, wait, self.settings.runner_visibility_seconds)
        except BaseException:
            self._release(free)
            raise
        if self._stopping.is_set():
            # Stopped during the long poll: hand what arrived back at once.
            for received in messages:
                job_queue.extend_visibility(received.receipt_handle, 0)
            self._release(free)
            return 0
        self._release(free - len(messages))
        now = time.time()
        for received in messages:
            not_before = received.message.not_before_ms if received.message is not None else 0
            telemetry.message_received(received.sent_at, not_before, self.settings.schedule_lead_seconds, now)
            with self._lock:
                self._in_flight[received.receipt_handle] = received
            future = self._pool.submit(self._execute, received)
            future.add_done_callback(self._make_done(received))
        return len(messages)

    def _new_run(self, received: Received | None) -> ExecutionRun:
        """A run of this runner: from a received message, or (None) re-attached to a container."""
        run = ExecutionRun(
            received,
            self.engine,
            self.settings,
            clock=self.clock,
            on_output=self.on_output,
            farm=self.farm,
            live_logs=self.live_logs,
            start_gate=self._start_gate,
        )
        run.remove_later = self._remover.remove_later
        return run

    def _release(self, count: int) -> None:
        for _ in range(count):
            self._slots.release()

    def _execute(self, received: Received) -> Disposition:
        run = self._new_run(received)
        key = received.message.execution_id if received.message else received.message_id
        # Registered before the claim, so a stop arriving right after the claim finds the run.
        with self._lock:
            running = self._runs.get(key)
            if running is None:
                self._runs[key] = run
        if running is not None:
            return self._already_here(running, received)
        try:
            disposition = run.run()
        finally:
            with self._lock:
                self._runs.pop(key, None)
        if disposition.delete:
            self._settler.delete_later(received.receipt_handle)
        elif disposition.requeue_after is not None:
            job_queue.extend_visibility(received.receipt_handle, disposition.requeue_after)
        return disposition

    def _already_here(self, running: ExecutionRun, received: Received) -> Disposition:
        """A message for an execution this runner is running already."""
        if running.received is None:
            # The redelivered message of a re-attached run: the run's liveness is its heartbeat
            # now (and its container, should this runner restart again); the message is spent.
            job_queue.delete(received.receipt_handle)
            return Disposition(True, "re-attached here")
        # A duplicate delivery: the copy being run holds the message.
        return Disposition(False, "a duplicate of a run in progress here")

    def _make_done(self, received: Received) -> Callable[[Future[Disposition]], None]:
        def done(future: Future[Disposition]) -> None:
            with self._lock:
                self._in_flight.pop(received.receipt_handle, None)
            self._slots.release()
            error = future.exception()
            if error is not None:
                # Storage was unreachable: the message stays and comes back after its timeout.
                logger.error("execution message %s not settled: %r", received.message_id, error)
            else:
                logger.debug("message %s: %s", received.message_id, future.result().reason)

        return done

    # -- heartbeat ---------------------------------------------------------------------------

    def _heartbeat_loop(self) -> None:
        """Keep the messages of running executions invisible (a daemon: it dies with the process)."""
        interval = max(1.0, self.settings.runner_visibility_seconds / 3)
        while True:
            time.sleep(interval)
            with self._lock:
                handles = list(self._in_flight)
            for handle in handles:
                try:
                    job_queue.extend_visibility(handle, self.settings.runner_visibility_seconds)
                except Exception:  # noqa: BLE001 - retried at the next beat
                    logger.warning("could not extend the visibility of a running execution's message")

    # -- control channel ---------------------------------------------------------------------

    def _control_loop(self) -> None:
        """Take stop requests for the executions this runner holds."""
        while True:
            try:
                for request in control.receive(self._control_url, self.settings.runner_poll_seconds):
                    with self._lock:
                        run = self._runs.get(request.execution_id)
                    if run is not None:
                        logger.info("stopping execution %s on request", request.execution_id)
                        run.request_stop()
                    control.delete(self._control_url, request.receipt_handle)
            except Exception:
                logger.exception("reading the control queue failed")
                time.sleep(1)
