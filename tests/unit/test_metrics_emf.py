"""The metrics as CloudWatch receives them: Embedded Metric Format documents on stdout, written by
the real adapter (Powertools) when a Lambda handler returns: a route, the notifications handler."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.adapters import metrics
from chalicelib.domain import metrics as catalogue
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import notifications
from chalicelib.settings import get_settings
from tests.fakes.installed import Fakes, install_fakes
from tests.fakes.items import JOB, TASK, a_job, an_execution, spec_of
from tests.unit.services.test_notifications import URL, _batch, _finished


class FakesButMetrics(Fakes):
    """Every adapter faked except the metrics, which write real EMF."""

    def replacements(self) -> list[tuple[ModuleType, object]]:
        return [(module, fake) for module, fake in super().replacements() if module is not metrics]


@pytest.fixture
def adapters(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Fakes:
    fakes = install_fakes(monkeypatch, FakesButMetrics())
    metrics.flush()  # nothing left over from elsewhere
    capsys.readouterr()
    return fakes


def emf_documents(out: str) -> list[dict[str, Any]]:
    documents = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def metric_names(document: dict[str, Any]) -> set[str]:
    return {m["Name"] for block in document["_aws"]["CloudWatchMetrics"] for m in block["Metrics"]}


def test_flush_writes_one_document_per_dimension_value_in_the_settings_namespace(
    adapters: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics.record(catalogue.EXECUTIONS_STARTED, 1)
    metrics.record(catalogue.DISPATCH_DELAY, 0.25)
    metrics.record(catalogue.DISPATCH_DELAY, 0.5)
    metrics.record(catalogue.EXECUTIONS_FINISHED, 1, "done")
    metrics.record(catalogue.EXECUTIONS_FINISHED, 1, "failed")

    assert metrics.flush() == 5
    documents = emf_documents(capsys.readouterr().out)

    settings = get_settings()
    by_status = {doc.get("Status"): doc for doc in documents}
    assert set(by_status) == {None, "done", "failed"}
    plain = by_status[None]
    assert metric_names(plain) == {"ExecutionsStarted", "DispatchDelay"}
    assert plain["DispatchDelay"] == [0.25, 0.5]
    block = plain["_aws"]["CloudWatchMetrics"][0]
    assert block["Namespace"] == settings.metrics_namespace == "Slipway"
    assert plain["service"] == settings.metrics_service_name
    assert {m["Unit"] for m in block["Metrics"] if m["Name"] == "DispatchDelay"} == {"Seconds"}
    assert metric_names(by_status["done"]) == {"ExecutionsFinished"}
    assert ["Status", "service"] in by_status["failed"]["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    # Flushed: the next flush writes nothing.
    assert metrics.flush() == 0 and capsys.readouterr().out == ""


def test_a_route_flushes_what_its_request_recorded(adapters: Fakes, capsys: pytest.CaptureFixture[str]) -> None:
    from app import app

    spec = spec_of()
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.ENQUEUED)
    adapters.tables.put(job, execution)

    with Client(app) as client:
        response = client.http.post(f"/tasks/{TASK}/jobs/{JOB}/executions/{execution.execution_id}/stop/")

    assert response.status_code == 200, response.body
    (document,) = emf_documents(capsys.readouterr().out)
    assert metric_names(document) == {"ExecutionsFinished"} and document["Status"] == "stopped"


def test_the_notifications_handler_flushes_its_webhook_failures(
    adapters: Fakes, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import deliver_notifications

    monkeypatch.setattr(notifications, "_deliver_once", lambda: notifications._deliver)
    spec = spec_of(webhooks={"succeeds": [{"url": URL}]})
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.DONE)
    execution.exit_code = 0
    adapters.tables.put(job, execution)
    adapters.webhook_client.statuses[URL] = 500

    deliver_notifications(_batch(_finished(execution.execution_id)), None)

    (document,) = emf_documents(capsys.readouterr().out)
    assert metric_names(document) == {"WebhookFailures"} and document["WebhookFailures"] == [1.0]
