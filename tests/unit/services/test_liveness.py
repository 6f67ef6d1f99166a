"""services.liveness.reap: runs whose runner went silent are ended (and retried when owed); a
run whose runner beat again is kept."""

from __future__ import annotations

from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import liveness
from chalicelib.settings import get_settings
from tests.fakes.installed import Fakes
from tests.fakes.items import HOST, JOB, NOW, TASK, a_job, an_execution, spec_of


def _silent(fakes: Fakes, retries: int) -> str:
    spec = spec_of(retries=retries)
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.RUNNING)
    execution.heartbeat_at = NOW.timestamp() - get_settings().execution_stale_seconds - 5
    fakes.tables.put(job, execution)
    return execution.execution_id


def test_a_silent_run_with_retries_left_fails_and_is_retried(fakes: Fakes) -> None:
    execution_id = _silent(fakes, retries=1)

    assert liveness.reap(NOW) == [execution_id]

    stored = fakes.tables.stored(JOB, execution_id)
    assert stored.status == ExecutionStatus.FAILED.value and stored.active_shard is None
    assert stored.error is not None and f"runner {HOST} stopped heart-beating" in stored.error
    (retry,) = [e for e in fakes.tables.executions_of(JOB) if e.retry_of == execution_id]
    assert (retry.status, retry.attempt) == (ExecutionStatus.ENQUEUED.value, 1)
    assert fakes.tables.jobs[TASK, JOB].retry_count == 1
    assert fakes.job_queue.sent_ids() == [retry.execution_id]
    assert fakes.tables.silent_executions(NOW.timestamp()) == []


def test_a_silent_run_without_retries_left_just_fails(fakes: Fakes) -> None:
    execution_id = _silent(fakes, retries=0)

    assert liveness.reap(NOW) == [execution_id]

    assert [e.execution_id for e in fakes.tables.executions_of(JOB)] == [execution_id]
    assert fakes.job_queue.sent == []


def test_a_run_that_beat_recently_is_not_reaped(fakes: Fakes) -> None:
    spec = spec_of(retries=1)
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.RUNNING)
    execution.heartbeat_at = NOW.timestamp() - 1
    fakes.tables.put(job, execution)

    assert liveness.reap(NOW) == []
    assert fakes.tables.stored(JOB, execution.execution_id).status == ExecutionStatus.RUNNING.value


def test_a_run_whose_runner_beat_after_the_reaper_read_it_is_kept(fakes: Fakes) -> None:
    execution_id = _silent(fakes, retries=1)
    read_by_reaper = fakes.tables.get_execution(JOB, execution_id)
    assert read_by_reaper is not None
    assert fakes.tables.beat(JOB, execution_id, HOST, now=NOW.timestamp())

    given_up = liveness.give_up(
        read_by_reaper, NOW, liveness.silence_error(read_by_reaper, NOW), heartbeat_at=read_by_reaper.heartbeat_at
    )

    assert not given_up
    stored = fakes.tables.stored(JOB, execution_id)
    assert stored.status == ExecutionStatus.RUNNING.value and stored.heartbeat_at == NOW.timestamp()
    assert len(fakes.tables.executions_of(JOB)) == 1 and fakes.job_queue.sent == []


def test_a_run_handed_back_goes_to_the_queue_again(fakes: Fakes) -> None:
    spec = spec_of()
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.PULLING)
    fakes.tables.put(job, execution)

    assert not liveness.give_back(execution, "another-host", NOW)
    assert liveness.give_back(execution, HOST, NOW)

    stored = fakes.tables.stored(JOB, execution.execution_id)
    assert (stored.status, stored.host, stored.active_shard) == (ExecutionStatus.ENQUEUED.value, None, None)
    assert fakes.job_queue.sent_ids() == [execution.execution_id]
    assert fakes.tables.held_by(HOST) == []
