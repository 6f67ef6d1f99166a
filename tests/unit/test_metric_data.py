"""chalicelib/domain/metric_data.py: the runner's values as PutMetricData takes them, the same
metrics as the EMF documents of the Lambdas, within the API's limits, and the bounded backlog.

The limits are checked on the bodies botocore itself serializes for each call, in every
protocol it may speak to CloudWatch (JSON, Query, CBOR)."""

from __future__ import annotations

import json
import math
from collections import Counter
from urllib.parse import urlencode

import botocore.session
import pytest
from botocore.serialize import create_serializer

from chalicelib.adapters import metrics
from chalicelib.adapters.cloudwatch_metrics import as_api_entry
from chalicelib.domain import metric_data
from chalicelib.domain import metrics as catalogue
from chalicelib.domain.metric_data import MAX_METRICS_PER_CALL, MAX_VALUES_PER_METRIC, Backlog, Datum, calls, datums
from chalicelib.settings import get_settings

NOW = 1_800_000_000.0
SERVICE = "slipway-test"


def _recorded(
    *items: tuple[catalogue.Metric, str | None, list[float]],
) -> dict[tuple[catalogue.Metric, str | None], list[float]]:
    return {(metric, dimension): values for metric, dimension, values in items}


def _body_sizes(batch: list[Datum], namespace: str = "Slipway") -> dict[str, int]:
    """The size of the body botocore sends for this call, in each protocol CloudWatch speaks."""
    model = botocore.session.get_session().get_service_model("cloudwatch")
    operation = model.operation_model("PutMetricData")
    params = {"Namespace": namespace, "MetricData": [as_api_entry(entry) for entry in batch]}
    sizes = {}
    for protocol in ("json", "query", "smithy-rpc-v2-cbor"):
        body = create_serializer(protocol).serialize_to_request(params, operation)["body"]
        # The Query serializer leaves the form to be encoded when the request is prepared.
        sizes[protocol] = len(urlencode(body).encode() if isinstance(body, dict) else body)
    return sizes


def test_the_entries_are_the_metrics_of_the_emf_documents(capsys: pytest.CaptureFixture[str]) -> None:
    """Same namespace, names, units and dimension sets as what Powertools writes for the Lambdas."""
    recorded = _recorded(
        (catalogue.EXECUTIONS_STARTED, None, [1.0, 1.0]),
        (catalogue.EXECUTIONS_FINISHED, "done", [1.0]),
        (catalogue.EXECUTIONS_FINISHED, "failed", [1.0]),
        (catalogue.EXECUTIONS_INFRA_FAILED, None, [1.0]),
        (catalogue.DISPATCH_DELAY, None, [0.25, 0.5]),
        (catalogue.QUEUE_AGE, None, [0.01]),
        (catalogue.WEBHOOK_FAILURES, None, [1.0]),
        (catalogue.RUNNER_SLOTS_IN_USE, "runner-1", [3.0]),
    )
    settings = get_settings()
    capsys.readouterr()
    metrics._write_emf(recorded)
    emf: set[tuple[str, str, frozenset[tuple[str, str]]]] = set()
    for line in capsys.readouterr().out.splitlines():
        document = json.loads(line)
        (block,) = document["_aws"]["CloudWatchMetrics"]
        assert block["Namespace"] == settings.metrics_namespace
        (dimension_names,) = block["Dimensions"]
        dimensions = frozenset((name, document[name]) for name in dimension_names)
        emf |= {(m["Name"], m["Unit"], dimensions) for m in block["Metrics"]}

    entries, refused = datums(recorded, settings.metrics_service_name, NOW)

    assert refused == 0
    assert {(e.name, e.unit, frozenset(e.dimensions)) for e in entries} == emf
    assert len(emf) == 8


def test_values_are_sent_once_each_with_their_counts() -> None:
    recorded = _recorded((catalogue.DISPATCH_DELAY, None, [0.5, 0.25, 0.5, 0.5, 2.0]))

    ((entry,), _) = datums(recorded, SERVICE, NOW)

    assert entry.values == (0.25, 0.5, 2.0) and entry.counts == (1.0, 3.0, 1.0)
    assert entry.dimensions == (("service", SERVICE),) and entry.unit == "Seconds"
    assert entry.recorded == 5 and entry.timestamp == NOW


