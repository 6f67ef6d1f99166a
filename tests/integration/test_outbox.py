"""The outbox of start and end events on the local emulator: the owed-events index, and an end
whose publish failed (SQS unreachable) delivered by a later tick's republish, exactly once.

Runs on executions the session runner never sees (claimed by a made-up host), ended in this
process as a runner ends its own (``ending.end_run``); the stack's notifications consumer
delivers the webhooks to a receiver in this process.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

from chalicelib.adapters import execution_repository, job_repository, notification_queue
from chalicelib.domain.clock import utcnow
from chalicelib.domain.payload import JobSpec, parse_job
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import events
from chalicelib.services.ending import end_run
from chalicelib.services.executions import new_execution
from chalicelib.settings import get_settings
from infra.local.harness import StackProcess
from tests.conftest import TEST_IMAGE
from tests.integration.receivers import WebhookReceiver


def _held(task_id: str, **job: object) -> tuple[JobSpec, str, str]:
    spec = parse_job({"image": TEST_IMAGE, "command": "true", **job})
    job_id = str(uuid.uuid4())
    now = utcnow()
    execution = new_execution(task_id, job_id, spec, now)
    job_repository.save_job(task_id, job_id, spec.to_dict(), now, execution)
    assert execution_repository.claim(
        job_id, execution.execution_id, f"outbox-{uuid.uuid4().hex[:6]}", None, "m"
    ).claimed
    return spec, job_id, execution.execution_id


def _owed(execution_id: str) -> list[execution_repository.OwedEvent]:
    return [e for e in execution_repository.owed_events(time.time() + 3600, 1000) if e.execution_id == execution_id]


def test_a_start_and_an_end_owed_sit_in_the_owed_index_until_both_are_cleared(
    stack: StackProcess, task_id: str
) -> None:
    spec, job_id, execution_id = _held(task_id, webhooks={"starts": [{"url": "http://127.0.0.1:9/s"}]})
    execution = execution_repository.get_execution(job_id, execution_id, consistent=True)
    assert execution is not None
    now = utcnow()

    assert execution_repository.update_execution(
        execution, status="running", **events.start_marks(execution, spec, now)
    )
    values = {"status": "done", "finished_at": now, **events.end_marks(execution, "done", None, now)}
    assert execution_repository.finish_execution(execution, values)

    [owed] = _owed(execution_id)
    assert (owed.task_id, owed.job_id, owed.start, owed.end) == (task_id, job_id, "running", "done")
    assert not execution_repository.clear_owed_event(job_id, execution_id, "end", "failed")  # not that one
    assert execution_repository.clear_owed_event(job_id, execution_id, "start", "running")
    [owed] = _owed(execution_id)
    assert (owed.start, owed.end) == (None, "done")
    assert execution_repository.clear_owed_event(job_id, execution_id, "end", "done")
    assert _owed(execution_id) == []
    stored = execution_repository.get_execution(job_id, execution_id, consistent=True)
    assert stored is not None and stored.owed_shard is None and stored.owed_at is None


def test_an_end_whose_publish_failed_is_delivered_once_by_a_later_tick(
    stack: StackProcess, task_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = WebhookReceiver().start()
    try:
        hooks = {"finishes": [{"url": receiver.url("/finishes")}]}
        spec, job_id, execution_id = _held(task_id, webhooks=hooks)
        execution = execution_repository.get_execution(job_id, execution_id, consistent=True)
        job = job_repository.get_job(task_id, job_id)
        assert execution is not None and job is not None

        def unreachable(body: dict[str, object], delay_seconds: int = 0) -> str:
            raise ConnectionError("SQS is unreachable")

        with monkeypatch.context() as outage:
            outage.setattr(notification_queue, "publish", unreachable)
            ended = end_run(
                execution, ExecutionStatus.DONE, {"finished_at": utcnow(), "exit_code": 0}, job, spec, utcnow()
            )
        assert ended.ended
        stored = execution_repository.get_execution(job_id, execution_id, consistent=True)
        assert stored is not None and stored.status == "done" and stored.end_event_pending == "done"
        time.sleep(2)
        assert receiver.at("/finishes") == []  # lost, were it not owed

        # A tick after the grace (dated ahead: the test does not wait the grace out).
        later = utcnow() + timedelta(seconds=get_settings().outbox_grace_seconds + 1)
        assert execution_id in events.republish_owed(later)
        (hit,) = receiver.wait_for("/finishes", 1)
        assert hit.json["executionId"] == execution_id and hit.json["status"] == "done"
        assert execution_id not in events.republish_owed(later)
        time.sleep(2.5)  # a second POST would have come by now
        assert len(receiver.at("/finishes")) == 1
        assert _owed(execution_id) == []
    finally:
        receiver.stop()
