"""Live log viewers' WebSocket connections in DynamoDB: which connection watches which execution."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.adapters.models import ConnectionModel


def add(connection_id: str, execution_id: str, job_id: str, task_id: str, now: datetime, ttl_seconds: int) -> None:
    """Record a viewer; DynamoDB's TTL removes the record should no disconnect ever arrive."""
    ConnectionModel(
        connection_id,
        execution_id=execution_id,
        job_id=job_id,
        task_id=task_id,
        connected_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    ).save()


def forget(connection_id: str) -> None:
    ConnectionModel(connection_id).delete()


def viewers(execution_id: str) -> list[str]:
    """Connection ids watching ``execution_id`` (one Query on the by-execution index)."""
    return [item.connection_id for item in ConnectionModel.by_execution.query(execution_id)]
