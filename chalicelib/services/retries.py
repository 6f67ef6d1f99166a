"""Retrying failed executions: a new execution of the job, after an exponential back-off."""

from __future__ import annotations

from datetime import datetime

from chalicelib.adapters.models import ExecutionModel, JobModel
from chalicelib.domain.backoff import Backoff
from chalicelib.domain.ids import derived_execution_id
from chalicelib.domain.overrides import RunOverrides
from chalicelib.domain.payload import JobSpec
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services.executions import new_execution
from chalicelib.settings import get_settings

RETRIED_STATUSES = frozenset({ExecutionStatus.FAILED, ExecutionStatus.TIMEDOUT})


def plan_retry(
    execution: ExecutionModel, status: ExecutionStatus, job: JobModel, spec: JobSpec, now: datetime
) -> ExecutionModel | None:
    """The retry owed for an execution ending ``status``, or None.

    Owed when the run failed or timed out, retries are left, and the job was not stopped after
    the run was created. Its id derives from the failed run, so it can be created only once.
    """
    attempt = int(execution.attempt or 0) + 1
    if status not in RETRIED_STATUSES or attempt > spec.retries:
        return None
    if job.stopped_at is not None and job.stopped_at >= execution.created_at:
        return None
    backoff = Backoff.for_job(spec.retryBackoff, get_settings().retry_max_delay_ms)
    due = now + backoff.delay(attempt)
    return new_execution(
        execution.task_id,
        execution.job_id,
        spec,
        now,
        attempt=attempt,
        # The caller whose request started the chain of attempts.
        request_ip=execution.request_ip,
        scheduled_for=due,
        execution_id=derived_execution_id(execution.job_id, int(due.timestamp() * 1000), execution.execution_id),
        retry_of=execution.execution_id,
        # A retry of a run-now with overrides runs with the same ones.
        overrides=RunOverrides.from_dict(execution.overrides),
    )
