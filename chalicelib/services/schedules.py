"""A job's due instant made into its execution, once: the step the dispatcher's tick takes for
every due job, and that enqueueing takes at once for a job due within the look-ahead."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chalicelib.adapters import job_repository
from chalicelib.adapters.models import ExecutionModel, JobModel
from chalicelib.domain.ids import derived_execution_id
from chalicelib.domain.payload import JobSpec
from chalicelib.domain.scheduling import plan_tick
from chalicelib.services.executions import new_execution, send

logger = logging.getLogger(__name__)


@dataclass
class TickReport:
    created: list[str] = field(default_factory=list)
    skipped: int = 0
    resent: list[str] = field(default_factory=list)
    # Scheduled executions made ``enqueued``: their instant passed and no runner took them.
    promoted: list[str] = field(default_factory=list)
    # Executions ended because their runner stopped heart-beating.
    given_up: list[str] = field(default_factory=list)


def _epoch_to_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(float(seconds), UTC)


def tick_execution_id(job_id: str, due_epoch: float) -> str:
    """The id of the execution of a job's cron/one-off instant: derived, so it is made once."""
    return derived_execution_id(job_id, int(due_epoch * 1000), "tick")


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
            execution_id=tick_execution_id(job.job_id, due_epoch),
            # Before its instant it is only the look-ahead's: ``scheduled``, not yet a run.
            ahead=due > now,
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
