"""services.jobs.enqueue against the in-memory adapters: what is stored and what is sent."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.adapters import counters
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import jobs
from chalicelib.settings import get_settings
from tests.fakes.installed import Fakes
from tests.fakes.items import JOB, NOW, TASK

BODY = {"image": "busybox", "command": "true"}


def test_an_immediate_job_stores_task_job_and_execution_and_sends_it(fakes: Fakes) -> None:
    enqueued = jobs.enqueue(TASK, BODY, now=NOW)

    assert enqueued.execution_id is not None and enqueued.queue_job_id == "message-1"
    job = fakes.tables.jobs[TASK, enqueued.job_id]
    assert (job.execution_count, job.last_execution_id, job.next_run_at) == (1, enqueued.execution_id, None)
    execution = fakes.tables.stored(enqueued.job_id, enqueued.execution_id)
    assert execution.status == ExecutionStatus.ENQUEUED.value and execution.awaiting_shard is not None
    assert fakes.job_queue.sent_ids() == [enqueued.execution_id]
    assert fakes.job_queue.sent[0][1] == 0
    assert (fakes.tables.count(counters.TASKS), fakes.tables.count(counters.JOBS)) == (1, 1)
    assert TASK in fakes.tables.tasks


def test_a_job_starting_in_ten_minutes_is_scheduled_not_run(fakes: Fakes) -> None:
    enqueued = jobs.enqueue(TASK, {**BODY, "startIn": "10m"}, now=NOW)

    assert enqueued.execution_id is None
    job = fakes.tables.jobs[TASK, enqueued.job_id]
    assert job.scheduled and job.next_run_at == (NOW + timedelta(minutes=10)).timestamp()
    assert fakes.tables.executions_of(enqueued.job_id) == []
    assert fakes.job_queue.sent == []
    assert fakes.tables.due_jobs((NOW + timedelta(minutes=10)).timestamp()) == [(TASK, enqueued.job_id)]


def test_a_job_due_before_the_next_tick_is_dispatched_at_once_delayed_to_its_instant(fakes: Fakes) -> None:
    enqueued = jobs.enqueue(TASK, {**BODY, "startIn": "30s"}, now=NOW)

    (execution,) = fakes.tables.executions_of(enqueued.job_id)
    assert execution.scheduled_for == NOW + timedelta(seconds=30)
    assert fakes.tables.jobs[TASK, enqueued.job_id].next_run_at is None
    ((message, delay),) = fakes.job_queue.sent
    assert message.execution_id == execution.execution_id
    assert delay == 30 - get_settings().schedule_lead_seconds
    assert message.not_before_ms == int((NOW + timedelta(seconds=30)).timestamp() * 1000)


def test_a_job_starting_at_an_instant_waits_for_it(fakes: Fakes) -> None:
    start_at = int((NOW + timedelta(hours=2)).timestamp())

    enqueued = jobs.enqueue(TASK, {**BODY, "startAt": start_at}, now=NOW)

    assert fakes.tables.jobs[TASK, enqueued.job_id].next_run_at == start_at
    assert fakes.job_queue.sent == []


def test_a_cron_job_waits_for_its_first_tick(fakes: Fakes) -> None:
    enqueued = jobs.enqueue(TASK, {**BODY, "cron": "0 * * * *"}, now=NOW)

    job = fakes.tables.jobs[TASK, enqueued.job_id]
    assert job.next_run_at == NOW.replace(hour=6, minute=0, second=0).timestamp()
    assert job.scheduled and fakes.tables.executions_of(enqueued.job_id) == []
    assert fakes.job_queue.sent == []


def test_a_put_replaces_the_job_and_cancels_its_pending_scheduled_run(fakes: Fakes) -> None:
    first = jobs.enqueue(TASK, {**BODY, "startIn": "30s"}, job_id=JOB, now=NOW)
    (pending,) = fakes.tables.executions_of(JOB)

    replaced = jobs.enqueue(TASK, {**BODY, "command": "echo new"}, job_id=JOB, now=NOW + timedelta(seconds=1))

    assert first.job_id == replaced.job_id == JOB and replaced.execution_id is not None
    # The pending run was only scheduled (never a run): it is gone, and was never counted.
    assert pending.status == ExecutionStatus.SCHEDULED.value
    assert [e.execution_id for e in fakes.tables.executions_of(JOB)] == [replaced.execution_id]
    fresh = fakes.tables.stored(JOB, replaced.execution_id)
    assert fresh.status == ExecutionStatus.ENQUEUED.value and fresh.command == "echo new"
    job = fakes.tables.jobs[TASK, JOB]
    assert job.spec["command"] == "echo new" and job.execution_count == 1 and job.next_run_at is None
    assert fakes.job_queue.sent_ids() == [pending.execution_id, replaced.execution_id]
    assert fakes.tables.count(counters.JOBS) == 1


def test_a_put_of_a_new_schedule_replaces_the_old_one(fakes: Fakes) -> None:
    jobs.enqueue(TASK, {**BODY, "cron": "0 * * * *"}, job_id=JOB, now=NOW)

    jobs.enqueue(TASK, {**BODY, "startIn": "1h30m"}, job_id=JOB, now=NOW)

    job = fakes.tables.jobs[TASK, JOB]
    assert job.next_run_at == (NOW + timedelta(minutes=90)).timestamp()
    assert fakes.tables.due_jobs((NOW + timedelta(days=1)).timestamp()) == [(TASK, JOB)]
