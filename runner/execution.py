"""Running one execution: claim → create → start → capture output → wait → store → clean up.

Every Docker fault ends the execution ``failed`` with the reason in ``error``; only a fault of
the service's own storage leaves the SQS message in place, so the run is never lost. Two
exceptions: a host fault before the container started hands the run back (it never began), and
an Engine lost while the container ran fails the run with the output read until then (its end
is unknown; it is retried when owed).

Once the container has ended, its outcome (the output to S3, then the final write) is tried
again with back-off for ``runner_record_deadline_seconds`` while the execution is still
heart-beaten and the container kept: a storage outage of that length costs a delay, not a run
ended by the reaper and run again. The container is removed only once the outcome is stored.
Past the deadline the run is handed back (it runs again: never lost, never failed for the
service's own fault) and its container is kept under another name (``…-unrecorded-<time>``),
so its output can still be read with ``docker logs`` until ``prune`` removes it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from chalicelib.adapters import execution_repository, job_repository, log_store
from chalicelib.adapters.job_queue import ExecutionMessage, Received, send_execution
from chalicelib.adapters.models import ExecutionModel, JobModel
from chalicelib.domain.backoff import Backoff
from chalicelib.domain.clock import utcnow
from chalicelib.domain.overrides import RunOverrides, apply_overrides
from chalicelib.domain.payload import JobSpec
from chalicelib.domain.sandbox import AppliedSandbox
from chalicelib.domain.scheduling import Overlap, overlap_decision
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import events, liveness
from chalicelib.services.ending import end_run
from chalicelib.services.stopping import request_stop
from chalicelib.settings import Settings
from runner import labels
from runner.docker_engine import CommandNotRunnable, ContainerSpec, DockerEngine, EngineError
from runner.farm import Admission
from runner.output import StreamCapture, combined_output, needs_combined_object
from runner.run_state import RunState, RunStateMachine
from runner.sandboxing import out_of_memory, sandbox_for, wait_watching
from runner.secret_refs import container_env
from runner.stand_ins import (
    NO_FARM,
    NO_GATE,
    NO_LIVE_LOGS,
    NO_VIEWERS,
    Farm,
    Gate,
    LiveLogs,
    Viewers,
    no_output,
)

logger = logging.getLogger(__name__)

# A message this early (seconds) for its instant is handed back instead of waited for.
_LONGEST_WAIT = 5.0
# Output readers that read nothing this long after the container ended are given up on.
_STALLED_READER_SECONDS = 30
# SQS keeps a message invisible 12 hours at most.
_MAX_VISIBILITY = 43_200
# Storage calls made alongside a run's own steps (the job read with the claim, the ``running``
# write while the container runs); shared by every run of the process.
_BOOKKEEPING = ThreadPoolExecutor(max_workers=8, thread_name_prefix="bookkeeping")

# Between two attempts at storing a run's outcome: 0.5 s, doubling, at most 15 s.
_RECORD_BACKOFF = Backoff(min_ms=500, factor=2.0, max_ms=15_000)

OutputListener = Callable[[ExecutionModel, str, bytes], None]


class OutcomeNotRecorded(Exception):
    """The run's outcome could not be stored within ``runner_record_deadline_seconds``."""


@dataclass(frozen=True)
class Disposition:
    """What to do with the SQS message once the run is over."""

    delete: bool
    reason: str
    # Hand the message back, invisible this many seconds (it came early for its instant).
    requeue_after: int | None = None


