"""Execution statuses and the transitions between them."""

from __future__ import annotations

from enum import Enum


class ExecutionStatus(str, Enum):
    # Made ahead of its due instant by the dispatcher's look-ahead: not a run yet. It is not
    # listed, not counted and never a job's "last execution" until a runner claims it (or the
    # reconciler, its message late, makes it ``enqueued``).
    SCHEDULED = "scheduled"
    ENQUEUED = "enqueued"
    PULLING = "pulling"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    TIMEDOUT = "timedout"
    STOPPED = "stopped"
    EXPIRED = "expired"

    @property
    def is_finished(self) -> bool:
        return self in FINISHED

    @property
    def is_active(self) -> bool:
        return self in (ExecutionStatus.PULLING, ExecutionStatus.RUNNING)


FINISHED = frozenset(
    {
        ExecutionStatus.DONE,
        ExecutionStatus.FAILED,
        ExecutionStatus.TIMEDOUT,
        ExecutionStatus.STOPPED,
        ExecutionStatus.EXPIRED,
    }
)
