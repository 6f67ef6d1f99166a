"""Ending a run: the one way an execution gets its final status, from its runner or the reaper.

    plan the retry owed (retries.plan_retry)
      → store the end, mark its ``finished`` event owed (the outbox) and create the retry, in
        one transaction (execution_repository.finish_execution)
      → settle (the runner stops heart-beating the run)
      → publish ``finished`` and clear its mark (events) → send the retry's message (executions.send)

Whoever ends the run, the order is the same, so webhooks, e-mails and retries never depend on
which of the two did it. The store's condition (still pulling/running, and with
``heartbeat_at`` the reaper's guard) makes exactly one of them succeed. Should the publish fail
or its caller die right after the store, the mark stays and the dispatcher's tick publishes it
(``events.republish_owed``): an end is never left untold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.adapters import execution_repository
from chalicelib.adapters.models import ExecutionModel, JobModel
from chalicelib.domain.payload import JobSpec
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import events, executions
from chalicelib.services.retries import plan_retry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ports:
    """What ending a run talks to (unit tests pass in-memory fakes)."""

    # execution_repository.finish_execution: (execution, values, retry, heartbeat_at=) -> stored?
    finish: Callable[..., bool]
    # events.execution_ended: (execution, status, spec) -> None
    publish_ended: Callable[[ExecutionModel, str, JobSpec | None], None]
    # executions.send: (execution, now) -> message id or None
    send: Callable[[ExecutionModel, datetime], str | None]


def default_ports() -> Ports:
    return Ports(execution_repository.finish_execution, events.execution_ended, executions.send)


@dataclass(frozen=True)
class Ended:
    """The outcome: ``ended`` False when the run had already ended or changed hands."""

    ended: bool
    retry: ExecutionModel | None = None


def _nothing() -> None:
    return None


def end_run(
    execution: ExecutionModel,
    status: ExecutionStatus,
    values: dict[str, Any],
    job: JobModel | None,
    spec: JobSpec | None,
    now: datetime,
    *,
    heartbeat_at: float | None = None,
    settle: Callable[[], None] = _nothing,
    ports: Ports | None = None,
) -> Ended:
    """End ``execution`` with ``status`` (and ``values``: ``finished_at``, ``error``, outputs...).

    ``job``/``spec`` None: the job is gone, no retry is owed. ``heartbeat_at``: only while the
    runner's last heartbeat is still that one (the reaper). ``settle`` is called once the write
    has landed or been refused, before anyone is told.
    """
    ports = ports or default_ports()
    retry = plan_retry(execution, status, job, spec, now) if job is not None and spec is not None else None
    owed = events.end_marks(execution, status.value, spec, now)
    stored = ports.finish(execution, {"status": status.value, **values, **owed}, retry, heartbeat_at=heartbeat_at)
    settle()
    if not stored:
        return Ended(False)
    # After the end is stored, so the notification never delays it (and never claims an end
    # that did not happen).
    ports.publish_ended(execution, status.value, spec)
    if retry is not None:
        ports.send(retry, now)
        logger.info(
            "execution %s will be retried as %s at %s", execution.execution_id, retry.execution_id, retry.scheduled_for
        )
    return Ended(True, retry)
