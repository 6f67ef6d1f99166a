"""Enqueueing jobs and creating their executions."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib import job_queue, store
from chalicelib.clock import utcnow
from chalicelib.errors import NotFound, ValidationError
from chalicelib.ids import is_uuid4, new_execution_id, new_job_id
from chalicelib.models import AWAITING_SHARD, ExecutionModel, JobModel
from chalicelib.payload import JobSpec, parse_job, validate_task_id
from chalicelib.scheduling import first_run
from chalicelib.statuses import ExecutionStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Enqueued:
    task_id: str
    job_id: str
    execution_id: str | None
    queue_job_id: str | None


def new_execution(
    task_id: str,
    job_id: str,
    spec: JobSpec,
    now: datetime,
    attempt: int = 0,
    request_ip: str | None = None,
    dispatch_at: datetime | None = None,
    execution_id: str | None = None,
) -> ExecutionModel:
    """An ``enqueued`` execution, marked as awaiting dispatch until a runner claims it."""
    return ExecutionModel(
        job_id,
        execution_id or new_execution_id(),
        task_id=task_id,
        status=ExecutionStatus.ENQUEUED.value,
        image=spec.image,
        command=spec.command,
        created_at=now,
        attempt=attempt,
        request_ip=request_ip,
        awaiting_shard=AWAITING_SHARD,
        dispatch_at=(dispatch_at or now).timestamp(),
    )


def enqueue(
    task_id: str,
    body: dict[str, Any],
    job_id: str | None = None,
    request_ip: str | None = None,
    now: datetime | None = None,
) -> Enqueued:
    """Create (or, with ``job_id``, create or replace) a job and start or schedule its run."""
    validate_task_id(task_id)
    if job_id is not None and not is_uuid4(job_id):
        raise ValidationError(f"job id {job_id!r} is not a UUID4", field="jobId")
    spec = parse_job(body)
    now = now or utcnow()
    job_id = job_id or new_job_id()
    due = first_run(spec, now)
    immediate = spec.cron is None and due <= now
    execution = new_execution(task_id, job_id, spec, now, request_ip=request_ip) if immediate else None
    saved = store.save_job(
        task_id, job_id, spec.to_dict(), now, execution, next_run_at=None if immediate else due.timestamp()
    )
    if execution is None:
        return Enqueued(task_id, job_id, None, None)
    message_id = dispatch(execution)
    if message_id is not None:
        store.set_enqueued_id(saved.job, message_id)
    return Enqueued(task_id, job_id, execution.execution_id, message_id)


def dispatch(execution: ExecutionModel, delay_seconds: int = 0) -> str | None:
    """Send the execution's message; None when SQS failed (the reconciler sends it later)."""
    message = job_queue.ExecutionMessage(execution.task_id, execution.job_id, execution.execution_id)
    try:
        return job_queue.send_execution(message, delay_seconds)
    except Exception:
        logger.exception("sending execution %s failed; the reconciler will resend it", execution.execution_id)
        return None


def require_job(task_id: str, job_id: str) -> JobModel:
    job = store.get_job(task_id, job_id)
    if job is None:
        if store.get_task(task_id) is None:
            raise NotFound(f"task {task_id!r} does not exist", taskId=task_id)
        raise NotFound(f"job {job_id!r} does not exist in task {task_id!r}", taskId=task_id, jobId=job_id)
    return job


def require_execution(task_id: str, job_id: str, execution_id: str) -> tuple[JobModel, ExecutionModel]:
    job = require_job(task_id, job_id)
    execution = store.get_execution(job_id, execution_id)
    if execution is None:
        raise NotFound(
            f"execution {execution_id!r} does not exist in job {job_id!r}",
            taskId=task_id,
            jobId=job_id,
            executionId=execution_id,
        )
    return job, execution


def require_latest_execution(task_id: str, job_id: str) -> tuple[JobModel, ExecutionModel]:
    job = require_job(task_id, job_id)
    execution = store.latest_execution(job)
    if execution is None:
        raise NotFound(f"job {job_id!r} has no execution yet", taskId=task_id, jobId=job_id)
    return job, execution
