"""Suspending and resuming a cron job: its definition stays, its ticks stop, and on resume the
schedule starts again from the next instant after now (the ticks missed meanwhile are not run).

A run the dispatcher had made ahead before the suspension (``scheduled``) is cancelled by it
(deleted, see ``stopping.request_stop``), so a resume before that instant runs it after all.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.adapters import execution_repository, job_repository
from chalicelib.adapters.models import JobModel
from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import Conflict, ValidationError
from chalicelib.domain.payload import JobSpec
from chalicelib.domain.scheduling import next_cron_tick
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import schedules
from chalicelib.services.lookups import require_job
from chalicelib.services.schedules import tick_execution_id
from chalicelib.services.stopping import request_stop
from chalicelib.settings import get_settings


def suspend(task_id: str, job_id: str, now: datetime | None = None) -> JobModel:
    """No more ticks until resumed. Runs the dispatcher already made ahead of time (it works
    up to the look-ahead in advance) and that have not started are stopped; a running one goes
    on. Suspending a suspended job changes nothing."""
    job = require_job(task_id, job_id)
    _require_live_cron(job)
    if job.suspended:
        return job
    now = now or utcnow()
    job_repository.suspend_schedule(job, now)
    for execution in execution_repository.unfinished_executions(task_id, job_id):
        made_ahead = execution.scheduled_for is not None and execution.retry_of is None
        waiting = execution.status in (ExecutionStatus.SCHEDULED.value, ExecutionStatus.ENQUEUED.value)
        if made_ahead and waiting:
            request_stop(execution, now)
    return job


def resume(task_id: str, job_id: str, now: datetime | None = None) -> JobModel:
    """Ticks again, from the first instant after ``now``. Resuming a job that is not suspended
    changes nothing."""
    job = require_job(task_id, job_id)
    cron = _require_live_cron(job)
    if not job.suspended:
        return job
    now = now or utcnow()
    due = _first_free_instant(job, cron, now)
    if not job_repository.resume_schedule(job, due.timestamp(), now):
        # Resumed, replaced or stopped by someone else meanwhile: answer what is stored now.
        return require_job(task_id, job_id)
    if due <= now + timedelta(seconds=get_settings().dispatch_lookahead_seconds):
        # Due before the next dispatcher tick could see it, as at enqueue time.
        schedules.materialize(job, now)
    return job


# Instants looked at past one already made (at most one is made ahead of a suspension).
_TAKEN_INSTANTS = 3


def _first_free_instant(job: JobModel, cron: str, now: datetime) -> datetime:
    """The first instant after ``now`` that has no execution yet. An instant whose run was
    promoted (``enqueued``) before the suspension stopped it keeps its id, so the schedule
    cannot wait for it again: it goes on from the instant after."""
    zone = JobSpec.from_dict(job.spec).timezone
    due = next_cron_tick(cron, now, zone)
    for _ in range(_TAKEN_INSTANTS):
        made = execution_repository.get_execution(job.job_id, tick_execution_id(job.job_id, due.timestamp()))
        if made is None:
            break
        due = next_cron_tick(cron, due, zone)
    return due


def _require_live_cron(job: JobModel) -> str:
    """The job's cron expression; refused for a job without one or whose cron was stopped."""
    spec = JobSpec.from_dict(job.spec)
    if spec.cron is None:
        raise ValidationError(
            "only a cron job can be suspended or resumed; this job has no cron", field="cron", jobId=job.job_id
        )
    if not job.suspended and job.next_run_at is None:
        raise Conflict(
            "the job was stopped: its cron no longer ticks (PUT the job again to start it afresh)", jobId=job.job_id
        )
    return spec.cron
