"""No execution stays ``running`` forever: executions whose runner went silent are ended.

A runner writes ``heartbeat_at`` on every execution it holds every
``execution_heartbeat_seconds``. ``reap`` (run by each dispatcher tick and, between beats, by
every live runner, so a dead host is noticed even where the dispatcher ticks once a minute)
reads the sparse ``by-heartbeat`` index for heartbeats older than ``execution_stale_seconds``
with one Query and ends each such execution ``failed`` with an ``error`` naming the silent
runner, the one way a runner ends its own (``ending.end_run``): it is retried when it has retries
left.

Timeline of the race this guards against::

    reaper reads heartbeat h ─────────────── reaper writes "failed" if heartbeat is still h
              runner (back from a pause) beats h' ──┘ → the reaper's write fails; the run goes on

and the other way round: once the reaper has written, the runner's next beat and its own finish
are refused (both need the run still active on its host), so exactly one of them ends it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from chalicelib.adapters import execution_repository, job_repository
from chalicelib.adapters.models import ExecutionModel
from chalicelib.domain.clock import to_iso, utcnow
from chalicelib.domain.payload import JobSpec
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import log_replay
from chalicelib.services.ending import end_run
from chalicelib.services.executions import send
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)


def reap(now: datetime | None = None) -> list[str]:
    """End the executions whose runner has been silent too long; answers their ids."""
    now = now or utcnow()
    cutoff = now.timestamp() - get_settings().execution_stale_seconds
    ended: list[str] = []
    for job_id, execution_id in execution_repository.silent_executions(cutoff):
        execution = execution_repository.get_execution(job_id, execution_id, consistent=True)
        if execution is None or not is_silent(execution, cutoff):
            continue
        if give_up(execution, now, silence_error(execution, now), heartbeat_at=float(execution.heartbeat_at)):
            ended.append(execution_id)
    return ended


def is_silent(execution: ExecutionModel, cutoff: float) -> bool:
    """Still held by a runner whose last heartbeat on it is older than ``cutoff``."""
    return (
        ExecutionStatus(execution.status).is_active
        and execution.active_shard is not None
        and execution.heartbeat_at is not None
        and float(execution.heartbeat_at) < cutoff
    )


def silence_error(execution: ExecutionModel, now: datetime) -> str:
    last = float(execution.heartbeat_at or 0)
    return (
        f"runner {execution.host} stopped heart-beating: no sign of life for {now.timestamp() - last:.0f} s "
        f"(last heartbeat at {to_iso(datetime.fromtimestamp(last, UTC))}); its host is presumed gone"
    )


def give_up(execution: ExecutionModel, now: datetime, error: str, heartbeat_at: float | None = None) -> bool:
    """End a held execution that has no outcome: ``failed`` (retried when owed), or ``stopped``
    when a stop had been asked for. False when it had already ended or changed hands."""
    status = ExecutionStatus.STOPPED if execution.stop_requested else ExecutionStatus.FAILED
    job = job_repository.get_job(execution.task_id, execution.job_id)
    spec = JobSpec.from_dict(job.spec) if job is not None else None
    values = {"finished_at": now, "error": error}
    if not end_run(execution, status, values, job, spec, now, heartbeat_at=heartbeat_at).ended:
        return False
    logger.warning("execution %s ended %s: %s", execution.execution_id, status.value, error)
    # Live viewers learn of this end as of any other (webhooks and e-mails did, in end_run).
    try:
        log_replay.close_viewers(execution)
    except Exception:
        logger.exception("could not close the live viewers of %s", execution.execution_id)
    return True


def give_back(execution: ExecutionModel, host: str, now: datetime) -> bool:
    """Put an execution ``host`` holds but never ran (or gave up mid-run) back in the queue."""
    if not execution_repository.hand_back(execution, host, now):
        return False
    send(execution, now)
    logger.info("execution %s handed back to the queue by %s", execution.execution_id, host)
    return True
