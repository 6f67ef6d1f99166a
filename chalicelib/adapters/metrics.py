"""Where metrics go: CloudWatch, as ``metrics_sink`` says, and, where the settings ask for it
(the local stack), running totals in the counters table for ``GET /metrics``.

- ``emf-stdout`` (the Lambdas): Embedded Metric Format lines on stdout (Powertools), which the
  function's log group turns into metrics;
- ``cloudwatch`` (the runner in AWS, whose stdout no one reads for EMF): ``PutMetricData`` calls,
  same namespace, names, units and dimensions (``cloudwatch_metrics.py``);
- ``off``: nowhere (the local stack, whose figures are the stored totals).

``record`` only buffers (in memory, under a lock: the runner records from many threads);
``flush`` writes what was buffered. Lambda handlers flush when they return, the runner every
``metrics_flush_seconds``. The stored totals are added up in memory too and written by a
background thread every ``metrics_totals_seconds`` (and by each ``flush``), one ``ADD`` per
counter whatever the number of events: no run waits for a metric. A metric never fails the work
it measures: every error here is logged (and, for the ``cloudwatch`` sink, the values kept).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from pynamodb.exceptions import PynamoDBException

from chalicelib.adapters import cloudwatch_metrics
from chalicelib.adapters.models import CounterModel
from chalicelib.domain.metrics import Kind, Metric, counter_key
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)

_lock = threading.Lock()
# (metric, dimension value) -> the values recorded since the last flush.
_buffer: dict[tuple[Metric, str | None], list[float]] = defaultdict(list)
# Stored counter name -> what to add to it at the next write of the totals.
_totals: dict[str, float] = defaultdict(float)
_totals_lock = threading.Lock()
_writer: threading.Thread | None = None


def record(metric: Metric, value: float, dimension_value: str | None = None) -> None:
    """Buffer one value of ``metric`` (and add it to the stored totals when they are kept)."""
    settings = get_settings()
    if settings.metrics_sink != "off":
        with _lock:
            _buffer[(metric, dimension_value)].append(float(value))
    if settings.metrics_local_counters and metric.kind is not Kind.GAUGE:
        _add_to_totals(metric, value, dimension_value)


def flush() -> int:
    """Write the buffered values to the sink, and the totals; answers how many values went out."""
    write_totals()
    with _lock:
        pending = dict(_buffer)
        _buffer.clear()
    if get_settings().metrics_sink == "cloudwatch":
        # Even with nothing new: what an earlier flush could not send goes now.
        return cloudwatch_metrics.publish(pending)
    if not pending:
        return 0
    return _write_emf(pending)


def _write_emf(pending: dict[tuple[Metric, str | None], list[float]]) -> int:
    """One EMF document per dimension value, on stdout."""
    settings = get_settings()
    by_dimension: dict[tuple[str | None, str | None], list[tuple[Metric, list[float]]]] = defaultdict(list)
    for (metric, dimension_value), values in pending.items():
        by_dimension[(metric.dimension, dimension_value)].append((metric, values))
    written = 0
    for (dimension, dimension_value), metrics in by_dimension.items():
        emf = EphemeralMetrics(namespace=settings.metrics_namespace, service=settings.metrics_service_name)
        try:
            if dimension is not None and dimension_value is not None:
                emf.add_dimension(dimension, dimension_value)
            for metric, values in metrics:
                for value in values:
                    emf.add_metric(metric.name, MetricUnit(metric.unit.value), value)
                    written += 1
            emf.flush_metrics()
        except Exception:
            logger.exception("could not write %d metric values", written)
    return written


def _add_to_totals(metric: Metric, value: float, dimension_value: str | None) -> None:
    with _lock:
        if metric.kind is Kind.SUMMARY:
            _totals[counter_key(metric, dimension_value, "sum")] += value
            _totals[counter_key(metric, dimension_value, "count")] += 1
        else:
            _totals[counter_key(metric, dimension_value)] += value
    _start_writer()


def write_totals() -> int:
    """Add what was counted since the last write to the stored totals; answers how many counters
    were written. What could not be written is kept for the next time."""
    with _totals_lock:
        with _lock:
            pending = dict(_totals)
            _totals.clear()
        written = 0
        for name, amount in pending.items():
            try:
                CounterModel(name).update(actions=[CounterModel.value.add(amount)])
                written += 1
            except (PynamoDBException, OSError):
                logger.warning("could not add to the stored total %s; kept for the next write", name, exc_info=True)
                with _lock:
                    _totals[name] += amount
        return written


def _start_writer() -> None:
    global _writer
    with _lock:
        if _writer is not None:
            return
        _writer = threading.Thread(target=_write_forever, name="metric-totals", daemon=True)
    _writer.start()


def _write_forever() -> None:
    interval = get_settings().metrics_totals_seconds
    while True:
        time.sleep(interval)
        try:
            write_totals()
        except Exception:
            logger.exception("writing the metric totals failed")


def stored_totals(names: list[str]) -> dict[str, float]:
    """The stored totals of these counter names (absent ones are left out)."""
    found: dict[str, float] = {}
    for item in CounterModel.batch_get(names):
        found[item.name] = float(item.value or 0)
    return found