def test_nan_and_infinities_are_left_out_and_counted() -> None:
    recorded = _recorded(
        (catalogue.QUEUE_AGE, None, [1.0, math.nan, math.inf]), (catalogue.DISPATCH_DELAY, None, [math.nan])
    )

    entries, refused = datums(recorded, SERVICE, NOW)

    assert refused == 3 and [(e.name, e.values) for e in entries] == [("QueueAge", (1.0,))]


def test_a_metric_with_more_distinct_values_than_a_call_takes_goes_over_several_calls() -> None:
    many = [i / 1000 for i in range(400)]
    recorded = _recorded((catalogue.DISPATCH_DELAY, None, many), (catalogue.EXECUTIONS_STARTED, None, [1.0] * 400))

    entries, _ = datums(recorded, SERVICE, NOW)
    packed = calls(entries, "Slipway")

    delays = [e for e in entries if e.name == "DispatchDelay"]
    assert [len(e.values) for e in delays] == [150, 150, 100]
    assert len(packed) == 3
    for batch in packed:
        names = Counter(e.identity for e in batch)
        assert max(names.values()) == 1, "at most one entry of a metric per call"
        assert all(len(e.values) <= MAX_VALUES_PER_METRIC for e in batch)
    # Nothing lost or doubled: the distribution comes out whole.
    sent = Counter({v: c for e in delays for v, c in zip(e.values, e.counts, strict=True)})
    assert sent == Counter(many)


def test_no_call_holds_more_than_a_thousand_metrics() -> None:
    recorded = _recorded(*[(catalogue.RUNNER_SLOTS_IN_USE, f"host-{n}", [1.0]) for n in range(2500)])

    packed = calls(datums(recorded, SERVICE, NOW)[0], "Slipway")

    assert [len(batch) for batch in packed] == [MAX_METRICS_PER_CALL, MAX_METRICS_PER_CALL, 500]


def test_no_call_body_passes_one_megabyte_in_any_protocol() -> None:
    # 900 metrics of 150 distinct values each, with long host names: about 4 MB as JSON.
    host = "h" * 200
    recorded = _recorded(
        *[(catalogue.RUNNER_SLOTS_IN_USE, f"{host}-{n}", [v * 1.000001 + n for v in range(150)]) for n in range(900)]
    )
    entries = datums(recorded, SERVICE, NOW)[0]

    packed = calls(entries, "Slipway")

    assert len(packed) > 4 and sum(len(batch) for batch in packed) == len(entries)
    for batch in packed:
        sizes = _body_sizes(batch)
        assert max(sizes.values()) < 1_000_000, sizes
        # The estimate bounds the real body from above.
        assert sum(e.estimated_bytes() for e in batch) >= max(sizes.values())


def test_the_backlog_keeps_the_newest_values_within_its_bound() -> None:
    def entry(name: str, count: int, at: float = NOW) -> Datum:
        return Datum(name, "Count", (("service", SERVICE),), at, tuple(float(v) for v in range(count)), (1.0,) * count)

    backlog = Backlog(max_values=10)
    assert backlog.keep([entry("b", 4), entry("c", 4)]) == []
    # What a later failed send gives back is older than what is held: it goes first, and first out.
    dropped = backlog.keep([entry("a", 4)])

    assert [e.name for e in dropped] == ["a"] and backlog.values == 8 and backlog.recorded == 8
    # Only as many of the oldest as the bound needs go.
    assert [e.name for e in backlog.keep([entry("x", 1), entry("y", 2)])] == ["x"]
    fresh, expired = backlog.take(NOW + 60)
    assert [e.name for e in fresh] == ["y", "b", "c"] and expired == [] and len(backlog) == 0


def test_a_backlog_of_no_values_keeps_nothing() -> None:
    backlog = Backlog(max_values=0)
    kept = Datum("a", "Count", (("service", SERVICE),), NOW, (1.0,), (1.0,))

    assert backlog.keep([kept]) == [kept] and len(backlog) == 0


def test_the_backlog_drops_what_cloudwatch_would_refuse_as_too_old() -> None:
    backlog = Backlog(max_values=100)
    old = Datum("a", "Count", (("service", SERVICE),), NOW - metric_data.MAX_AGE_SECONDS - 1, (1.0,), (5.0,))
    recent = Datum("b", "Count", (("service", SERVICE),), NOW - 3600, (1.0,), (2.0,))
    backlog.keep([old, recent])

    fresh, expired = backlog.take(NOW)

    assert fresh == [recent] and expired == [old] and backlog.recorded == 0
