"""``GET /metrics``: the service's figures in Prometheus' text format.

Two sources, chosen so that the answer is the same whichever process or app instance serves it:

- counters and duration sums (executions started and finished by status, failures by
  infrastructure, dispatch delay, queue age, webhook failures) are the totals kept in the
  counters table by every process that records them (``metrics_local_counters``, on in the
  local stack: the API, the dispatcher and each runner are separate processes, so no one
  process's memory holds them all). Off (AWS), they are CloudWatch's and left out here;
- gauges (slots in use per runner host, hosts available, queue lengths, task and job totals)
  are read at request time from the hosts table, the counters and SQS, as ``/status/`` does.
"""

from __future__ import annotations

from chalicelib.adapters import metrics
from chalicelib.domain import metrics as catalogue
from chalicelib.domain.prometheus_text import Family, Sample, render
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.domain.urls import Urls
from chalicelib.services import farm_status
from chalicelib.settings import get_settings

FINAL_STATUSES = tuple(status.value for status in ExecutionStatus if status.is_finished)


def _dimension_values(metric: catalogue.Metric) -> tuple[str | None, ...]:
    return FINAL_STATUSES if metric is catalogue.EXECUTIONS_FINISHED else (None,)


def _label(metric: catalogue.Metric, value: str | None) -> tuple[tuple[str, str], ...]:
    return () if value is None or metric.dimension is None else ((metric.dimension.lower(), value),)


def counter_families() -> list[Family]:
    """The recorded metrics' stored totals, every series present (0 before its first event)."""
    names = []
    for metric in catalogue.RECORDED:
        for value in _dimension_values(metric):
            parts = ("sum", "count") if metric.kind is catalogue.Kind.SUMMARY else ("",)
            names += [catalogue.counter_key(metric, value, part) for part in parts]
    totals = metrics.stored_totals(names)
    families = []
    for metric in catalogue.RECORDED:
        family = Family(metric.prometheus, metric.kind.value, metric.help)
        for value in _dimension_values(metric):
            labels = _label(metric, value)
            if metric.kind is catalogue.Kind.SUMMARY:
                for part in ("sum", "count"):
                    total = totals.get(catalogue.counter_key(metric, value, part), 0.0)
                    family.samples.append(Sample(f"_{part}", total, labels))
            else:
                family.samples.append(Sample("_total", totals.get(catalogue.counter_key(metric, value), 0.0), labels))
        families.append(family)
    return families


def gauge_families(now: float) -> list[Family]:
    farm = farm_status.status(Urls(""), now)
    slots = Family(catalogue.RUNNER_SLOTS_IN_USE.prometheus, "gauge", catalogue.RUNNER_SLOTS_IN_USE.help)
    available = Family("slipway_host_available", "gauge", "1 while a runner host heart-beats and takes work")
    for host in farm["hosts"]:
        labels = (("host", str(host["id"])), ("pool", str(host["pool"])))
        slots.samples.append(Sample("", float(host["running"] if host["alive"] else 0), labels))
        available.samples.append(Sample("", 1.0 if host["available"] else 0.0, labels))
    queues = Family("slipway_queue_messages", "gauge", "Messages waiting in a queue (SQS's approximate count)")
    queue_lengths = farm["queues"]
    for pool, length in queue_lengths["jobs"]["pools"].items():
        queues.samples.append(Sample("", float(length or 0), (("queue", "jobs"), ("pool", pool))))
    for name, length in (
        ("jobs-dlq", queue_lengths["error"]["length"]),
        ("notifications", queue_lengths["notifications"]["length"]),
        ("notifications-dlq", queue_lengths["notifications"]["error"]),
    ):
        queues.samples.append(Sample("", float(length or 0), (("queue", name),)))
    totals = [
        Family("slipway_tasks", "gauge", "Tasks stored", [Sample("", float(farm["tasks"]["count"]))]),
        Family("slipway_jobs", "gauge", "Jobs stored", [Sample("", float(farm["jobs"]["count"]))]),
    ]
    return [slots, available, queues, *totals]


def report(now: float) -> str:
    families = counter_families() if get_settings().metrics_local_counters else []
    return render(families + gauge_families(now))
