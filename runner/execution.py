"""Running one execution: claim → create → start → capture output → wait → store → clean up.

Every Docker fault ends the execution ``failed`` with the reason in ``error``; only a fault of
the service's own storage leaves the SQS message in place, so the run is never lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from chalicelib import log_store, notifications, store
from chalicelib.clock import utcnow
from chalicelib.executions import send
from chalicelib.job_queue import Received
from chalicelib.models import ExecutionModel, JobModel
from chalicelib.payload import JobSpec
from chalicelib.retries import plan_retry
from chalicelib.scheduling import Overlap, overlap_decision
from chalicelib.settings import Settings
from chalicelib.statuses import ExecutionStatus
from chalicelib.stopping import request_stop
from runner.docker_engine import CommandNotRunnable, ContainerSpec, DockerEngine, EngineError
from runner.output import StreamCapture

logger = logging.getLogger(__name__)

# A message this early (seconds) for its instant is handed back instead of waited for.
_LONGEST_WAIT = 5.0
# SQS keeps a message invisible 12 hours at most.
_MAX_VISIBILITY = 43_200

OutputListener = Callable[[ExecutionModel, str, bytes], None]


@dataclass(frozen=True)
class Disposition:
    """What to do with the SQS message once the run is over."""

    delete: bool
    reason: str
    # Hand the message back, invisible this many seconds (it came early for its instant).
    requeue_after: int | None = None


class ExecutionRun:
    def __init__(
        self,
        received: Received,
        engine: DockerEngine,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        on_output: OutputListener | None = None,
    ) -> None:
        self.received = received
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.on_output = on_output
        self.container_id: str | None = None
        self.execution: ExecutionModel | None = None
        self.job: JobModel | None = None
        self.spec: JobSpec | None = None
        self._stop = threading.Event()
        self.not_before = 0.0

    def request_stop(self) -> None:
        """Stop this run (from the control channel): kill its container if it has one."""
        self._stop.set()
        if self.container_id is not None:
            try:
                self.engine.kill(self.container_id)
            except EngineError:
                logger.exception("could not kill container %s", self.container_id)

    # -- the steps ---------------------------------------------------------------------------

    def run(self) -> Disposition:
        message = self.received.message
        if message is None:
            logger.error("dropping a message that is not an execution: %r", self.received.body[:200])
            return Disposition(True, "malformed message")
        early = message.not_before_ms / 1000 - self.clock().timestamp()
        if early > _LONGEST_WAIT:
            # Never hold a slot for long: the message comes back near its instant.
            return Disposition(False, f"{early:.0f} s early", requeue_after=min(int(early), _MAX_VISIBILITY))
        self.not_before = message.not_before_ms / 1000
        claim = store.claim(
            message.job_id, message.execution_id, self.settings.runner_host, self.engine.port, self.received.message_id
        )
        if not claim.claimed:
            return self._not_claimed(claim.execution)
        self.execution = execution = claim.execution
        assert execution is not None
        self.job = job = store.get_job(message.task_id, message.job_id)
        if job is None:
            self._finish(ExecutionStatus.FAILED, error="the job was deleted before its execution started")
            return Disposition(True, "job gone")
        self.spec = spec = JobSpec.from_dict(job.spec)
        if spec.expiration is not None and self.clock().timestamp() > spec.expiration:
            self._finish(ExecutionStatus.EXPIRED, error=f"dequeued after the job's expiration ({spec.expiration})")
            return Disposition(True, "expired")
        if not self._apply_overlap_policy(execution, spec):
            return Disposition(True, "skipped")
        try:
            self._run_container(execution, spec)
        except EngineError as exc:
            exit_code = exc.exit_code if isinstance(exc, CommandNotRunnable) else None
            self._finish(ExecutionStatus.FAILED, error=str(exc), exit_code=exit_code)
        finally:
            self._remove_container()
        return Disposition(True, "finished")

    def _apply_overlap_policy(self, execution: ExecutionModel, spec: JobSpec) -> bool:
        """forbid / replace, decided now that the run starts; False when this run is skipped."""
        if spec.cron is None or spec.concurrencyPolicy == "allow":
            return True
        others = [
            other
            for other in store.unfinished_executions(execution.job_id)
            if other.execution_id != execution.execution_id and ExecutionStatus(other.status).is_active
        ]
        decision = overlap_decision(spec, bool(others))
        if decision is Overlap.SKIP:
            reason = "an earlier run of the job is still active (concurrencyPolicy forbid)"
            if store.record_skipped_tick(execution, self.clock(), reason):
                notifications.execution_ended(execution, ExecutionStatus.STOPPED.value, spec)
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
        labels = self.settings.container_label_prefix
        container_spec = ContainerSpec(
            image=spec.image,
            argv=spec.argv,
            env=spec.envs,
            labels={
                f"{labels}.execution": execution.execution_id,
                f"{labels}.job": execution.job_id,
                f"{labels}.task": execution.task_id,
                f"{labels}.host": self.settings.runner_host,
            },
            name=f"{labels}-{execution.execution_id}",
        )
        self.container_id = self.engine.create(container_spec)
        # Claimed and created ahead of a scheduled instant: only the start waits for it, so
        # Docker's create time is not part of the schedule's skew. A stop ends the wait early.
        self._wait_until(self.not_before)
        if self._stop.is_set():
            self._finish(ExecutionStatus.STOPPED, error="stopped before it started")
            return
        self.engine.start(self.container_id)
        started_at = self.clock()
        store.update_execution(
            execution, status=ExecutionStatus.RUNNING.value, started_at=started_at, container_id=self.container_id
        )
        notifications.execution_started(execution, spec)
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
            exit_code = self.engine.wait(self.container_id, timeout)
            if exit_code is None:
                self.engine.kill(self.container_id)
                self.engine.wait(self.container_id, 30)
            for reader in readers:
                reader.join(timeout=30)
            self._store_output(execution, stdout, stderr)
            if self._stop.is_set():
                self._finish(
                    ExecutionStatus.STOPPED,
                    error=_join(stderr.tail_text(), "stopped on request"),
                    exit_code=exit_code,
                    stdout=stdout,
                    stderr=stderr,
                )
            elif exit_code is None:
                note = f"killed after the {timeout} s timeout"
                self._finish(
                    ExecutionStatus.TIMEDOUT,
                    error=_join(stderr.tail_text(), note),
                    exit_code=137,
                    stdout=stdout,
                    stderr=stderr,
                )
            else:
                status = ExecutionStatus.DONE if exit_code == 0 else ExecutionStatus.FAILED
                self._finish(status, error=stderr.tail_text(), exit_code=exit_code, stdout=stdout, stderr=stderr)
        finally:
            stdout.close()
            stderr.close()

    def _pump(self, stream: str, capture: StreamCapture) -> None:
        assert self.container_id is not None
        try:
            for chunk in self.engine.output(self.container_id, stream):
                capture.write(chunk)
                self._notify(stream, chunk)
        except EngineError:
            logger.exception("output of %s was cut", self.container_id)

    def _notify(self, stream: str, chunk: bytes) -> None:
        if self.on_output is not None and self.execution is not None:
            try:
                self.on_output(self.execution, stream, chunk)
            except Exception:
                logger.exception("output listener failed")

    def _store_output(self, execution: ExecutionModel, stdout: StreamCapture, stderr: StreamCapture) -> None:
        # Both streams at once: the run's end is readable one upload sooner. ``result()``
        # re-raises a failed upload, so the message stays and the run's output is not lost.
        with ThreadPoolExecutor(max_workers=2) as pool:
            uploads = []
            for name, capture in (("stdout", stdout), ("stderr", stderr)):
                key = log_store.object_key(execution.task_id, execution.job_id, execution.execution_id, name)
                setattr(execution, f"{name}_key", key)
                uploads.append(pool.submit(log_store.upload, key, capture.rewound()))
            for upload in uploads:
                upload.result()

    def _finish(
        self,
        status: ExecutionStatus,
        error: str = "",
        exit_code: int | None = None,
        stdout: StreamCapture | None = None,
        stderr: StreamCapture | None = None,
    ) -> None:
        execution = self.execution
        assert execution is not None
        values: dict[str, object] = {
            "status": status.value,
            "finished_at": self.clock(),
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
            )
        retry = None
        if self.job is not None and self.spec is not None:
            retry = plan_retry(execution, status, self.job, self.spec, self.clock())
        if not store.finish_execution(execution, values, retry):
            logger.warning("execution %s changed state before it could be ended %s", execution.execution_id, status)
            return
        # After the end is stored, so the notification never delays it (and never claims an
        # end that did not happen).
        notifications.execution_ended(execution, status.value, self.spec)
        if retry is not None:
            send(retry, self.clock())
            logger.info(
                "execution %s will be retried as %s at %s",
                execution.execution_id,
                retry.execution_id,
                retry.scheduled_for,
            )
        logger.info(
            "execution %s %s",
            execution.execution_id,
            status.value,
            extra={"exit_code": exit_code, "job_id": execution.job_id, "task_id": execution.task_id},
        )

    def _remove_container(self) -> None:
        if self.container_id is None:
            return
        try:
            self.engine.remove(self.container_id)
        except EngineError:
            logger.exception("could not remove container %s; `python -m runner prune` will", self.container_id)


def _join(*parts: str) -> str:
    return "\n".join(part for part in parts if part)