class ExecutionRun:
    """One execution on this runner: from a received message (``run``), or re-attached to the
    container a previous life of this runner started (``resume``, where ``received`` is None)."""

    def __init__(
        self,
        received: Received | None,
        engine: DockerEngine,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        on_output: OutputListener = no_output,
        farm: Farm = NO_FARM,
        live_logs: LiveLogs = NO_LIVE_LOGS,
        start_gate: Gate = NO_GATE,
    ) -> None:
        # Left out, each is a do-nothing stand-in (runner/stand_ins.py): nothing asks ``is None``.
        self.farm = farm
        self.start_gate = start_gate
        self._in_gate = False
        # What the farm granted the run (replaced by ``admit`` or ``hold`` before anything reports).
        self.admission = Admission(False, "not admitted yet")
        self.received = received
        self.live_logs = live_logs
        self._viewers: Viewers = NO_VIEWERS
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.on_output = on_output
        self.container_id: str | None = None
        self.execution: ExecutionModel | None = None
        self.job: JobModel | None = None
        self.spec: JobSpec | None = None
        # The sandbox its container runs in (runner/sandboxing.py); None for a re-attached run.
        self.applied_sandbox: AppliedSandbox | None = None
        # Where the run is (runner/run_state.py): its steps, and the stop, hand-back or abandon
        # that other threads interrupt it with.
        self._state = RunStateMachine()
        # Wakes every wait of the run: set by a stop request, a hand-back or an abandon.
        self._stop = threading.Event()
        self.not_before = 0.0
        # Removes a container once the outcome is stored: at once, unless the runner sets a
        # background remover.
        self.remove_later: Callable[[str], None] = self._remove_container_now
        # The ``running`` write, made while the container runs.
        self._running_recorded: Future[None] | None = None

    @property
    def state(self) -> RunState:
        return self._state.state

    @property
    def settled(self) -> bool:
        """The run's outcome is stored (or it was handed back or given up): heartbeats end."""
        return self._state.settled

    def request_stop(self) -> None:
        """Stop this run (from the control channel): kill its container if it has one."""
        self._state.move(RunState.STOPPING)
        self._interrupt()

    def hand_back(self) -> None:
        """Give this run up without an outcome (a drain past its deadline): its container is
        killed and removed and the execution goes back to the queue for another runner."""
        self._state.move(RunState.HANDING_BACK)
        self._interrupt()

    def abandon(self) -> None:
        """The execution is no longer this runner's (the reconciler ended it while this runner
        was silent): kill the container; the run's own ending will be refused."""
        logger.warning("execution %s was given up while this runner held it: killing its container", self.key)
        self._state.move(RunState.ABANDONED)
        self._interrupt()

    @property
    def key(self) -> str:
        if self.execution is not None:
            return self.execution.execution_id
        if self.received is not None:
            return self.received.message.execution_id if self.received.message else self.received.message_id
        return ""

    def _interrupt(self) -> None:
        self._stop.set()
        if self.container_id is not None:
            try:
                self.engine.kill(self.container_id)
            except EngineError:
                logger.exception("could not kill container %s", self.container_id)

    # -- the steps ---------------------------------------------------------------------------

    def run(self) -> Disposition:
        assert self.received is not None
        message = self.received.message
        if message is None:
            logger.error("dropping a message that is not an execution: %r", self.received.body[:200])
            return Disposition(True, "malformed message")
        early = message.not_before_ms / 1000 - self.clock().timestamp()
        if early > _LONGEST_WAIT:
            # Never hold a slot for long: the message comes back near its instant.
            return Disposition(False, f"{early:.0f} s early", requeue_after=min(int(early), _MAX_VISIBILITY))
        self.not_before = message.not_before_ms / 1000
        self.admission = admission = self.farm.admit(message)
        if not admission.admitted:
            return self._hand_back(message, admission.retry_after, admission.reason)
        try:
            return self._claim_and_run(message)
        finally:
            self.farm.release(message, admission)

    def _hand_back(self, message: ExecutionMessage, delay: int, reason: str) -> Disposition:
        """Send the message again (a fresh copy: its receive count does not near the DLQ's limit).

        The execution's dispatch instant moves with it, so the reconciler, seeing a message in
        flight, does not add copies of an execution that waits long for a slot.
        """
        send_execution(message, delay)
        waiting = ExecutionModel(message.job_id, message.execution_id)
        execution_repository.mark_redispatched(waiting, self.clock().timestamp() + delay)
        return Disposition(True, f"handed back: {reason}")

    def _claim_and_run(self, message: ExecutionMessage) -> Disposition:
        # The job is read while the claim is written: one round trip fewer before the container.
        job_read = _BOOKKEEPING.submit(job_repository.get_job, message.task_id, message.job_id)
        now = self.clock().timestamp()
        claim = execution_repository.claim(
            message.job_id,
            message.execution_id,
            self.settings.runner_host,
            self.engine.port,
            self.received.message_id,
            now=now,
            # Ahead of its instant: most likely made ``scheduled`` by the look-ahead.
            task_id=message.task_id if message.not_before_ms / 1000 > now else None,
        )
        if not claim.claimed:
            return self._not_claimed(claim.execution)
        self.execution = execution = claim.execution
        assert execution is not None
        self._state.move(RunState.CLAIMED)
        # Viewers may be waiting from before the start: they are served from the claim on,
        # and every claimed run ends by closing them with the final status.
        self._viewers = self.live_logs.open(execution.execution_id)
        try:
            disposition = self._run_claimed(execution, message, job_read)
        except BaseException:
            # A storage fault: the message stays and another attempt runs it; the viewers stay
            # connected for that attempt's runner to serve.
            self._viewers.abandon()
            raise
        if ExecutionStatus(execution.status).is_finished:
            self.live_logs.close_soon(self._viewers, execution.status, execution.exit_code)
        else:
            # Handed back (a host fault, a drain): the next runner serves the same viewers.
            self._viewers.abandon()
        return disposition

    def _run_claimed(
        self, execution: ExecutionModel, message: ExecutionMessage, job_read: Future[JobModel | None]
    ) -> Disposition:
        # A storage fault of the read is raised here, like the claim's: the message stays.
        self.job = job = job_read.result()
        if job is None:
            self._finish(ExecutionStatus.FAILED, error="the job was deleted before its execution started")
            return Disposition(True, "job gone")
        self.spec = spec = _as_run(job, execution)
        if spec.expiration is not None and self.clock().timestamp() > spec.expiration:
            self._finish(ExecutionStatus.EXPIRED, error=f"dequeued after the job's expiration ({spec.expiration})")
            return Disposition(True, "expired")
        if not self._apply_overlap_policy(execution, spec):
            return Disposition(True, "skipped")
        return self._contained(lambda: self._run_container(execution, spec), message)

    def resume(self, execution: ExecutionModel, container_id: str) -> Disposition:
        """Re-attach to a container a previous life of this runner started, and finish its run.

        Its output is read again from the container's start (``docker logs``), so nothing
        printed while no runner watched is lost; the timeout counts from the real start.
        """
        self.execution, self.container_id = execution, container_id
        self._state.move(RunState.STARTED)
        # Its container runs already: it counts against the runner's slots if one is free, and
        # against its pool's and task's limits; /status/ lists it.
        self._in_gate = self.start_gate.take()
        placed = ExecutionMessage(execution.task_id, execution.job_id, execution.execution_id)
        self.admission = self.farm.hold(placed)
        self.farm.container_started(placed, container_id, execution.started_at or self.clock())
        try:
            self.job = job = job_repository.get_job(execution.task_id, execution.job_id)
            if job is None:
                self._finish(ExecutionStatus.FAILED, error="the job was deleted while its execution ran")
                self._remove_container()
                return Disposition(True, "job gone")
            self.spec = spec = _as_run(job, execution)
            if execution.stop_requested:
                self._state.move(RunState.STOPPING)
            return self._contained(lambda: self._follow_resumed(execution, spec, container_id))
        finally:
            self._leave_start_gate()
            self.farm.release(placed, self.admission)

    def _follow_resumed(self, execution: ExecutionModel, spec: JobSpec, container_id: str) -> None:
        started_at = execution.started_at or self.engine.started(container_id) or self.clock()
        recorded_here = execution.status != ExecutionStatus.RUNNING.value
        if recorded_here:
            # Killed between the container's start and recording it: record it now (its start
            # event marked owed in the same write, as on the first start).
            execution_repository.update_execution(
                execution,
                status=ExecutionStatus.RUNNING.value,
                started_at=started_at,
                container_id=container_id,
                **events.start_marks(execution, spec, self.clock()),
            )
        if execution.start_event_pending or recorded_here:
            # The runner that started it died (or failed to publish) before the start was told:
            # the outbox's mark is still set, so it is told now (the consumer's idempotency drops
            # a copy of one that did go out; the dispatcher's tick would publish it otherwise).
            # It is counted only when recorded here: the first runner counted the start it wrote.
            events.execution_started(execution, spec, count=recorded_here)
        if self._state.stopping:
            self.engine.kill(container_id)
        self._follow(execution, spec, started_at)

    def _contained(self, body: Callable[[], None], message: ExecutionMessage | None = None) -> Disposition:
        """Run ``body`` (the container's part of the run), then always remove the container.

        A hand-back happens after the removal: the next runner makes a container of the same
        name. Once the outcome is stored, the removal may happen in the background. A Docker
        host fault before the container started (none made yet, or made but its start refused:
        the daemon went down meanwhile) sends the run to another host (or this one, healed)
        instead of failing it: the job never began.
        """
        host_fault = ""
        not_recorded = False
        try:
            body()
        except OutcomeNotRecorded as exc:
            logger.error("execution %s: %s; handing it back and keeping its container", self.key, exc)
            self._keep_container()
            not_recorded = True
        except EngineError as exc:
            if exc.host_fault and self.farm.moves_runs_on_host_faults:
                self.farm.engine_failed(self.admission, str(exc))
                if (
                    message is not None
                    and self._state.state in (RunState.CLAIMED, RunState.CREATED)
                    and self.execution is not None
                    and execution_repository.unclaim(self.execution, self.clock())
                ):
                    host_fault = str(exc)
            if not self._state.handing_back and not host_fault:
                exit_code = exc.exit_code if isinstance(exc, CommandNotRunnable) else None
                self._finish(ExecutionStatus.FAILED, error=str(exc), exit_code=exit_code)
        finally:
            if self.settled and self.container_id is not None:
                self.remove_later(self.container_id)
            else:
                self._remove_container()
        if host_fault and message is not None:
            return self._hand_back(message, 0, f"Docker host fault: {host_fault}")
        if not_recorded:
            return self._give_back()
        state = self._state.state
        if state is RunState.ABANDONED:
            self._state.move(RunState.SETTLED)
            return Disposition(True, "given up by the reconciler")
        if state is RunState.HANDING_BACK:
            return self._give_back()
        return Disposition(True, "finished")

    def _give_back(self) -> Disposition:
        execution = self.execution
        assert execution is not None
        self._state.move(RunState.SETTLED)
        if self.received is None:
            # A re-attached run has no message of its own: a new one is sent.
            given = liveness.give_back(execution, self.settings.runner_host, self.clock())
            return Disposition(True, "handed back" if given else "ended elsewhere")
        if not execution_repository.hand_back(execution, self.settings.runner_host, self.clock()):
            return Disposition(True, "ended elsewhere")
        logger.info("execution %s handed back to the queue", execution.execution_id)
        # Visible again at once, for another runner.
        return Disposition(False, "handed back", requeue_after=0)

    def _apply_overlap_policy(self, execution: ExecutionModel, spec: JobSpec) -> bool:
        """forbid / replace, decided now that the run starts; False when this run is skipped."""
        if spec.cron is None or spec.concurrencyPolicy == "allow":
            return True
        others = [
            other
            for other in execution_repository.unfinished_executions(execution.task_id, execution.job_id)
            if other.execution_id != execution.execution_id and ExecutionStatus(other.status).is_active
        ]
        decision = overlap_decision(spec, bool(others))
        if decision is Overlap.SKIP:
            reason = "an earlier run of the job is still active (concurrencyPolicy forbid)"
            owed = events.end_marks(execution, ExecutionStatus.STOPPED.value, spec, self.clock())
            if execution_repository.record_skipped_tick(execution, self.clock(), reason, owed):
                events.execution_ended(execution, ExecutionStatus.STOPPED.value, spec)
            return False
        if decision is Overlap.REPLACE:
            for other in others:
                request_stop(other, self.clock())
        return True

    def _wait_until(self, instant: float) -> None:
        """SQS delays by whole seconds; the rest of the wait for a scheduled run happens here."""
        remaining = instant - self.clock().timestamp()
        if remaining > 0:
            self._stop.wait(remaining)

    def _not_claimed(self, execution: ExecutionModel | None) -> Disposition:
        if execution is None:
            return Disposition(True, "execution does not exist")
        status = ExecutionStatus(execution.status)
        if status.is_finished:
            return Disposition(True, f"execution already {status.value}")
        # Another runner holds it (a duplicate delivery). Keep the message: should that runner
        # die, the message comes back and the reconciler decides.
        return Disposition(False, f"execution is {status.value} on {execution.host}")

    def _run_container(self, execution: ExecutionModel, spec: JobSpec) -> None:
        if self._state.handing_back:
            return
        self.applied_sandbox = sandbox_for(spec, self.settings)
        container_spec = ContainerSpec(
            image=spec.image,
            argv=spec.argv,
            env=container_env(spec.envs, self.settings.visible_env_names),
            labels=labels.for_execution(self.settings, execution),
            name=labels.container_name(self.settings, execution.execution_id),
            sandbox=self.applied_sandbox,
        )
        self.container_id = self.engine.create(container_spec)
        self._state.move(RunState.CREATED)
        self.farm.engine_ok(self.admission)
        # Claimed and created ahead of a scheduled instant: only the start waits for it, so
        # Docker's create time is not part of the schedule's skew. A stop ends the wait early.
        self._wait_until(self.not_before)
        if self._state.handing_back:
            return
        if self._state.stopping:
            self._finish(ExecutionStatus.STOPPED, error="stopped before it started")
            return
        try:
            if not self._enter_start_gate():
                return
            self.engine.start(self.container_id)
            self._state.move(RunState.STARTED)
            self._start_and_follow(execution, spec)
        finally:
            self._leave_start_gate()

    def _enter_start_gate(self) -> bool:
        """Wait for one of the runner's container slots; False when the run ends instead (a
        stop request, or the runner stopping: then the run is handed back, never started)."""
        self._in_gate = self.start_gate.enter(self._stop)
        if self._in_gate:
            return True
        if self._state.stopping:
            self._finish(ExecutionStatus.STOPPED, error="stopped before it started")
        elif self._state.move(RunState.HANDING_BACK, only_from=RunState.CREATED):
            logger.info("runner stopping: execution %s handed back before its start", self.key)
        return False

    def _leave_start_gate(self) -> None:
        """The container has exited (or never started): its slot goes to the next run at once,
        while this one stores its outcome."""
        if self._in_gate:
            self._in_gate = False
            self.start_gate.leave()

    def _start_and_follow(self, execution: ExecutionModel, spec: JobSpec) -> None:
        assert self.container_id is not None and self.received is not None
        started_at = self.clock()
        if self.received.message is not None:
            self.farm.container_started(self.received.message, self.container_id, started_at)
        # Recorded while the container runs, not before following it: a short run's output is
        # read sooner. Everything that ends the run waits for this write first.
        self._running_recorded = _BOOKKEEPING.submit(self._record_running, execution, spec, started_at)
        self._follow(execution, spec, started_at)

    def _record_running(self, execution: ExecutionModel, spec: JobSpec, started_at: datetime) -> None:
        assert self.container_id is not None
        # The start and its owed ``started`` event in one write (the outbox); the publish after
        # it clears the mark, and a runner re-attached after a restart, or the dispatcher's tick,
        # publishes it when this one died or failed before that.
        execution_repository.update_execution(
            execution,
            status=ExecutionStatus.RUNNING.value,
            started_at=started_at,
            container_id=self.container_id,
            **events.start_marks(execution, spec, started_at),
            sandbox=self.applied_sandbox.view() if self.applied_sandbox is not None else None,
        )
        events.execution_started(execution, spec)

    def _await_running_recorded(self) -> None:
        """Wait for the ``running`` write; a storage fault of it is raised here (the message stays)."""
        if self._running_recorded is not None:
            recorded, self._running_recorded = self._running_recorded, None
            recorded.result()

    def _follow(self, execution: ExecutionModel, spec: JobSpec, started_at: datetime) -> None:
        """Capture the running container's output, wait for its end (or timeout) and store it."""
        assert self.container_id is not None
        stdout = StreamCapture(self.settings.inline_output_bytes)
        stderr = StreamCapture(self.settings.inline_output_bytes)
        readers = [
            threading.Thread(
                target=self._pump, args=(name, capture), name=f"{name}-{execution.execution_id}", daemon=True
            )
            for name, capture in (("stdout", stdout), ("stderr", stderr))
        ]
        for reader in readers:
            reader.start()
        try:
            timeout = min(spec.timeout or self.settings.hard_timeout_seconds, self.settings.hard_timeout_seconds)
            # Counted from the container's real start (earlier than now for a re-attached run).
            left = max(0.5, timeout - (self.clock() - started_at).total_seconds())
            engine_lost = ""
            sandbox_killed: str | None = None
            try:
                exit_code, sandbox_killed = wait_watching(
                    self.engine, self.container_id, left, self.applied_sandbox, self.settings.sandbox_pids_watch_seconds
                )
            except EngineError as exc:
                # The Docker Engine went away while the container ran (dockerd crashed, or the
                # connection to it broke): its end is unknown. The run fails as the host's fault
                # (retried when owed) with the output read so far, instead of losing that too.
                exit_code, engine_lost = None, str(exc)
                self.farm.engine_failed(self.admission, engine_lost)
            if exit_code is None and not engine_lost:
                self.engine.kill(self.container_id)
                self.engine.wait(self.container_id, 30)
            self._leave_start_gate()
            _join_while_busy(readers, (stdout, stderr))
            if not engine_lost and not any(reader.is_alive() for reader in readers):
                self._read_the_rest((("stdout", stdout), ("stderr", stderr)))
            # Before the output's keys are set on the execution, which the write's reply refreshes.
            self._await_running_recorded()
            if self._state.leaves_without_outcome:
                return
            # The outcome is decided once: a stop requested while it is being stored changes nothing.
            if self._state.stopping:
                status, error = ExecutionStatus.STOPPED, _join(stderr.tail_text(), "stopped on request")
            elif engine_lost:
                status = ExecutionStatus.FAILED
                error = _join(stderr.tail_text(), f"the Docker Engine was lost while the container ran: {engine_lost}")
            elif exit_code is None:
                status, exit_code = ExecutionStatus.TIMEDOUT, 137
                error = _join(stderr.tail_text(), f"killed after the {timeout} s timeout")
            elif sandbox_killed:
                status, error = ExecutionStatus.FAILED, _join(stderr.tail_text(), sandbox_killed)
            elif exit_code != 0 and self._oom_killed():
                status, error = ExecutionStatus.FAILED, _join(stderr.tail_text(), out_of_memory(self.applied_sandbox))
            else:
                status = ExecutionStatus.DONE if exit_code == 0 else ExecutionStatus.FAILED
                error = stderr.tail_text()
            finished_at = self.clock()

            def record() -> None:
                self._store_output(execution, stdout, stderr)
                self._finish(
                    status, error=error, exit_code=exit_code, stdout=stdout, stderr=stderr, finished_at=finished_at
                )

            self._record_outcome(record)
        finally:
            stdout.close()
            stderr.close()

    def _oom_killed(self) -> bool:
        """Did the kernel kill the container for its memory limit? (Unknown reads as no.)"""
        assert self.container_id is not None
        try:
            return self.engine.exit_state(self.container_id).oom_killed
        except EngineError:
            logger.warning("could not tell whether container %s ran out of memory", self.container_id)
            return False

    def _record_outcome(self, record: Callable[[], None]) -> None:
        """``record`` until it succeeds, with back-off, for ``runner_record_deadline_seconds``.

        The run stays held meanwhile (heartbeats go on, the container stays); it stops trying
        once the end has landed (a step after it failed: a lost retry message is sent again by
        the reconciler) or the run no longer holds the execution (handed back, abandoned).
        """
        deadline = time.monotonic() + self.settings.runner_record_deadline_seconds
        attempt = 0
        while True:
            try:
                record()
                return
            except Exception as exc:
                attempt += 1
                if self.settled:
                    logger.exception("execution %s ended, but a step after its end failed", self.key)
                    return
                if self._state.leaves_without_outcome:
                    logger.warning("execution %s given up while its outcome was being stored: %s", self.key, exc)
                    return
                wait = min(_RECORD_BACKOFF.delay_ms(attempt) / 1000, deadline - time.monotonic())
                if wait <= 0:
                    raise OutcomeNotRecorded(
                        f"its outcome could not be stored in {self.settings.runner_record_deadline_seconds} s"
                        f" ({attempt} attempts; the last: {exc})"
                    ) from exc
                logger.warning(
                    "could not store the outcome of execution %s (attempt %d: %s); trying again in %.1f s",
                    self.key,
                    attempt,
                    exc,
                    wait,
                )
                time.sleep(wait)

    def _pump(self, stream: str, capture: StreamCapture) -> None:
        assert self.container_id is not None
        try:
            for chunk in self.engine.output(self.container_id, stream):
                capture.write(chunk)
                self._notify(stream, chunk)
        except EngineError:
            logger.exception("output of %s was cut", self.container_id)

    def _read_the_rest(self, captures: tuple[tuple[str, StreamCapture], ...]) -> None:
        """Make each stream's capture the whole log of the ended container: on a busy host
        ``logs --follow`` can stop at the exit while it still lags behind the log (the last tens
        of KiB of a stream missing), and a stored 7 MiB log once came out 4 KiB short. A read
        without follow of the ended container is Docker's own copy, whole; it replaces
        the follower's when it is at least as long (a shorter one means Docker's log cap rotated
        part of it away: the follower's copy is the better one then), and what the follower
        never delivered goes to the live viewers too. Outputs over ``output_recheck_max_bytes``
        are not read twice (that read would cost as long as the run's own)."""
        assert self.container_id is not None
        for stream, capture in captures:
            if capture.size > self.settings.output_recheck_max_bytes:
                continue
            whole = StreamCapture(self.settings.inline_output_bytes)
            try:
                for chunk in self.engine.output_after(self.container_id, stream, 0):
                    offset = whole.size
                    whole.write(chunk)
                    if whole.size > capture.size:
                        self._notify(stream, chunk[max(0, capture.size - offset) :])
            except EngineError:
                whole.close()
                logger.warning("could not check that the %s of %s was read whole", stream, self.container_id)
                continue
            if whole.size < capture.size:
                whole.close()
                continue
            if whole.size > capture.size:
                logger.info(
                    "the %s of %s was %d bytes short after the follow; stored whole from the ended container",
                    stream,
                    self.container_id,
                    whole.size - capture.size,
                )
            capture.adopt(whole)

    def _notify(self, stream: str, chunk: bytes) -> None:
        self._viewers.feed(stream, chunk)
        if self.execution is not None:
            try:
                self.on_output(self.execution, stream, chunk)
            except Exception:
                logger.exception("output listener failed")

    def _store_output(self, execution: ExecutionModel, stdout: StreamCapture, stderr: StreamCapture) -> None:
        # Both streams at once: the run's end is readable one upload sooner. ``result()``
        # re-raises a failed upload, so the message stays and the run's output is not lost.
        # An empty stream has no object (and no key): there is nothing to keep.
        streams = [(name, capture) for name, capture in (("stdout", stdout), ("stderr", stderr)) if capture.size]
        for name, _ in streams:
            key = log_store.object_key(execution.task_id, execution.job_id, execution.execution_id, name)
            setattr(execution, f"{name}_key", key)
        if len(streams) == 1:
            name, capture = streams[0]
            log_store.upload(getattr(execution, f"{name}_key"), capture.rewound())
        elif streams:
            with ThreadPoolExecutor(max_workers=2) as pool:
                uploads = [
                    pool.submit(log_store.upload, getattr(execution, f"{name}_key"), capture.rewound())
                    for name, capture in streams
                ]
                for upload in uploads:
                    upload.result()
        if needs_combined_object(stdout, stderr, self.settings.max_response_body_bytes):
            # ``logs/`` of this run could not be answered inline: one object more to redirect to,
            # read from the same captures once their own uploads are done.
            key = log_store.object_key(execution.task_id, execution.job_id, execution.execution_id, "logs")
            execution.logs_key = key
            log_store.upload(key, combined_output(stdout, stderr))

    def _finish(
        self,
        status: ExecutionStatus,
        error: str = "",
        exit_code: int | None = None,
        stdout: StreamCapture | None = None,
        stderr: StreamCapture | None = None,
        finished_at: datetime | None = None,
    ) -> None:
        self._await_running_recorded()
        execution = self.execution
        assert execution is not None
        values: dict[str, object] = {
            "finished_at": finished_at or self.clock(),
            "exit_code": exit_code,
            "error": error[-self.settings.inline_output_bytes :] if error else None,
        }
        if stdout is not None and stderr is not None:
            values.update(
                log=stdout.tail_text() or None,
                log_truncated=stdout.truncated,
                error_truncated=stderr.truncated,
                stdout_bytes=stdout.size,
                stderr_bytes=stderr.size,
                stdout_key=execution.stdout_key,
                stderr_key=execution.stderr_key,
                logs_key=execution.logs_key,
            )
        ended = end_run(execution, status, values, self.job, self.spec, self.clock(), settle=self._settle)
        if not ended.ended:
            logger.warning("execution %s changed state before it could be ended %s", execution.execution_id, status)
            return
        logger.info(
            "execution %s %s",
            execution.execution_id,
            status.value,
            extra={"exit_code": exit_code, "job_id": execution.job_id, "task_id": execution.task_id},
        )

    def _settle(self) -> None:
        self._state.move(RunState.SETTLED)

    def _keep_container(self) -> None:
        """Keep the ended container (its output in Docker's log) under another name: the run's
        next attempt makes a container of the run's own name."""
        if self.container_id is None or self.execution is None:
            return
        name = labels.container_name(self.settings, self.execution.execution_id)
        kept = f"{name}-unrecorded-{int(time.time())}"
        try:
            self.engine.rename(self.container_id, kept)
        except EngineError:
            logger.exception("could not keep container %s as %s; it is removed", self.container_id, kept)
            return
        logger.warning("container %s kept as %s: its output is in `docker logs %s`", self.container_id, kept, kept)
        self.container_id = None

    def _remove_container(self) -> None:
        if self.container_id is not None:
            self._remove_container_now(self.container_id)

    def _remove_container_now(self, container_id: str) -> None:
        try:
            self.engine.remove(container_id)
        except EngineError as exc:
            if self.remove_later != self._remove_container_now:
                # The runner's remover tries again (the Docker Engine may be restarting): the
                # run's next attempt needs the container's name.
                logger.warning("could not remove container %s (%s); trying again in the background", container_id, exc)
                self.remove_later(container_id)
                return
            logger.exception("could not remove container %s; `python -m runner prune` will", container_id)


def _join_while_busy(readers: list[threading.Thread], captures: tuple[StreamCapture, ...]) -> None:
    """Wait for the output readers as long as they make progress: a big output (or a re-attached
    run's whole replay) can take longer than any fixed bound on a busy host. Only readers that
    read nothing for ``_STALLED_READER_SECONDS`` are given up on."""
    seen = -1
    quiet_since = time.monotonic()
    while any(reader.is_alive() for reader in readers):
        size = sum(capture.size for capture in captures)
        if size != seen:
            seen, quiet_since = size, time.monotonic()
        elif time.monotonic() - quiet_since > _STALLED_READER_SECONDS:
            logger.error("output readers stalled for %d s; storing what they read", _STALLED_READER_SECONDS)
            return
        for reader in readers:
            reader.join(timeout=0.5)


def _join(*parts: str) -> str:
    return "\n".join(part for part in parts if part)


def _as_run(job: JobModel, execution: ExecutionModel) -> JobSpec:
    """The job's definition as this execution runs it: with its run-now overrides, if any."""
    return apply_overrides(JobSpec.from_dict(job.spec), RunOverrides.from_dict(execution.overrides))
