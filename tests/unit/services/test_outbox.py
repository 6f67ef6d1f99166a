"""The transactional outbox of start and end events (services/events.py): the write that stores
a start or an end marks its event owed; a publish clears the mark; what a failed publish or a
dead writer left owed is published again by the dispatcher's tick, once, after the grace."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.adapters.models import ExecutionModel, JobModel
from chalicelib.domain.payload import JobSpec
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import dispatcher, events, executions
from chalicelib.services.ending import Ports, end_run
from chalicelib.services.stopping import request_stop
from chalicelib.settings import get_settings
from tests.fakes.installed import Fakes
from tests.fakes.items import JOB, NOW, a_job, an_execution, spec_of

HOOKS = {"starts": [{"url": "http://hooks.test/start"}], "finishes": [{"url": "http://hooks.test/end"}]}


def _running(fakes: Fakes, **job: Any) -> tuple[JobSpec, JobModel, ExecutionModel]:
    spec = spec_of(**job)
    stored_job = a_job(spec)
    execution = an_execution(spec, stored_job, ExecutionStatus.RUNNING)
    fakes.tables.put(stored_job, execution)
    return spec, stored_job, execution


def _events(fakes: Fakes) -> list[tuple[str, str, str]]:
    return [(b["kind"], b["status"], b["executionId"]) for b in fakes.notification_queue.published]


def _after_grace(seconds: float = 1.0) -> timedelta:
    return timedelta(seconds=get_settings().outbox_grace_seconds + seconds)


def test_the_end_is_stored_with_its_event_owed_and_the_publish_clears_it(fakes: Fakes) -> None:
    spec, job, execution = _running(fakes, webhooks=HOOKS)
    marks_seen: list[tuple[Any, Any]] = []
    finish = fakes.tables.finish_execution

    def spying_finish(
        execution: ExecutionModel,
        values: dict[str, Any],
        retry: ExecutionModel | None = None,
        heartbeat_at: float | None = None,
    ) -> bool:
        marks_seen.append((values.get("end_event_pending"), values.get("owed_shard")))
        return finish(execution, values, retry, heartbeat_at=heartbeat_at)

    ports = Ports(spying_finish, events.execution_ended, executions.send)
    assert end_run(execution, ExecutionStatus.DONE, {"finished_at": NOW}, job, spec, NOW, ports=ports).ended

    # The mark went with the end, in the one write.
    [(pending, shard)] = marks_seen
    assert pending == "done" and isinstance(shard, str) and shard.startswith("owed#")
    assert _events(fakes) == [("finished", "done", execution.execution_id)]
    stored = fakes.tables.stored(JOB, execution.execution_id)
    assert stored.end_event_pending is None and stored.owed_shard is None and stored.owed_at is None
    assert events.republish_owed(NOW + _after_grace()) == []


def test_an_end_whose_publish_failed_is_published_by_a_tick_after_the_grace_once(fakes: Fakes) -> None:
    spec, job, execution = _running(fakes, webhooks=HOOKS)
    fakes.notification_queue.failing = True

    assert end_run(execution, ExecutionStatus.FAILED, {"finished_at": NOW}, job, spec, NOW).ended
    stored = fakes.tables.stored(JOB, execution.execution_id)
    assert stored.status == "failed" and stored.end_event_pending == "failed"
    fakes.notification_queue.failing = False

    dispatcher.tick(NOW + timedelta(seconds=1))
    assert _events(fakes) == []  # within the grace: its writer may still be publishing it

    dispatcher.tick(NOW + _after_grace())
    assert _events(fakes) == [("finished", "failed", execution.execution_id)]
    assert fakes.tables.stored(JOB, execution.execution_id).end_event_pending is None

    dispatcher.tick(NOW + _after_grace(5))
    assert len(fakes.notification_queue.published) == 1


def test_a_writer_that_dies_after_storing_the_end_leaves_it_owed_for_the_tick(fakes: Fakes) -> None:
    spec, _, execution = _running(fakes, webhooks=HOOKS)
    # The end, stored as end_run stores it; the process dies before it publishes.
    values = {"status": "done", "finished_at": NOW, **events.end_marks(execution, "done", spec, NOW)}
    assert fakes.tables.finish_execution(execution, values)

    assert events.republish_owed(NOW + _after_grace()) == [execution.execution_id]
    assert _events(fakes) == [("finished", "done", execution.execution_id)]


def test_a_start_and_an_end_both_owed_each_go_out_and_the_index_is_left_after_the_last(fakes: Fakes) -> None:
    spec, _, execution = _running(fakes, webhooks=HOOKS)
    fakes.notification_queue.failing = True
    marks = events.start_marks(execution, spec, NOW)
    assert fakes.tables.update_execution(execution, status="running", **marks)
    assert not events.execution_started(execution, spec)
    values = {"status": "done", "finished_at": NOW, **events.end_marks(execution, "done", spec, NOW)}
    assert fakes.tables.finish_execution(execution, values)
    fakes.notification_queue.failing = False

    # Clearing the start alone keeps the execution in the owed-events index for its end.
    assert fakes.tables.clear_owed_event(JOB, execution.execution_id, "start", "running")
    stored = fakes.tables.stored(JOB, execution.execution_id)
    assert stored.start_event_pending is None and stored.owed_shard is not None
    stored.start_event_pending = "running"  # owed again, as if that clear never happened

    assert events.republish_owed(NOW + _after_grace()) == [execution.execution_id]
    assert sorted(_events(fakes)) == [
        ("finished", "done", execution.execution_id),
        ("started", "running", execution.execution_id),
    ]
    assert (stored.start_event_pending, stored.end_event_pending, stored.owed_shard) == (None, None, None)


def test_a_job_without_hooks_owes_no_event(fakes: Fakes) -> None:
    spec, job, execution = _running(fakes, notify={})

    assert events.start_marks(execution, spec, NOW) == {}
    assert end_run(execution, ExecutionStatus.DONE, {"finished_at": NOW}, job, spec, NOW).ended
    stored = fakes.tables.stored(JOB, execution.execution_id)
    assert stored.end_event_pending is None and stored.owed_shard is None
    assert fakes.notification_queue.published == []


def test_a_stop_before_the_claim_marks_its_end_owed_with_the_stop(fakes: Fakes) -> None:
    spec = spec_of(webhooks=HOOKS)
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.ENQUEUED)
    fakes.tables.put(job, execution)
    fakes.notification_queue.failing = True

    request_stop(execution, NOW)
    stored = fakes.tables.stored(JOB, execution.execution_id)
    assert (stored.status, stored.end_event_pending) == ("stopped", "stopped")
    fakes.notification_queue.failing = False

    assert events.republish_owed(NOW + _after_grace()) == [execution.execution_id]
    assert _events(fakes) == [("finished", "stopped", execution.execution_id)]


def test_a_tick_publishes_a_bounded_number_of_owed_events(fakes: Fakes) -> None:
    settings = get_settings()
    spec = spec_of(webhooks=HOOKS)
    job = a_job(spec)
    fakes.tables.put(job)
    owed = settings.outbox_republish_per_tick + 7
    for _ in range(owed):
        execution = an_execution(spec, job, ExecutionStatus.RUNNING)
        fakes.tables.put(execution)
        values = {"status": "done", "finished_at": NOW, **events.end_marks(execution, "done", spec, NOW)}
        assert fakes.tables.finish_execution(execution, values)

    first = events.republish_owed(NOW + _after_grace())
    second = events.republish_owed(NOW + _after_grace())

    assert len(first) <= settings.outbox_republish_per_tick
    assert len(first) + len(second) == owed and not set(first) & set(second)
    assert len(fakes.notification_queue.published) == owed
