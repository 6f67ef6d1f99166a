"""Items to start a test from: a job and its executions, as the services would have stored them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters.models import ACTIVE_SHARD, ExecutionModel, JobModel
from chalicelib.domain.payload import JobSpec, parse_job
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services.executions import new_execution

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
TASK = "task-1"
JOB = "0b6c1a52-6d0f-4f3e-9a55-5c8a2f0e7d11"
HOST = "runner-1"


def spec_of(**body: Any) -> JobSpec:
    return parse_job({"image": "busybox", "command": "true", **body})


def a_job(spec: JobSpec, task_id: str = TASK, job_id: str = JOB, **values: Any) -> JobModel:
    return JobModel(
        task_id,
        job_id,
        spec=spec.to_dict(),
        created_at=NOW - timedelta(hours=1),
        last_modified_at=NOW - timedelta(hours=1),
        execution_count=0,
        **values,
    )


def an_execution(spec: JobSpec, job: JobModel, status: ExecutionStatus = ExecutionStatus.ENQUEUED) -> ExecutionModel:
    """An execution of ``job``; held by ``HOST`` (last heartbeat a minute ago) when active."""
    execution = new_execution(job.task_id, job.job_id, spec, NOW - timedelta(minutes=2))
    execution.status = status.value
    if status.is_active:
        execution.host = HOST
        execution.awaiting_shard = execution.dispatch_at = None
        execution.active_shard = ACTIVE_SHARD
        execution.heartbeat_at = (NOW - timedelta(minutes=1)).timestamp()
    if status.is_finished:
        execution.awaiting_shard = execution.dispatch_at = None
        execution.finished_at = NOW - timedelta(minutes=1)
    return execution
