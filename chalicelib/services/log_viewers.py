"""What the WebSocket handlers do: a viewer connects to an execution's log, or goes away."""

from __future__ import annotations

from chalicelib.services import live_logs, log_replay


def connect(
    connection_id: str, task_id: str | None, job_id: str | None, execution_id: str | None, endpoint: str
) -> None:
    """Record the viewer (NotFound/ValidationError refuse it). A running execution's runner sends
    it the backlog and the live lines; a finished one's whole log is replayed after the connect,
    through ``endpoint`` (the management API of the viewer's WebSocket API)."""
    connected = live_logs.record(connection_id, task_id, job_id, execution_id)
    if connected.finished:
        log_replay.request(connection_id, connected.execution.job_id, connected.execution.execution_id, endpoint)


def disconnect(connection_id: str) -> None:
    live_logs.forget(connection_id)
