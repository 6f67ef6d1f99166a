"""Running one execution: claim → create → start → capture output → wait → store → clean up.

Every Docker fault ends the execution ``failed`` with the reason in ``error``; only a fault of
the service's own storage leaves the SQS message in place, so the run is never lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chalicelib import log_store, store
from chalicelib.clock import utcnow
from chalicelib.job_queue import Received
from chalicelib.models import ExecutionModel
from chalicelib.payload import JobSpec
from chalicelib.settings import Settings
from chalicelib.statuses import ExecutionStatus
from runner.docker_engine import CommandNotRunnable, ContainerSpec, DockerEngine, EngineError
from runner.output import StreamCapture

logger = logging.getLogger(__name__)

OutputListener = Callable[[ExecutionModel, str, bytes], None]


@dataclass(frozen=True)
class Disposition:
    """What to do with the SQS message once the run is over."""

    delete: bool
    reason: str


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

    # -- the steps ---------------------------------------------------------------------------

    def run(self) -> Disposition:
        message = self.received.message
        if message is None:
            logger.error("dropping a message that is not an execution: %r", self.received.body[:200])
            return Disposition(True, "malformed message")
        claim = store.claim(
            message.job_id, message.execution_id, self.settings.runner_host, self.engine.port, self.received.message_id
        )
        if not claim.claimed:
            return self._not_claimed(claim.execution)
        self.execution = execution = claim.execution
        assert execution is not None
        job = store.get_job(message.task_id, message.job_id)
        if job is None:
            self._finish(ExecutionStatus.FAILED, error="the job was deleted before its execution started")
            return Disposition(True, "job gone")
        spec = JobSpec.from_dict(job.spec)
        if spec.expiration is not None and self.clock().timestamp() > spec.expiration:
            self._finish(ExecutionStatus.EXPIRED, error=f"dequeued after the job's expiration ({spec.expiration})")
            return Disposition(True, "expired")
        try:
            self._run_container(execution, spec)
        except EngineError as exc:
            exit_code = exc.exit_code if isinstance(exc, CommandNotRunnable) else None
            self._finish(ExecutionStatus.FAILED, error=str(exc), exit_code=exit_code)
        finally:
            self._remove_container()
        return Disposition(True, "finished")

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
        self.engine.start(self.container_id)
        started_at = self.clock()
        store.update_execution(
            execution, status=ExecutionStatus.RUNNING.value, started_at=started_at, container_id=self.container_id
        )
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
            if exit_code is None:
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
        for name, capture in (("stdout", stdout), ("stderr", stderr)):
            key = log_store.object_key(execution.task_id, execution.job_id, execution.execution_id, name)
            log_store.upload(key, capture.rewound())
            setattr(execution, f"{name}_key", key)

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
        if not store.update_execution(execution, **values):
            logger.warning("execution %s changed state before it could be ended %s", execution.execution_id, status)
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
