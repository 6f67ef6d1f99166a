"""domain/prometheus_text.py: what it writes is read back by Prometheus' own parser, escapes and
all; and every recorded metric of the catalogue has a distinct, valid name."""

from __future__ import annotations

import math
import re

from prometheus_client.parser import text_string_to_metric_families

from chalicelib.domain import metrics as catalogue
from chalicelib.domain.prometheus_text import Family, Sample, render


def test_counters_summaries_and_gauges_parse_back_with_their_values_and_labels() -> None:
    text = render(
        [
            Family("slipway_runs", "counter", "Runs\nby status", [Sample("_total", 3, (("status", 'do"ne\\'),))]),
            Family("slipway_delay_seconds", "summary", "Delay", [Sample("_sum", 1.5), Sample("_count", 2)]),
            Family("slipway_level", "gauge", "Level", [Sample("", 0.125, (("host", "a:1"), ("pool", "p")))]),
            Family("slipway_nothing", "gauge", "Not a number yet", [Sample("", math.nan)]),
        ]
    )

    parsed = {family.name: family for family in text_string_to_metric_families(text)}
    assert {name: family.type for name, family in parsed.items()} == {
        "slipway_runs": "counter",
        "slipway_delay_seconds": "summary",
        "slipway_level": "gauge",
        "slipway_nothing": "gauge",
    }
    (runs,) = parsed["slipway_runs"].samples
    assert (runs.name, runs.labels, runs.value) == ("slipway_runs_total", {"status": 'do"ne\\'}, 3.0)
    assert parsed["slipway_runs"].documentation == "Runs\nby status"
    assert {s.name: s.value for s in parsed["slipway_delay_seconds"].samples} == {
        "slipway_delay_seconds_sum": 1.5,
        "slipway_delay_seconds_count": 2.0,
    }
    (level,) = parsed["slipway_level"].samples
    assert (level.labels, level.value) == ({"host": "a:1", "pool": "p"}, 0.125)
    assert math.isnan(parsed["slipway_nothing"].samples[0].value)
    assert text.endswith("\n")


def test_the_catalogue_names_are_distinct_and_valid_in_both_worlds() -> None:
    metrics = [*catalogue.RECORDED, catalogue.RUNNER_SLOTS_IN_USE]
    assert len({m.name for m in metrics}) == len({m.prometheus for m in metrics}) == len(metrics)
    assert all(re.fullmatch(r"[A-Z][A-Za-z]+", m.name) for m in metrics)
    assert all(re.fullmatch(r"slipway_[a-z_]+", m.prometheus) and not m.prometheus.endswith("_total") for m in metrics)
    assert catalogue.counter_key(catalogue.EXECUTIONS_FINISHED, "done") == "metric:ExecutionsFinished:Status=done"
    assert catalogue.counter_key(catalogue.QUEUE_AGE, part="sum") == "metric:QueueAge:sum"
