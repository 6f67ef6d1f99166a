"""Publishing an execution's events (``started``, ``finished`` with its status) to the
notifications queue, for ``services/notifications.py`` to deliver as webhooks and e-mails,
through a transactional outbox.

The write that stores a start (``running``) or an end (the final status) also marks the event
as owed on the execution (``start_event_pending``/``end_event_pending``, with ``owed_shard``
and ``owed_at``: the sparse owed-events index), in that same write: ``start_marks`` and
``end_marks`` are what the writer adds to its values. After the write the writer publishes, so
a notification never delays a container, and clears the mark (conditional) once SQS took it.

A publish that failed, or a writer that died between its write and its publish, leaves the
mark; ``republish_owed`` (each dispatcher tick) publishes what is owed for longer than
``outbox_grace_seconds``, so no start or end goes untold. An event can therefore go out twice
(published, then the writer died before clearing): the consumer's idempotency keys every
delivery attempt by execution, event (kind and status), target and attempt, so a copy delivers
nothing more.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any

from chalicelib.adapters import execution_repository, notification_queue
from chalicelib.adapters.models import ExecutionModel, owed_shard
from chalicelib.domain.clock import to_iso, utcnow
from chalicelib.domain.deliveries import FINISHED, STARTED, wanted
from chalicelib.domain.payload import JobSpec
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import telemetry
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)

START, END = "start", "end"
_KIND = {START: STARTED, END: FINISHED}


def _marks(execution_id: str, attribute: str, status: str, now: datetime | None) -> dict[str, Any]:
    return {
        attribute: status,
        "owed_shard": owed_shard(execution_id),
        "owed_at": round((now or utcnow()).timestamp(), 3),
    }


def start_marks(execution: ExecutionModel, spec: JobSpec | None, now: datetime | None = None) -> dict[str, Any]:
    """The attributes that mark ``started`` owed, for the write that stores ``running`` (none
    when the job wants no start notification)."""
    if not wanted(spec, STARTED, ExecutionStatus.RUNNING.value):
        return {}
    return _marks(execution.execution_id, "start_event_pending", ExecutionStatus.RUNNING.value, now)


def end_marks(
    execution: ExecutionModel, status: str, spec: JobSpec | None, now: datetime | None = None
) -> dict[str, Any]:
    """The attributes that mark ``finished`` (with ``status``) owed, for the write that stores
    the end (always when the job is not at hand: the consumer then decides)."""
    if not wanted(spec, FINISHED, status):
        return {}
    return _marks(execution.execution_id, "end_event_pending", status, now)


def _publish(task_id: str, job_id: str, execution_id: str, kind: str, status: str) -> bool:
    """Publish one event and clear its mark; False when the publish failed (the mark stays)."""
    body = {
        "type": "event",
        "kind": _KIND[kind],
        "status": status,
        "taskId": task_id,
        "jobId": job_id,
        "executionId": execution_id,
        "at": to_iso(utcnow()),
    }
    try:
        notification_queue.publish(body)
    except Exception:
        # A notification must never fail the run it is about: the tick publishes it later.
        logger.exception("could not publish the %s event of execution %s; it stays owed", kind, execution_id)
        return False
    try:
        execution_repository.clear_owed_event(job_id, execution_id, kind, status)
    except Exception:  # noqa: BLE001 - a mark left owed is published again, and dropped as a copy
        logger.warning("could not clear the owed %s event of %s", kind, execution_id)
    return True


def execution_started(execution: ExecutionModel, spec: JobSpec | None, count: bool = True) -> bool:
    """Publish the ``started`` the running write marked owed (only when the job has ``starts``
    hooks); False when that failed. Counted (and its dispatch delay measured) whatever the job
    wants, unless ``count`` is False: a runner re-attached to a start another runner recorded
    (and counted) only publishes what is still owed."""
    if count:
        telemetry.execution_started(execution)
    if not wanted(spec, STARTED, ExecutionStatus.RUNNING.value):
        return True
    ids = (execution.task_id, execution.job_id, execution.execution_id)
    published = _publish(*ids, START, ExecutionStatus.RUNNING.value)
    if published:
        execution.start_event_pending = None
    return published


def execution_ended(execution: ExecutionModel, status: str, spec: JobSpec | None = None) -> None:
    """Publish the ``finished`` (with its status) the ending write marked owed (only when the
    job asks for it; always when the caller does not have the job at hand). Counted by status."""
    telemetry.execution_finished(execution, status)
    if wanted(spec, FINISHED, status):
        _publish(execution.task_id, execution.job_id, execution.execution_id, END, status)


def republish_owed(now: datetime | None = None) -> list[str]:
    """Publish the events owed for longer than ``outbox_grace_seconds``: one Query per shard
    of the owed-events index, ``outbox_republish_per_tick`` at most in all. Answers the ids of
    the executions whose events went out."""
    settings = get_settings()
    now = now or utcnow()
    per_shard = max(1, math.ceil(settings.outbox_republish_per_tick / settings.index_shards))
    before = now.timestamp() - settings.outbox_grace_seconds
    published: list[str] = []
    for owed in execution_repository.owed_events(before, per_shard)[: settings.outbox_republish_per_tick]:
        ids = (owed.task_id, owed.job_id, owed.execution_id)
        sent = [_publish(*ids, kind, status) for kind, status in ((START, owed.start), (END, owed.end)) if status]
        if sent and all(sent):
            published.append(owed.execution_id)
    if published:
        logger.warning("published %d owed event(s) again: %s", len(published), ", ".join(published))
    return published
