"""Stopping executions and jobs."""

from __future__ import annotations

import logging
from datetime import datetime

from chalicelib.adapters import control, execution_repository, job_repository
from chalicelib.adapters.models import ExecutionModel, JobModel
from chalicelib.domain.clock import utcnow
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import events
from chalicelib.services.lookups import require_execution, require_job

logger = logging.getLogger(__name__)


def request_stop(execution: ExecutionModel, now: datetime) -> None:
    """Stop one execution wherever it is.

    Made ahead of its instant (``scheduled``): deleted, as it never was a run. Not yet
    claimed: it ends ``stopped`` here and no runner will start it (claiming needs ``enqueued``
    or ``scheduled``). Claimed: the flag is stored and the runner holding it is told on its
    control queue; it kills the container and ends the execution ``stopped``.
    """
    status = ExecutionStatus(execution.status)
    if status is ExecutionStatus.SCHEDULED:
        # Not a run yet: it is cancelled (deleted) and its message, when it comes, finds nothing.
        if execution_repository.cancel_scheduled(execution):
            return
        # Claimed or promoted meanwhile: stop it as it is now.
        fresh = execution_repository.get_execution(execution.job_id, execution.execution_id, consistent=True)
        if fresh is not None and fresh.status != ExecutionStatus.SCHEDULED.value:
            request_stop(fresh, now)
        return
    if status is ExecutionStatus.ENQUEUED and execution_repository.update_execution(
        execution,
        only_if=(ExecutionStatus.ENQUEUED,),
        status=ExecutionStatus.STOPPED.value,
        finished_at=now,
        awaiting_shard=None,
        dispatch_at=None,
        **events.end_marks(execution, ExecutionStatus.STOPPED.value, None, now),
    ):
        events.execution_ended(execution, ExecutionStatus.STOPPED.value)
        return
    if execution_repository.update_execution(execution, stop_requested=True) and execution.host:
        if not control.send_stop(execution.host, execution.execution_id):
            logger.warning(
                "runner %s has no control queue; stop of %s waits for the reconciler",
                execution.host,
                execution.execution_id,
            )
    elif status is ExecutionStatus.ENQUEUED:
        # Claimed between our read and our write: read again and stop it on its runner.
        fresh = execution_repository.get_execution(execution.job_id, execution.execution_id, consistent=True)
        if fresh is not None and ExecutionStatus(fresh.status).is_active:
            request_stop(fresh, now)


def stop_execution(task_id: str, job_id: str, execution_id: str) -> ExecutionModel:
    """Stop this run only: a cron or schedule of the job goes on."""
    execution = require_execution(task_id, job_id, execution_id)
    request_stop(execution, utcnow())
    return execution


def stop_job(task_id: str, job_id: str) -> JobModel:
    """Stop the job's runs and cancel its schedule, cron and pending retries."""
    job = require_job(task_id, job_id)
    now = utcnow()
    job_repository.cancel_schedule(job, now)
    for execution in execution_repository.unfinished_executions(task_id, job_id):
        request_stop(execution, now)
    return job
