"""services.ending.end_run, the one way a run ends (runner and reaper), against in-memory fakes
of the store (tests/fakes), the notifications and the job queue: no emulator, no network."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters.models import ExecutionModel, JobModel
from chalicelib.domain.payload import JobSpec
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services.ending import Ports, end_run
from tests.fakes.tables import FakeTables

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@dataclass
class Fakes:
    """The store's finish transaction (the in-memory tables, holding the run), the ``finished``
    publication and the job queue; ``log`` is the order in which they were reached."""

    tables: FakeTables = field(default_factory=FakeTables)
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    retries: list[ExecutionModel] = field(default_factory=list)
    published: list[tuple[str, str, JobSpec | None]] = field(default_factory=list)
    sent: list[tuple[str, datetime]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    @classmethod
    def holding(cls, execution: ExecutionModel) -> tuple[Fakes, ExecutionModel]:
        fakes = cls()
        fakes.tables.put(execution)
        return fakes, execution

    def finish(
        self,
        execution: ExecutionModel,
        values: dict[str, Any],
        retry: ExecutionModel | None = None,
        heartbeat_at: float | None = None,
    ) -> bool:
        self.log.append("finish")
        if not self.tables.finish_execution(execution, values, retry, heartbeat_at=heartbeat_at):
            return False
        self.stored[execution.execution_id] = values
        if retry is not None:
            self.retries.append(retry)
        return True

    def publish_ended(self, execution: ExecutionModel, status: str, spec: JobSpec | None) -> None:
        self.log.append("publish")
        self.published.append((execution.execution_id, status, spec))

    def send(self, execution: ExecutionModel, now: datetime) -> str | None:
        self.log.append("send")
        self.sent.append((execution.execution_id, now))
        return "message-1"

    def ports(self) -> Ports:
        return Ports(self.finish, self.publish_ended, self.send)


def _run(status: str = "running", heartbeat_at: float | None = 100.0) -> ExecutionModel:
    return ExecutionModel(
        "job-1",
        "0190a0b0-0000-7000-8000-000000000001",
        task_id="task-1",
        status=status,
        image="busybox",
        command="false",
        created_at=NOW - timedelta(minutes=1),
        attempt=0,
        request_ip="203.0.113.9",
        active_shard="active",
        heartbeat_at=heartbeat_at,
    )


def _job(retries: int = 0, stopped_at: datetime | None = None) -> tuple[JobModel, JobSpec]:
    spec = JobSpec(image="busybox", command="false", retries=retries)
    job = JobModel("task-1", "job-1", spec=spec.to_dict(), created_at=NOW, last_modified_at=NOW, stopped_at=stopped_at)
    return job, spec


def test_a_failed_run_with_retries_left_is_ended_then_told_then_retried() -> None:
    fakes, execution = Fakes.holding(_run())
    job, spec = _job(retries=2)

    def settle() -> None:
        fakes.log.append("settle")

    ended = end_run(
        execution,
        ExecutionStatus.FAILED,
        {"finished_at": NOW, "exit_code": 1},
        job,
        spec,
        NOW,
        settle=settle,
        ports=fakes.ports(),
    )

    assert ended.ended and ended.retry is not None
    assert fakes.log == ["finish", "settle", "publish", "send"]
    assert fakes.stored[execution.execution_id] == {"status": "failed", "finished_at": NOW, "exit_code": 1}
    assert execution.status == "failed" and execution.active_shard is None
    assert fakes.published == [(execution.execution_id, "failed", spec)]
    (retry,) = fakes.retries
    assert (retry.attempt, retry.retry_of, retry.request_ip) == (1, execution.execution_id, "203.0.113.9")
    assert retry.status == ExecutionStatus.ENQUEUED.value and retry.scheduled_for > NOW
    assert fakes.sent == [(retry.execution_id, NOW)]


def test_a_run_that_succeeded_is_not_retried() -> None:
    fakes, execution = Fakes.holding(_run())
    job, spec = _job(retries=3)

    ended = end_run(execution, ExecutionStatus.DONE, {"finished_at": NOW}, job, spec, NOW, ports=fakes.ports())

    assert ended.ended and ended.retry is None
    assert fakes.log == ["finish", "publish"]
    assert fakes.published == [(execution.execution_id, "done", spec)]


def test_a_run_that_already_ended_is_left_alone_and_nobody_is_told() -> None:
    fakes, execution = Fakes.holding(_run(status="stopped"))
    job, spec = _job(retries=2)
    settled: list[bool] = []

    ended = end_run(
        execution,
        ExecutionStatus.FAILED,
        {"finished_at": NOW},
        job,
        spec,
        NOW,
        settle=lambda: settled.append(True),
        ports=fakes.ports(),
    )

    assert not ended.ended and ended.retry is None
    assert settled == [True]  # the runner stops heart-beating either way
    assert (fakes.published, fakes.sent, fakes.retries) == ([], [], [])


def test_the_reaper_loses_to_a_runner_that_beat_again() -> None:
    fakes, execution = Fakes.holding(_run(heartbeat_at=105.0))
    job, spec = _job(retries=1)

    ended = end_run(
        execution, ExecutionStatus.FAILED, {"finished_at": NOW}, job, spec, NOW, heartbeat_at=100.0, ports=fakes.ports()
    )

    assert not ended.ended
    assert execution.status == "running"
    assert fakes.published == []


def test_the_reaper_ends_a_silent_run_it_read() -> None:
    fakes, execution = Fakes.holding(_run(heartbeat_at=100.0))
    job, spec = _job(retries=0)

    ended = end_run(
        execution,
        ExecutionStatus.FAILED,
        {"finished_at": NOW, "error": "runner gone"},
        job,
        spec,
        NOW,
        heartbeat_at=100.0,
        ports=fakes.ports(),
    )

    assert ended.ended and ended.retry is None
    assert execution.error == "runner gone"


def test_a_run_of_a_deleted_job_ends_without_a_retry() -> None:
    fakes, execution = Fakes.holding(_run())

    ended = end_run(execution, ExecutionStatus.FAILED, {"finished_at": NOW}, None, None, NOW, ports=fakes.ports())

    assert ended.ended and ended.retry is None
    assert fakes.published == [(execution.execution_id, "failed", None)]


def test_a_run_of_a_stopped_job_is_not_retried() -> None:
    fakes, execution = Fakes.holding(_run())
    job, spec = _job(retries=5, stopped_at=NOW - timedelta(seconds=30))

    ended = end_run(execution, ExecutionStatus.TIMEDOUT, {"finished_at": NOW}, job, spec, NOW, ports=fakes.ports())

    assert ended.ended and ended.retry is None
    assert fakes.sent == []
