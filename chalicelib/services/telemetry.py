"""What the service measures, recorded where it happens (``chalicelib/domain/metrics.py`` names
the metrics, ``adapters/metrics.py`` writes them).

Called after the state change it counts is stored (``events.py``: a start, an end), so a count
is never of something that did not happen; a failure to record is logged, never raised.
"""

from __future__ import annotations

import logging

from chalicelib.adapters import metrics
from chalicelib.adapters.models import ExecutionModel
from chalicelib.domain import metrics as catalogue
from chalicelib.domain.statuses import ExecutionStatus

logger = logging.getLogger(__name__)


def _record(metric: catalogue.Metric, value: float, dimension_value: str | None = None) -> None:
    try:
        metrics.record(metric, value, dimension_value)
    except Exception:  # noqa: BLE001 - a metric never fails the work it measures
        logger.warning("could not record %s", metric.name, exc_info=True)


def dispatch_delay_seconds(execution: ExecutionModel) -> float | None:
    """Due instant (its ``scheduledFor``, else its creation) to the container's start."""
    if execution.started_at is None:
        return None
    due = execution.scheduled_for or execution.created_at
    return max(0.0, (execution.started_at - due).total_seconds())


def execution_started(execution: ExecutionModel) -> None:
    try:
        delay = dispatch_delay_seconds(execution)
    except (AttributeError, TypeError):  # an execution without its times: the start still counts
        delay = None
    _record(catalogue.EXECUTIONS_STARTED, 1)
    if delay is not None:
        _record(catalogue.DISPATCH_DELAY, delay)


def is_infrastructure_failure(execution: ExecutionModel, status: str) -> bool:
    """Failed without an exit code of its own: its image, its host or Docker failed it."""
    return status == ExecutionStatus.FAILED.value and getattr(execution, "exit_code", None) is None


def execution_finished(execution: ExecutionModel, status: str) -> None:
    _record(catalogue.EXECUTIONS_FINISHED, 1, status)
    if is_infrastructure_failure(execution, status):
        _record(catalogue.EXECUTIONS_INFRA_FAILED, 1)


def message_received(sent_at: float | None, not_before_ms: int, lead_seconds: float, now: float) -> None:
    """A job message reached a runner: how long it waited once due (a delayed message is due
    ``lead_seconds`` before its instant, when SQS lets it out)."""
    if sent_at is None:
        return
    due = max(sent_at, not_before_ms / 1000 - lead_seconds)
    _record(catalogue.QUEUE_AGE, max(0.0, now - due))


def webhook_failed() -> None:
    _record(catalogue.WEBHOOK_FAILURES, 1)


def runner_slots_in_use(host: str, in_use: int) -> None:
    _record(catalogue.RUNNER_SLOTS_IN_USE, in_use, host)


def flush() -> int:
    """Write what was recorded (Lambda handlers when they return, the runner periodically)."""
    try:
        return metrics.flush()
    except Exception:  # noqa: BLE001
        logger.warning("could not flush metrics", exc_info=True)
        return 0
