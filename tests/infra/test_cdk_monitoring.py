"""The dashboard and alarms of the synthesized stack (infra/cdk/monitoring.py): each alarm watches
the metric it is named after, with the namespace and service the code writes its EMF under, and
every graph of the service's own metrics is of a metric the runners send (PutMetricData) or the
Lambdas write (EMF): the same name, namespace and dimensions."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.domain import metric_data
from chalicelib.domain import metrics as catalogue
from chalicelib.settings import Settings
from tests.infra.support import Synthesis


def _alarms(synthesis: Synthesis) -> dict[str, dict[str, Any]]:
    alarms = synthesis.resources("AWS::CloudWatch::Alarm")
    return {
        alarm["Properties"]["AlarmName"]: alarm["Properties"]
        for logical_id, alarm in alarms.items()
        if logical_id.startswith("ServiceMetricsMetricsAlarm")
    }


def _logical_id(synthesis: Synthesis, kind: str, key: str, value: str) -> str:
    [found] = [i for i, r in synthesis.resources(kind).items() if r["Properties"].get(key) == value]
    return found


def _dimensions(alarm: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}


def test_the_alarms_of_the_service_metrics(synthesized: Synthesis) -> None:
    settings = Settings(stage=synthesized.stage)
    stage = synthesized.stage
    alarms = _alarms(synthesized)
    assert set(alarms) == {
        f"{stage}-slipway-jobs-dead-letters-not-empty",
        f"{stage}-slipway-notifications-dead-letters-not-empty",
        f"{stage}-slipway-infrastructure-failures",
        f"{stage}-slipway-dispatcher-errors",
    }

    dead_letters = {"jobs": settings.job_dead_letter_queue, "notifications": settings.notifications_dead_letter_queue}
    for name, queue in dead_letters.items():
        alarm = alarms[f"{stage}-slipway-{name}-dead-letters-not-empty"]
        queue_id = _logical_id(synthesized, "AWS::SQS::Queue", "QueueName", queue)
        assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
        assert _dimensions(alarm) == {"QueueName": {"Fn::GetAtt": [queue_id, "QueueName"]}}
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert alarm["TreatMissingData"] == "notBreaching"

    infra = alarms[f"{stage}-slipway-infrastructure-failures"]
    assert infra["Namespace"] == settings.metrics_namespace
    assert infra["MetricName"] == catalogue.EXECUTIONS_INFRA_FAILED.name
    assert _dimensions(infra) == {"service": settings.metrics_service_name}
    assert (infra["Statistic"], infra["Period"], infra["Threshold"]) == (
        "Sum",
        settings.alarm_period_seconds,
        settings.alarm_infra_failures,
    )
    assert infra["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"

    dispatcher = alarms[f"{stage}-slipway-dispatcher-errors"]
    assert (dispatcher["Namespace"], dispatcher["MetricName"], dispatcher["Threshold"]) == ("AWS/Lambda", "Errors", 1)
    [function_id] = [
        i
        for i, f in synthesized.resources("AWS::Serverless::Function").items()
        if f["Properties"]["Handler"] == "app.dispatch_due"
    ]
    assert _dimensions(dispatcher) == {"FunctionName": {"Ref": function_id}}


def test_the_dashboard_graphs_every_metric_the_code_writes(synthesized: Synthesis) -> None:
    [dashboard] = synthesized.resources("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == f"{synthesized.stage}-slipway"
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in (*catalogue.RECORDED, catalogue.RUNNER_SLOTS_IN_USE):
        assert metric.name in body, metric.name
    for aws_metric in ("ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible", "Errors"):
        assert aws_metric in body
    outputs = synthesized.template["Outputs"]
    assert "MetricsDashboardName" in outputs


def _dashboard_body(synthesis: Synthesis) -> dict[str, Any]:
    """The dashboard's JSON, with the template's references (queues, functions) as ``"REF"``."""
    [dashboard] = synthesis.resources("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    if isinstance(body, dict):
        (separator, parts) = body["Fn::Join"]
        body = separator.join(part if isinstance(part, str) else "REF" for part in parts)
    return dict(json.loads(body))


def _sent_identities(settings: Settings) -> dict[str, set[frozenset[tuple[str, str | None]]]]:
    """Each metric's dimension sets as the runner's sink sends them (the dimension's value left
    open: ``None``), from the real code that makes the PutMetricData entries."""
    recorded = {(metric, "any" if metric.dimension else None): [1.0] for metric in catalogue.RECORDED}
    recorded[(catalogue.RUNNER_SLOTS_IN_USE, "any")] = [1.0]
    entries, _ = metric_data.datums(recorded, settings.metrics_service_name, 0.0)
    sent: dict[str, set[frozenset[tuple[str, str | None]]]] = {}
    for entry in entries:
        dimensions = frozenset((name, None if value == "any" else value) for name, value in entry.dimensions)
        sent.setdefault(entry.name, set()).add(dimensions)
    return sent


def test_every_graph_of_the_service_metrics_is_of_a_metric_the_runners_send(synthesized: Synthesis) -> None:
    settings = Settings(stage=synthesized.stage)
    sent = _sent_identities(settings)
    graphed: dict[str, set[str]] = {}
    searches: list[str] = []
    for widget in _dashboard_body(synthesized)["widgets"]:
        for line in widget.get("properties", {}).get("metrics", []):
            if isinstance(line[0], dict):  # a math expression
                searches.append(line[0]["expression"])
                continue
            namespace, name, *rest = line
            if namespace != settings.metrics_namespace:
                continue
            pairs = [item for item in rest if not isinstance(item, dict)]
            options = next((item for item in rest if isinstance(item, dict)), {})
            dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
            assert dimensions.pop("service") == settings.metrics_service_name, line
            open_dimensions = frozenset([("service", settings.metrics_service_name)]) | {
                (key, None) for key in dimensions
            }
            assert open_dimensions in sent[name], (line, sent[name])
            graphed.setdefault(name, set()).add(options.get("stat", ""))
    # Slots in use, by host: a SEARCH over the dimension set the runners send it with.
    slots = {"service", catalogue.RUNNER_SLOTS_IN_USE.dimension}
    [search] = [s for s in searches if catalogue.RUNNER_SLOTS_IN_USE.name in s]
    schema = "{" + ",".join([settings.metrics_namespace, *sorted(slots, key=str)]) + "}"
    assert schema in search and f'service="{settings.metrics_service_name}"' in search
    assert {frozenset(name for name, _ in dims) for dims in sent[catalogue.RUNNER_SLOTS_IN_USE.name]} == {
        frozenset(slots)
    }
    # The durations are graphed by percentile: the runners send whole distributions (Values/Counts).
    for metric in (catalogue.DISPATCH_DELAY, catalogue.QUEUE_AGE):
        assert {"p50", "p99", "Maximum"} <= graphed[metric.name], graphed[metric.name]
    assert set(graphed) | {catalogue.RUNNER_SLOTS_IN_USE.name} == {m.name for m in catalogue.RECORDED} | {
        catalogue.RUNNER_SLOTS_IN_USE.name
    }
