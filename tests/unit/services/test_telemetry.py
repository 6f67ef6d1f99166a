"""What the services measure (services/telemetry.py), against the in-memory adapters: starts and
ends counted by status where they are stored, infrastructure failures told from a job's own exit
code, the dispatch delay from the due instant, the queue age, webhook failures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import events, notifications, telemetry
from chalicelib.services.ending import end_run
from chalicelib.services.stopping import stop_execution
from tests.fakes.installed import Fakes
from tests.fakes.items import JOB, NOW, TASK, a_job, an_execution, spec_of
from tests.unit.services.test_notifications import URL, _batch, _finished


def test_an_end_is_counted_by_status_and_a_failure_without_exit_code_is_the_infrastructures(fakes: Fakes) -> None:
    spec = spec_of()
    job = a_job(spec)
    own = an_execution(spec, job, ExecutionStatus.RUNNING)
    pulled = an_execution(spec, job, ExecutionStatus.RUNNING)
    fakes.tables.put(job, own, pulled)

    end_run(own, ExecutionStatus.FAILED, {"finished_at": NOW, "exit_code": 3}, job, spec, NOW)
    assert fakes.metrics.named("ExecutionsFinished") == [(1.0, "failed")]
    assert fakes.metrics.named("ExecutionsFailedByInfrastructure") == []

    end_run(pulled, ExecutionStatus.FAILED, {"finished_at": NOW, "error": "pull access denied"}, job, spec, NOW)
    assert fakes.metrics.named("ExecutionsFinished") == [(1.0, "failed"), (1.0, "failed")]
    assert fakes.metrics.named("ExecutionsFailedByInfrastructure") == [(1.0, None)]


def test_an_end_refused_by_its_condition_is_not_counted(fakes: Fakes) -> None:
    spec = spec_of()
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.RUNNING)
    fakes.tables.put(job, execution)
    fakes.tables.stored(JOB, execution.execution_id).status = ExecutionStatus.DONE.value

    end_run(execution, ExecutionStatus.FAILED, {"finished_at": NOW}, job, spec, NOW)

    assert fakes.metrics.named("ExecutionsFinished") == []


def test_a_stop_before_the_claim_counts_a_stopped_end(fakes: Fakes) -> None:
    spec = spec_of()
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.ENQUEUED)
    fakes.tables.put(job, execution)

    stop_execution(TASK, JOB, execution.execution_id)

    assert fakes.metrics.named("ExecutionsFinished") == [(1.0, "stopped")]


def test_a_start_is_counted_with_its_delay_from_the_due_instant(fakes: Fakes) -> None:
    spec = spec_of()
    execution = an_execution(spec, a_job(spec))
    execution.scheduled_for = NOW
    execution.started_at = NOW + timedelta(seconds=1.25)

    events.execution_started(execution, spec)

    assert fakes.metrics.named("ExecutionsStarted") == [(1.0, None)]
    assert fakes.metrics.named("DispatchDelay") == [(1.25, None)]


def test_a_start_told_again_by_a_reattached_runner_is_not_counted_again(fakes: Fakes) -> None:
    spec = spec_of()
    execution = an_execution(spec, a_job(spec))
    execution.started_at = NOW

    events.execution_started(execution, spec, count=False)

    assert fakes.metrics.named("ExecutionsStarted") == []
    assert fakes.metrics.named("DispatchDelay") == []


def test_without_a_due_instant_the_delay_counts_from_the_enqueue(fakes: Fakes) -> None:
    spec = spec_of()
    execution = an_execution(spec, a_job(spec))
    execution.scheduled_for = None
    execution.started_at = execution.created_at + timedelta(seconds=0.5)

    assert telemetry.dispatch_delay_seconds(execution) == pytest.approx(0.5)


def test_queue_age_counts_from_when_the_message_was_due(fakes: Fakes) -> None:
    # Sent at 100, due (its instant less the lead) at 109: received at 110, it waited 1 s.
    telemetry.message_received(100.0, 110_000, 1.0, 110.0)
    # An undelayed message waited from its send.
    telemetry.message_received(100.0, 0, 1.0, 102.5)
    telemetry.message_received(None, 0, 1.0, 102.5)

    assert fakes.metrics.named("QueueAge") == [(1.0, None), (2.5, None)]


def test_each_failed_webhook_attempt_is_counted(fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "_deliver_once", lambda: notifications._deliver)
    spec = spec_of(webhooks={"succeeds": [{"url": URL, "retries": 1}]})
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.DONE)
    execution.exit_code = 0
    fakes.tables.put(job, execution)
    fakes.webhook_client.statuses[URL] = 503

    notifications.handle_batch(_batch(_finished(execution.execution_id)))
    notifications.handle_batch(_batch(fakes.notification_queue.published[0]))

    assert fakes.metrics.named("WebhookFailures") == [(1.0, None), (1.0, None)]


def test_a_delivered_webhook_is_no_failure(fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "_deliver_once", lambda: notifications._deliver)
    spec = spec_of(webhooks={"succeeds": [{"url": URL}]})
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.DONE)
    execution.exit_code = 0
    fakes.tables.put(job, execution)

    notifications.handle_batch(_batch(_finished(execution.execution_id)))

    assert len(fakes.webhook_client.posts) == 1 and fakes.metrics.named("WebhookFailures") == []
