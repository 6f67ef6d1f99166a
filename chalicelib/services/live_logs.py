"""Live log viewers: which WebSocket connection watches which execution, and what it is sent.

Messages (JSON text frames), in the order a viewer receives them:
  ``{"lines": [{"seq": 1, "stream": "stdout", "text": "..."}, ...]}`` — a batch of lines; ``seq``
  numbers every line of one execution (both streams) from 1, so a client that reconnects can
  drop what it already shows;
  ``{"done": true, "status": "done", "exitCode": 0}`` — the execution ended; the server then
  closes the socket (the local front door with close reason ``done``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist

from chalicelib.adapters.models import ConnectionModel, ExecutionModel
from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import lookups
from chalicelib.settings import get_settings

# Close reason of a socket whose execution has ended: the API document's clients stop there.
DONE_REASON = "done"


@dataclass(frozen=True)
class LogLine:
    seq: int
    stream: str
    text: str

    def to_dict(self) -> dict[str, object]:
        return {"seq": self.seq, "stream": self.stream, "text": self.text}

    @property
    def size(self) -> int:
        """Bytes this line adds to a message (its JSON, roughly, never under)."""
        return len(self.text.encode("utf-8")) * 2 + len(self.stream) + 40


def lines_message(lines: Iterable[LogLine]) -> str:
    return json.dumps({"lines": [line.to_dict() for line in lines]})


def done_message(status: str, exit_code: int | None) -> str:
    return json.dumps({"done": True, "status": status, "exitCode": exit_code})


def batches(lines: list[LogLine], max_bytes: int) -> Iterator[list[LogLine]]:
    """Cut ``lines`` into runs whose message stays under ``max_bytes`` (a longer line goes alone)."""
    batch: list[LogLine] = []
    size = 0
    for line in lines:
        if batch and size + line.size > max_bytes:
            yield batch
            batch, size = [], 0
        batch.append(line)
        size += line.size
    if batch:
        yield batch


def text_lines(text: str) -> list[str]:
    """The lines of a stored output (a final newline ends the last line, it adds none)."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


@dataclass(frozen=True)
class Connected:
    connection: ConnectionModel
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
    connection = ConnectionModel(
        connection_id,
        execution_id=execution.execution_id,
        job_id=job_id,
        task_id=task_id,
        connected_at=now,
        expires_at=now + timedelta(seconds=get_settings().ws_connection_ttl_seconds),
    )
    connection.save()
    current = lookups.require_execution(task_id, job_id, execution.execution_id)
    return Connected(connection, current)


def forget(connection_id: str) -> None:
    ConnectionModel(connection_id).delete()


def get(connection_id: str) -> ConnectionModel | None:
    try:
        return ConnectionModel.get(connection_id, consistent_read=True)
    except DoesNotExist:
        return None


def viewers(execution_id: str) -> list[str]:
    """Connection ids watching ``execution_id`` (one Query on the by-execution index)."""
    return [item.connection_id for item in ConnectionModel.by_execution.query(execution_id)]
