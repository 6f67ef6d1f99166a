"""The running totals of tasks and jobs (one item per counter), read by the listings and /status/.

They are incremented inside the transaction that creates a task or a job (``job_repository``),
so a total never counts something that was not stored.
"""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from chalicelib.adapters.models import CounterModel

TASKS = "tasks"
JOBS = "jobs"


def count(name: str) -> int:
    """The value of counter ``name`` (0 before anything was counted)."""
    try:
        return int(CounterModel.get(name).value)
    except DoesNotExist:
        return 0
