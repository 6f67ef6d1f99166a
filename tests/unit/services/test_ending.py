"""services.ending.end_run through the real ports, against the in-memory adapters: the end and
its retry are one write, and the end is published after it."""

from __future__ import annotations

from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services.ending import end_run
from tests.fakes.installed import Fakes
from tests.fakes.items import JOB, NOW, TASK, a_job, an_execution, spec_of

HOOK = {"finishes": [{"url": "http://hooks.test/end"}]}


def test_a_failed_run_is_ended_and_retried_in_one_write_and_published(fakes: Fakes) -> None:
    spec = spec_of(retries=2, webhooks=HOOK)
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.RUNNING)
    fakes.tables.put(job, execution)

    ended = end_run(execution, ExecutionStatus.FAILED, {"finished_at": NOW, "exit_code": 3}, job, spec, NOW)

    assert ended.ended and ended.retry is not None
    stored = fakes.tables.stored(JOB, execution.execution_id)
    assert (stored.status, stored.exit_code, stored.active_shard) == ("failed", 3, None)
    retry = fakes.tables.stored(JOB, ended.retry.execution_id)
    assert (retry.status, retry.retry_of, retry.attempt) == ("enqueued", execution.execution_id, 1)
    stored_job = fakes.tables.jobs[TASK, JOB]
    assert (stored_job.retry_count, stored_job.execution_count) == (1, 1)
    assert stored_job.last_execution_id == retry.execution_id
    assert [(b["kind"], b["status"], b["executionId"]) for b in fakes.notification_queue.published] == [
        ("finished", "failed", execution.execution_id)
    ]
    assert fakes.job_queue.sent_ids() == [retry.execution_id]


def test_a_run_that_had_already_ended_gets_no_retry_and_no_notification(fakes: Fakes) -> None:
    spec = spec_of(retries=2, webhooks=HOOK)
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.RUNNING)
    fakes.tables.put(job, execution)
    # Stopped since the caller read it.
    fakes.tables.stored(JOB, execution.execution_id).status = ExecutionStatus.STOPPED.value

    ended = end_run(execution, ExecutionStatus.FAILED, {"finished_at": NOW}, job, spec, NOW)

    assert not ended.ended
    assert fakes.tables.stored(JOB, execution.execution_id).status == "stopped"
    assert [e.execution_id for e in fakes.tables.executions_of(JOB)] == [execution.execution_id]
    assert fakes.notification_queue.published == [] and fakes.job_queue.sent == []


def test_a_success_is_published_and_not_retried(fakes: Fakes) -> None:
    spec = spec_of(retries=2, webhooks=HOOK)
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.RUNNING)
    fakes.tables.put(job, execution)

    ended = end_run(execution, ExecutionStatus.DONE, {"finished_at": NOW, "exit_code": 0}, job, spec, NOW)

    assert ended.ended and ended.retry is None
    assert len(fakes.tables.executions_of(JOB)) == 1
    assert [b["status"] for b in fakes.notification_queue.published] == ["done"]
