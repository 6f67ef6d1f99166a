"""Live log viewers: what the WebSocket handlers do when a viewer connects to an execution's log,
or goes away. A running execution's runner sends the viewer the backlog and the live lines
(``runner/log_fanout.py``); a finished one's whole log is replayed (``log_replay.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.adapters import connections
from chalicelib.adapters.models import ExecutionModel
from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import log_replay, lookups
from chalicelib.settings import get_settings


@dataclass(frozen=True)
class Connected:
    execution: ExecutionModel

    @property
    def finished(self) -> bool:
        return ExecutionStatus(self.execution.status).is_finished


def record(
    connection_id: str,
    task_id: str | None,
    job_id: str | None,
    execution_id: str | None = None,
    now: datetime | None = None,
) -> Connected:
    """Record a viewer of an execution (the given one, or the job's last); NotFound when the
    task, job or execution does not exist, so the upgrade is refused.

    The record is written before the execution's status is read: a runner that ends the
    execution after this read finds the record in its last look at the viewers.
    """
    if not task_id or not job_id:
        raise ValidationError("taskId and jobId are required", field="taskId" if not task_id else "jobId")
    if execution_id:
        execution = lookups.require_execution(task_id, job_id, execution_id)
    else:
        execution = lookups.require_latest_execution(task_id, job_id)[1]
    now = now or utcnow()
    connections.add(
        connection_id, execution.execution_id, job_id, task_id, now, get_settings().ws_connection_ttl_seconds
    )
    current = lookups.require_execution(task_id, job_id, execution.execution_id)
    return Connected(current)


def endpoint_of(api_id: str, stage: str, region: str) -> str:
    """The management endpoint of an API Gateway WebSocket API, from a handler's event."""
    return get_settings().ws_management_url or f"https://{api_id}.execute-api.{region}.amazonaws.com/{stage}"


def connect(
    connection_id: str, task_id: str | None, job_id: str | None, execution_id: str | None, endpoint: str
) -> None:
    """Record the viewer (NotFound/ValidationError refuse it). A running execution's runner sends
    it the backlog and the live lines; a finished one's whole log is replayed after the connect,
    through ``endpoint`` (the management API of the viewer's WebSocket API)."""
    connected = record(connection_id, task_id, job_id, execution_id)
    if connected.finished:
        log_replay.request(connection_id, connected.execution.job_id, connected.execution.execution_id, endpoint)


def disconnect(connection_id: str) -> None:
    connections.forget(connection_id)
