"""services.suspension: a suspended cron makes no executions; resuming starts from now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import Conflict, ValidationError
from chalicelib.domain.pagination import parse_page
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.domain.urls import Urls
from chalicelib.services import dispatcher, jobs, queries, stopping, suspension
from tests.fakes.installed import Fakes
from tests.fakes.items import JOB, NOW, TASK

CRON = {"image": "busybox", "command": "true", "cron": "*/5 * * * *"}


def _epoch(*hms: int) -> float:
    return datetime(2026, 3, 4, *hms, tzinfo=UTC).timestamp()


def test_a_suspended_cron_leaves_the_due_index_and_makes_no_executions(fakes: Fakes) -> None:
    jobs.enqueue(TASK, CRON, job_id=JOB, now=NOW)

    suspension.suspend(TASK, JOB, now=NOW)

    job = fakes.tables.jobs[TASK, JOB]
    assert (job.suspended, job.next_run_at, job.due_shard, job.scheduled) == (True, None, None, False)
    for minutes in range(0, 120, 5):
        assert dispatcher.tick(NOW + timedelta(minutes=minutes)).created == []
    assert fakes.tables.executions_of(JOB) == []
    details = queries.job_details(TASK, JOB, parse_page(None), Urls("http://x"))
    assert details["job"]["suspended"] is True and details["job"]["nextRunAt"] is None


def test_suspending_cancels_the_tick_the_dispatcher_made_ahead_of_time(fakes: Fakes) -> None:
    jobs.enqueue(TASK, CRON, job_id=JOB, now=NOW)
    ahead = dispatcher.tick(NOW + timedelta(minutes=3))  # 05:09:07: the 05:10 tick is within the look-ahead
    assert len(ahead.created) == 1
    assert fakes.tables.stored(JOB, ahead.created[0]).status == ExecutionStatus.SCHEDULED.value

    suspension.suspend(TASK, JOB, now=NOW + timedelta(minutes=3))

    # Deleted, not ended: it never was a run (see stopping.request_stop).
    assert (JOB, ahead.created[0]) not in fakes.tables.executions


def test_a_running_tick_goes_on_when_its_cron_is_suspended(fakes: Fakes) -> None:
    jobs.enqueue(TASK, CRON, job_id=JOB, now=NOW)
    created = dispatcher.tick(NOW + timedelta(minutes=3)).created[0]
    fakes.tables.stored(JOB, created).status = ExecutionStatus.RUNNING.value

    suspension.suspend(TASK, JOB, now=NOW + timedelta(minutes=4))

    stored = fakes.tables.stored(JOB, created)
    assert stored.status == ExecutionStatus.RUNNING.value and not stored.stop_requested


def test_resuming_schedules_the_next_instant_after_now_not_the_missed_ones(fakes: Fakes) -> None:
    jobs.enqueue(TASK, CRON, job_id=JOB, now=NOW)
    suspension.suspend(TASK, JOB, now=NOW)
    later = NOW + timedelta(hours=1)  # 06:06:07: twelve ticks were missed meanwhile

    job = suspension.resume(TASK, JOB, now=later)

    assert (job.suspended, job.next_run_at) == (None, _epoch(6, 10))
    stored = fakes.tables.jobs[TASK, JOB]
    assert (stored.suspended, stored.next_run_at, stored.scheduled) == (None, _epoch(6, 10), True)
    assert dispatcher.tick(later).created == []
    created = dispatcher.tick(later + timedelta(minutes=3)).created
    assert len(created) == 1
    assert fakes.tables.stored(JOB, created[0]).scheduled_for == datetime(2026, 3, 4, 6, 10, tzinfo=UTC)


def test_a_resume_due_within_the_look_ahead_dispatches_at_once(fakes: Fakes) -> None:
    jobs.enqueue(TASK, CRON, job_id=JOB, now=NOW)
    suspension.suspend(TASK, JOB, now=NOW)

    suspension.resume(TASK, JOB, now=datetime(2026, 3, 4, 6, 9, 30, tzinfo=UTC))

    [execution] = fakes.tables.executions_of(JOB)
    assert execution.scheduled_for == datetime(2026, 3, 4, 6, 10, tzinfo=UTC)
    assert fakes.job_queue.sent_ids() == [execution.execution_id]
    assert fakes.tables.jobs[TASK, JOB].next_run_at == _epoch(6, 15)


def test_suspend_and_resume_twice_change_nothing_more(fakes: Fakes) -> None:
    jobs.enqueue(TASK, CRON, job_id=JOB, now=NOW)
    suspension.suspend(TASK, JOB, now=NOW)
    assert suspension.suspend(TASK, JOB, now=NOW + timedelta(minutes=1)).suspended is True
    suspension.resume(TASK, JOB, now=NOW)
    again = suspension.resume(TASK, JOB, now=NOW + timedelta(hours=5))
    assert again.next_run_at == _epoch(5, 10)


def test_only_a_cron_job_can_be_suspended(fakes: Fakes) -> None:
    jobs.enqueue(TASK, {"image": "busybox", "command": "true", "startIn": "1h"}, job_id=JOB, now=NOW)
    with pytest.raises(ValidationError) as raised:
        suspension.suspend(TASK, JOB, now=NOW)
    assert raised.value.details["field"] == "cron"
    with pytest.raises(ValidationError):
        suspension.resume(TASK, JOB, now=NOW)


def test_a_stopped_cron_is_neither_suspended_nor_resumed(fakes: Fakes) -> None:
    jobs.enqueue(TASK, CRON, job_id=JOB, now=NOW)
    stopping.stop_job(TASK, JOB)
    with pytest.raises(Conflict):
        suspension.suspend(TASK, JOB, now=NOW)
    with pytest.raises(Conflict):
        suspension.resume(TASK, JOB, now=NOW)


def test_stopping_a_suspended_cron_ends_its_suspension_too(fakes: Fakes) -> None:
    jobs.enqueue(TASK, CRON, job_id=JOB, now=NOW)
    suspension.suspend(TASK, JOB, now=NOW)
    stopping.stop_job(TASK, JOB)

    assert fakes.tables.jobs[TASK, JOB].suspended is None
    with pytest.raises(Conflict):
        suspension.resume(TASK, JOB, now=NOW)


def test_replacing_a_suspended_job_starts_it_afresh(fakes: Fakes) -> None:
    jobs.enqueue(TASK, CRON, job_id=JOB, now=NOW)
    suspension.suspend(TASK, JOB, now=NOW)

    jobs.enqueue(TASK, {**CRON, "cron": "0 * * * *"}, job_id=JOB, now=NOW)

    job = fakes.tables.jobs[TASK, JOB]
    assert job.suspended is None and job.next_run_at == _epoch(6, 0)


def test_a_resume_before_a_stopped_made_ahead_tick_goes_on_from_the_instant_after(fakes: Fakes) -> None:
    # The dispatcher made the 05:10 run ahead; the suspension stopped it; a resume at 05:09:30
    # cannot wait for 05:10 again (its run's id is taken), so the schedule goes on from 05:15.
    jobs.enqueue(TASK, CRON, job_id=JOB, now=NOW)
    stopped = dispatcher.tick(NOW + timedelta(minutes=3)).created[0]
    suspension.suspend(TASK, JOB, now=NOW + timedelta(minutes=3))

    suspension.resume(TASK, JOB, now=datetime(2026, 3, 4, 5, 9, 30, tzinfo=UTC))

    assert fakes.tables.jobs[TASK, JOB].next_run_at == _epoch(5, 15)
    [fresh] = dispatcher.tick(datetime(2026, 3, 4, 5, 14, tzinfo=UTC)).created
    assert fresh != stopped
    assert fakes.tables.stored(JOB, fresh).scheduled_for == datetime(2026, 3, 4, 5, 15, tzinfo=UTC)
    assert fakes.tables.jobs[TASK, JOB].next_run_at == _epoch(5, 20)
