"""Publishing an execution's events (``started``, ``finished`` with its status) to the
notifications queue, for ``services/notifications.py`` to deliver as webhooks and e-mails.

Whoever stored the start or the end publishes it, after the write, so it never delays a
container; a failed publish is logged and never fails the run it is about.
"""

from __future__ import annotations

import logging

from chalicelib.adapters import notification_queue
from chalicelib.adapters.models import ExecutionModel
from chalicelib.domain.clock import to_iso, utcnow
from chalicelib.domain.deliveries import FINISHED, STARTED, wanted
from chalicelib.domain.payload import JobSpec
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import telemetry

logger = logging.getLogger(__name__)


def _publish_event(execution: ExecutionModel, kind: str, status: str | None, spec: JobSpec | None) -> bool:
    """Publish the event if the job may want it; False only when the publish failed."""
    if not wanted(spec, kind, status):
        return True
    body = {
        "type": "event",
        "kind": kind,
        "status": status,
        "taskId": execution.task_id,
        "jobId": execution.job_id,
        "executionId": execution.execution_id,
        "at": to_iso(utcnow()),
    }
    try:
        notification_queue.publish(body)
    except Exception:
        # A notification must never fail the run it is about.
        logger.exception("could not publish the %s event of execution %s", kind, execution.execution_id)
        return False
    return True


def execution_started(execution: ExecutionModel, spec: JobSpec | None) -> bool:
    """Publish ``started`` (only when the job has ``starts`` hooks); False when that failed.
    Counted (and its dispatch delay measured) whatever the job wants."""
    telemetry.execution_started(execution)
    return _publish_event(execution, STARTED, ExecutionStatus.RUNNING.value, spec)


def execution_ended(execution: ExecutionModel, status: str, spec: JobSpec | None = None) -> None:
    """Publish ``finished`` with its status (only when the job asks for it; always when the
    caller does not have the job at hand: the consumer then decides). Counted by status."""
    telemetry.execution_finished(execution, status)
    _publish_event(execution, FINISHED, status, spec)
