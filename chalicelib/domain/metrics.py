"""The service's metrics, named once: what each one measures, its unit, and its name both in
CloudWatch (EMF, from the Lambdas and the runner) and in the local ``GET /metrics`` (Prometheus).

Pure data: recording and publishing them is ``adapters/metrics.py``'s job, deciding when to
record them ``services/telemetry.py``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    # Only ever goes up (Prometheus ``counter``; CloudWatch sums it).
    COUNTER = "counter"
    # Observations of a duration: Prometheus ``summary`` (``_sum`` and ``_count``); CloudWatch
    # keeps every value, so its percentiles are CloudWatch's.
    SUMMARY = "summary"
    # A level read now (Prometheus ``gauge``).
    GAUGE = "gauge"


class Unit(Enum):
    """CloudWatch's unit names (Powertools' ``MetricUnit`` values)."""

    COUNT = "Count"
    SECONDS = "Seconds"


@dataclass(frozen=True)
class Metric:
    # CloudWatch metric name (EMF).
    name: str
    # Prometheus family name (without ``_total``/``_sum``/``_count``).
    prometheus: str
    kind: Kind
    unit: Unit
    help: str
    # The one dimension (CloudWatch) / label (Prometheus) it is split by, if any.
    dimension: str | None = None


EXECUTIONS_STARTED = Metric(
    "ExecutionsStarted", "slipway_executions_started", Kind.COUNTER, Unit.COUNT, "Containers started for executions"
)
EXECUTIONS_FINISHED = Metric(
    "ExecutionsFinished",
    "slipway_executions_finished",
    Kind.COUNTER,
    Unit.COUNT,
    "Executions that reached a final status, by status",
    dimension="Status",
)
EXECUTIONS_INFRA_FAILED = Metric(
    "ExecutionsFailedByInfrastructure",
    "slipway_executions_failed_by_infrastructure",
    Kind.COUNTER,
    Unit.COUNT,
    "Executions failed with no exit code of their own (image pull, host gone, Docker fault)",
)
DISPATCH_DELAY = Metric(
    "DispatchDelay",
    "slipway_dispatch_delay_seconds",
    Kind.SUMMARY,
    Unit.SECONDS,
    "Due instant (or enqueue) to container start",
)
QUEUE_AGE = Metric(
    "QueueAge",
    "slipway_queue_age_seconds",
    Kind.SUMMARY,
    Unit.SECONDS,
    "How long a job message waited in the queue after it was due, when a runner received it",
)
WEBHOOK_FAILURES = Metric(
    "WebhookFailures", "slipway_webhook_failures", Kind.COUNTER, Unit.COUNT, "Webhook POST attempts that failed"
)
RUNNER_SLOTS_IN_USE = Metric(
    "RunnerSlotsInUse",
    "slipway_runner_slots_in_use",
    Kind.GAUGE,
    Unit.COUNT,
    "Containers a runner runs now, by host",
    dimension="Host",
)

# What is recorded as events happen (the local stack also keeps them as counters for /metrics).
RECORDED: tuple[Metric, ...] = (
    EXECUTIONS_STARTED,
    EXECUTIONS_FINISHED,
    EXECUTIONS_INFRA_FAILED,
    DISPATCH_DELAY,
    QUEUE_AGE,
    WEBHOOK_FAILURES,
)


def counter_key(metric: Metric, dimension_value: str | None = None, part: str = "") -> str:
    """The name of the stored counter that accumulates ``metric`` (``part``: ``sum`` or
    ``count`` of a summary), e.g. ``metric:ExecutionsFinished:Status=done``."""
    key = f"metric:{metric.name}"
    if dimension_value is not None:
        key += f":{metric.dimension}={dimension_value}"
    return key + (f":{part}" if part else "")
