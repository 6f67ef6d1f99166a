"""services.dispatcher: due schedules become executions once; lost messages are sent again."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.adapters.models import DUE_SHARD
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import dispatcher, jobs, schedules
from chalicelib.services.dispatcher import TickReport
from chalicelib.settings import get_settings
from tests.fakes.installed import Fakes
from tests.fakes.items import HOST, JOB, NOW, TASK, a_job, spec_of

DUE = NOW.replace(minute=10, second=0)  # a tick of */5, 233 s after NOW
NEXT = DUE + timedelta(minutes=5)


def _cron_job(fakes: Fakes) -> None:
    job = a_job(spec_of(cron="*/5 * * * *"), scheduled=True, next_run_at=DUE.timestamp(), due_shard=DUE_SHARD)
    fakes.tables.put(job)


def test_a_due_cron_tick_creates_one_execution_and_advances_the_schedule(fakes: Fakes) -> None:
    _cron_job(fakes)
    now = DUE - timedelta(seconds=30)

    report = dispatcher.tick(now)

    (execution,) = fakes.tables.executions_of(JOB)
    assert report.created == [execution.execution_id]
    # Made ahead of its instant: ``scheduled``, not counted and not the job's last execution yet.
    assert execution.scheduled_for == DUE and execution.status == ExecutionStatus.SCHEDULED.value
    job = fakes.tables.jobs[TASK, JOB]
    assert job.next_run_at == NEXT.timestamp() and job.due_shard == DUE_SHARD
    assert (job.execution_count, job.last_execution_id) == (0, None)
    ((message, delay),) = fakes.job_queue.sent
    assert message.execution_id == execution.execution_id
    assert delay == 30 - get_settings().schedule_lead_seconds


def test_a_tick_before_the_look_ahead_creates_nothing(fakes: Fakes) -> None:
    _cron_job(fakes)

    report = dispatcher.tick(DUE - timedelta(seconds=get_settings().dispatch_lookahead_seconds + 1))

    assert report.created == [] and fakes.tables.executions_of(JOB) == []
    assert fakes.tables.jobs[TASK, JOB].next_run_at == DUE.timestamp()


def test_two_dispatchers_racing_on_one_instant_create_one_execution(fakes: Fakes) -> None:
    _cron_job(fakes)
    now = DUE - timedelta(seconds=10)
    # Both read the job before either writes.
    read_by_first = fakes.tables.get_job(TASK, JOB)
    read_by_second = fakes.tables.get_job(TASK, JOB)
    assert read_by_first is not None and read_by_second is not None

    first = schedules.materialize(read_by_first, now)
    second = schedules.materialize(read_by_second, now)

    assert first is not None and second is None
    assert [e.execution_id for e in fakes.tables.executions_of(JOB)] == [first.execution_id]
    assert fakes.job_queue.sent_ids() == [first.execution_id]
    assert fakes.tables.jobs[TASK, JOB].next_run_at == NEXT.timestamp()


def test_a_second_tick_on_the_same_instant_creates_nothing_more(fakes: Fakes) -> None:
    _cron_job(fakes)
    now = DUE - timedelta(seconds=10)

    first = dispatcher.tick(now)
    second = dispatcher.tick(now)

    assert len(first.created) == 1 and second.created == []
    assert len(fakes.tables.executions_of(JOB)) == 1


def test_a_lost_message_is_sent_again_once_the_reconcile_delay_passed(fakes: Fakes) -> None:
    fakes.job_queue.failing = True
    enqueued = jobs.enqueue(TASK, {"image": "busybox", "command": "true"}, now=NOW)
    fakes.job_queue.failing = False
    assert fakes.job_queue.sent == []
    wait = get_settings().reconcile_after_seconds

    early = TickReport()
    dispatcher.reconcile(NOW + timedelta(seconds=wait - 1), early)
    later = TickReport()
    dispatcher.reconcile(NOW + timedelta(seconds=wait + 1), later)

    assert early.resent == [] and later.resent == [enqueued.execution_id]
    assert fakes.job_queue.sent_ids() == [enqueued.execution_id]
    assert enqueued.execution_id is not None
    stored = fakes.tables.stored(enqueued.job_id, enqueued.execution_id)
    assert stored.dispatch_at == (NOW + timedelta(seconds=wait + 1)).timestamp()


def test_a_claimed_execution_is_not_sent_again(fakes: Fakes) -> None:
    fakes.job_queue.failing = True
    enqueued = jobs.enqueue(TASK, {"image": "busybox", "command": "true"}, now=NOW)
    fakes.job_queue.failing = False
    assert enqueued.execution_id is not None
    assert fakes.tables.claim(enqueued.job_id, enqueued.execution_id, HOST, None, "m-1").claimed

    report = TickReport()
    dispatcher.reconcile(NOW + timedelta(hours=1), report)

    assert report.resent == [] and fakes.job_queue.sent == []
