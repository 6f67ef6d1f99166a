"""services.stopping: a run is stopped wherever it is; a job's schedule is cancelled."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import dispatcher, jobs, stopping
from tests.fakes.installed import Fakes
from tests.fakes.items import HOST, JOB, NOW, TASK, a_job, an_execution, spec_of


def test_a_running_execution_is_flagged_and_its_runner_told(fakes: Fakes) -> None:
    spec = spec_of()
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.RUNNING)
    fakes.tables.put(job, execution)

    stopping.stop_execution(TASK, JOB, execution.execution_id)

    stored = fakes.tables.stored(JOB, execution.execution_id)
    assert stored.stop_requested and stored.status == ExecutionStatus.RUNNING.value
    assert fakes.control.stops == [(HOST, execution.execution_id)]


def test_an_execution_not_yet_claimed_ends_stopped_here(fakes: Fakes) -> None:
    spec = spec_of()
    job = a_job(spec)
    execution = an_execution(spec, job)
    fakes.tables.put(job, execution)

    stopping.stop_execution(TASK, JOB, execution.execution_id)

    stored = fakes.tables.stored(JOB, execution.execution_id)
    assert stored.status == ExecutionStatus.STOPPED.value and stored.awaiting_shard is None
    assert fakes.control.stops == []
    assert [(b["kind"], b["status"]) for b in fakes.notification_queue.published] == [("finished", "stopped")]
    # No runner may claim it any more.
    assert not fakes.tables.claim(JOB, execution.execution_id, HOST, None, "m").claimed


def test_stopping_a_scheduled_job_cancels_its_schedule(fakes: Fakes) -> None:
    jobs.enqueue(TASK, {"image": "busybox", "command": "true", "cron": "*/5 * * * *"}, job_id=JOB, now=NOW)

    stopping.stop_job(TASK, JOB)

    job = fakes.tables.jobs[TASK, JOB]
    assert (job.next_run_at, job.due_shard, job.scheduled) == (None, None, False)
    assert job.stopped_at is not None
    assert fakes.tables.due_jobs((NOW + timedelta(days=1)).timestamp()) == []
    assert dispatcher.tick(NOW + timedelta(minutes=10)).created == []


def test_stopping_a_job_stops_its_runs(fakes: Fakes) -> None:
    spec = spec_of()
    job = a_job(spec)
    running = an_execution(spec, job, ExecutionStatus.RUNNING)
    waiting = an_execution(spec, job)
    fakes.tables.put(job, running, waiting)

    stopping.stop_job(TASK, JOB)

    assert fakes.tables.stored(JOB, waiting.execution_id).status == ExecutionStatus.STOPPED.value
    assert fakes.tables.stored(JOB, running.execution_id).stop_requested
    assert fakes.control.stops == [(HOST, running.execution_id)]
