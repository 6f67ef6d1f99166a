"""runner.execution's claim path against the in-memory adapters (no Docker: none of these runs
reaches a container)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from chalicelib.adapters.job_queue import ExecutionMessage, Received
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.settings import get_settings
from runner.docker_engine import DockerEngine
from runner.execution import ExecutionRun
from tests.fakes.installed import Fakes
from tests.fakes.items import JOB, NOW, TASK, a_job, an_execution, spec_of


class _NoDocker:
    """An engine any container call of which fails the test."""

    port = 2375

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the run reached Docker ({name})")


def _run(execution_id: str) -> ExecutionRun:
    message = ExecutionMessage(TASK, JOB, execution_id)
    received = Received(message, "handle-1", "message-1", 1, message.to_json())
    return ExecutionRun(received, cast(DockerEngine, _NoDocker()), get_settings(), clock=lambda: NOW)


def test_an_execution_another_runner_holds_is_left_to_it_and_the_message_kept(fakes: Fakes) -> None:
    spec = spec_of()
    job = a_job(spec)
    held = an_execution(spec, job, ExecutionStatus.RUNNING)
    fakes.tables.put(job, held)

    disposition = _run(held.execution_id).run()

    assert not disposition.delete and disposition.reason == f"execution is running on {held.host}"
    assert fakes.tables.stored(JOB, held.execution_id).host == held.host


def test_a_finished_execution_drops_its_duplicate_message(fakes: Fakes) -> None:
    spec = spec_of()
    job = a_job(spec)
    done = an_execution(spec, job, ExecutionStatus.DONE)
    fakes.tables.put(job, done)

    disposition = _run(done.execution_id).run()

    assert disposition.delete and disposition.reason == "execution already done"


def test_a_claimed_run_past_its_jobs_expiration_ends_expired_without_a_container(fakes: Fakes) -> None:
    hooks = {"fails": [{"url": "http://hooks.test/failed"}]}
    spec = spec_of(expiration=int((NOW - timedelta(minutes=1)).timestamp()), webhooks=hooks)
    job = a_job(spec)
    waiting = an_execution(spec, job)
    fakes.tables.put(job, waiting)
    run = _run(waiting.execution_id)

    disposition = run.run()

    assert disposition.delete and disposition.reason == "expired"
    stored = fakes.tables.stored(JOB, waiting.execution_id)
    assert (stored.status, stored.host, stored.queue_message_id) == ("expired", get_settings().runner_host, "message-1")
    assert stored.active_shard is None and stored.awaiting_shard is None
    assert run.settled
    assert [(b["kind"], b["status"]) for b in fakes.notification_queue.published] == [("finished", "expired")]


def test_a_run_of_a_deleted_job_fails(fakes: Fakes) -> None:
    spec = spec_of()
    waiting = an_execution(spec, a_job(spec))
    fakes.tables.put(waiting)

    disposition = _run(waiting.execution_id).run()

    assert disposition.reason == "job gone"
    assert fakes.tables.stored(JOB, waiting.execution_id).status == ExecutionStatus.FAILED.value
