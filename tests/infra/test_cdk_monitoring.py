"""The dashboard and alarms of the synthesized stack (infra/cdk/monitoring.py): each alarm watches
the metric it is named after, with the namespace and service the code writes its EMF under."""

from __future__ import annotations

import json
from typing import Any

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
