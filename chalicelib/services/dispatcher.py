"""The dispatcher's tick: turns due schedules into executions (``schedules.materialize``),
resends lost messages, publishes the start/end events still owed (``events.republish_owed``,
the outbox), ends the executions of runners that stopped heart-beating (``liveness.reap``) and
puts tasks stored before the task-id index existed in it (``task_repository.backfill_id_index``).

In AWS an EventBridge rule runs ``tick`` every minute; the local stack runs it every second.
Each tick creates the executions due within the look-ahead window, each sent to SQS delayed to
its instant, so precision does not depend on the tick's period.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from chalicelib.adapters import execution_repository, job_repository, task_repository
from chalicelib.domain.clock import utcnow
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import events, liveness
from chalicelib.services.executions import send
from chalicelib.services.schedules import TickReport, materialize
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)

# The dispatcher's name as a reaper: every dispatcher (Lambdas of one region, one clock) shares it.
DISPATCHER = "dispatcher"
# A job whose schedule is this dense is advanced at most this many instants per tick.
_MAX_INSTANTS_PER_JOB = 10


def tick(now: datetime | None = None) -> TickReport:
    """One pass: create what is due within the look-ahead, then resend what was lost, publish
    what is owed and end what was left by a silent runner."""
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
    try:
        events.republish_owed(now)
    except Exception:
        # Still owed: the next tick tries again; the reaper below must not wait for it.
        logger.exception("publishing the owed events failed")
    report.given_up = liveness.reap(now, reaper=DISPATCHER)
    try:
        # Tasks stored before the task-id index existed (an upgraded table): a batch a tick
        # until all are in it; then one GetItem a tick.
        task_repository.backfill_id_index(settings.task_id_backfill_per_tick)
    except Exception:
        logger.exception("backfilling the task-id index failed")
    return report


def reconcile(now: datetime, report: TickReport) -> None:
    """Resend executions whose message was lost: due long enough ago and still unclaimed.

    A ``scheduled`` execution (made ahead of its instant) whose runner has not claimed it
    ``scheduled_promote_after_seconds`` past its instant is made ``enqueued`` first: its
    message is late, and from now on it shows as a run waiting for a runner (and is resent
    like any other once ``reconcile_after_seconds`` have passed).
    """
    settings = get_settings()
    promote_before = (now - timedelta(seconds=settings.scheduled_promote_after_seconds)).timestamp()
    for job_id, execution_id in execution_repository.overdue_scheduled(promote_before):
        late = execution_repository.get_execution(job_id, execution_id, consistent=True)
        if late is None or late.status != ExecutionStatus.SCHEDULED.value:
            continue
        if execution_repository.promote_scheduled(late):
            report.promoted.append(execution_id)
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
