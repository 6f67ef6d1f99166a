"""The dispatcher: turns due schedules into executions, resends lost messages, and ends the
executions of runners that stopped heart-beating (``liveness.reap``).

In AWS an EventBridge rule runs ``tick`` every minute; the local stack runs it every second.
Each tick creates the executions due within the look-ahead window, each sent to SQS delayed to
its instant, so precision does not depend on the tick's period.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from chalicelib.adapters import execution_repository, job_repository
from chalicelib.adapters.models import ExecutionModel, JobModel
from chalicelib.domain.clock import utcnow
from chalicelib.domain.ids import derived_execution_id
from chalicelib.domain.payload import JobSpec
from chalicelib.domain.scheduling import plan_tick
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import liveness
from chalicelib.services.executions import new_execution, send
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)

# A job whose schedule is this dense is advanced at most this many instants per tick.
_MAX_INSTANTS_PER_JOB = 10


@dataclass
class TickReport:
    created: list[str] = field(default_factory=list)
    skipped: int = 0
    resent: list[str] = field(default_factory=list)
    # Executions ended because their runner stopped heart-beating.
    given_up: list[str] = field(default_factory=list)


def _epoch_to_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(float(seconds), UTC)


def materialize(job: JobModel, now: datetime, report: TickReport | None = None) -> ExecutionModel | None:
    """Handle the job's current due instant: create its execution (once) and advance the schedule."""
    report = report or TickReport()
    if job.next_run_at is None:
        return None
    due_epoch = float(job.next_run_at)
    due = _epoch_to_datetime(due_epoch)
    spec = JobSpec.from_dict(job.spec)
    plan = plan_tick(spec, due, now)
    execution = None
    if plan.run:
        execution = new_execution(
            job.task_id,
            job.job_id,
            spec,
            now,
            request_ip=job.request_ip,
            scheduled_for=max(due, now),
            execution_id=derived_execution_id(job.job_id, int(due_epoch * 1000), "tick"),
        )
    next_run = plan.next_run.timestamp() if plan.next_run else None
    if not job_repository.advance_schedule(job, due_epoch, next_run, execution, len(plan.skipped), now):
        logger.info("job %s instant %s was handled elsewhere", job.job_id, due.isoformat())
        return None
    job.next_run_at = next_run
    report.skipped += len(plan.skipped)
    if plan.skipped:
        logger.info("job %s skipped %s: %s", job.job_id, due.isoformat(), plan.reason)
    if execution is not None:
        send(execution, now)
        report.created.append(execution.execution_id)
    return execution


def tick(now: datetime | None = None) -> TickReport:
    """One pass: create what is due within the look-ahead, then resend what was lost."""
    settings = get_settings()
    now = now or utcnow()
    report = TickReport()
    horizon = (now + timedelta(seconds=settings.dispatch_lookahead_seconds)).timestamp()
    for task_id, job_id in job_repository.due_jobs(horizon):
        for _ in range(_MAX_INSTANTS_PER_JOB):
            job = job_repository.get_job(task_id, job_id)
            if job is None or job.next_run_at is None or float(job.next_run_at) > horizon:
                break
            materialize(job, now, report)
    reconcile(now, report)
    report.given_up = liveness.reap(now)
    return report


def reconcile(now: datetime, report: TickReport) -> None:
    """Resend executions whose message was lost: due long enough ago and still unclaimed."""
    settings = get_settings()
    cutoff = (now - timedelta(seconds=settings.reconcile_after_seconds)).timestamp()
    for job_id, execution_id in execution_repository.awaiting_dispatch(cutoff):
        execution = execution_repository.get_execution(job_id, execution_id, consistent=True)
        if execution is None or execution.status != ExecutionStatus.ENQUEUED.value:
            continue
        if execution_repository.mark_redispatched(execution, now.timestamp()):
            execution.scheduled_for = None
            send(execution, now)
            report.resent.append(execution_id)
            logger.warning(
                "execution %s had no runner after %d s: sent again", execution_id, settings.reconcile_after_seconds
            )
