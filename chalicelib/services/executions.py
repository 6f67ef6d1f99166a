"""Making executions and handing them to the job queue."""

from __future__ import annotations

import logging
import math
from datetime import datetime

from chalicelib.adapters import job_queue
from chalicelib.adapters.models import SCHEDULED_SHARD, ExecutionModel, awaiting_shard
from chalicelib.domain.ids import new_execution_id
from chalicelib.domain.limits import sqs_delay
from chalicelib.domain.overrides import RunOverrides, apply_overrides
from chalicelib.domain.payload import JobSpec
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)


def new_execution(
    task_id: str,
    job_id: str,
    spec: JobSpec,
    now: datetime,
    *,
    attempt: int = 0,
    request_ip: str | None = None,
    scheduled_for: datetime | None = None,
    execution_id: str | None = None,
    retry_of: str | None = None,
    overrides: RunOverrides | None = None,
    ahead: bool = False,
) -> ExecutionModel:
    """An ``enqueued`` execution, in the awaiting-dispatch index until a runner claims it;
    with ``overrides``, it runs with them over the job's env and command.

    ``ahead``: made by the dispatcher's look-ahead before its instant, it is ``scheduled``
    instead, which no listing, count or "last execution" includes until a runner claims it.
    """
    overrides = overrides or RunOverrides()
    spec = apply_overrides(spec, overrides)
    execution_id = execution_id or new_execution_id()
    return ExecutionModel(
        job_id,
        execution_id,
        task_id=task_id,
        status=(ExecutionStatus.SCHEDULED if ahead else ExecutionStatus.ENQUEUED).value,
        image=spec.image,
        command=spec.command,
        created_at=now,
        attempt=attempt,
        request_ip=request_ip,
        scheduled_for=scheduled_for,
        retry_of=retry_of,
        overrides=overrides.to_dict(),
        awaiting_shard=SCHEDULED_SHARD if ahead else awaiting_shard(execution_id),
        dispatch_at=max(now, scheduled_for or now).timestamp(),
    )


def send(execution: ExecutionModel, now: datetime) -> str | None:
    """Send the execution's message, delayed to its due instant; None when SQS failed.

    SQS delays by whole seconds, up to 15 minutes: the message is delayed by the whole seconds
    left less a lead of one second, and carries the exact instant, which the runner waits out.
    The lead gives the runner time to claim the run and create its container before the
    instant, so only Docker's start lies between the instant and the container running. A failed send is not an
    error for the caller: the execution stays in the awaiting-dispatch index and the
    reconciler sends it again.
    """
    due = execution.scheduled_for or now
    delay = sqs_delay(math.floor((due - now).total_seconds() - get_settings().schedule_lead_seconds))
    message = job_queue.ExecutionMessage(
        execution.task_id, execution.job_id, execution.execution_id, not_before_ms=int(due.timestamp() * 1000)
    )
    try:
        return job_queue.send_execution(message, delay)
    except Exception:
        logger.exception("sending execution %s failed; the reconciler will send it", execution.execution_id)
        return None
