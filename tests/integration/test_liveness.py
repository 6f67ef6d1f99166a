"""Heartbeats, the reconciler of silent runners and hand-backs, on the local emulator.

These drive ``chalicelib.services.liveness`` and the store directly on executions that were never sent
to SQS, so the session runner does not see them. Heartbeats are dated in the past; each test
reaps as a reaper of its own name, without sweeps, so it looks only at its own silent runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from datetime import timedelta

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from chalicelib.adapters import execution_repository, job_repository, ws_api
from chalicelib.adapters.models import ExecutionModel
from chalicelib.domain.clock import utcnow
from chalicelib.domain.payload import parse_job
from chalicelib.services import liveness, log_replay
from chalicelib.services.executions import new_execution
from chalicelib.settings import get_settings
from infra.local.harness import StackProcess
from runner.heartbeats import ExecutionHeartbeats
from tests.conftest import TEST_IMAGE
from tests.integration.receivers import WebhookReceiver


def _claimed(task_id: str, host: str, silent_for: float = 0.0, **job: object) -> tuple[str, str]:
    """An execution claimed by ``host``, whose last heartbeat is ``silent_for`` seconds old."""
    spec = parse_job({"image": TEST_IMAGE, "command": "true", **job})
    job_id = str(uuid.uuid4())
    now = utcnow()
    execution = new_execution(task_id, job_id, spec, now)
    job_repository.save_job(task_id, job_id, spec.to_dict(), now, execution)
    claim = execution_repository.claim(
        job_id, execution.execution_id, host, None, "message", now=now.timestamp() - silent_for
    )
    assert claim.claimed
    return job_id, execution.execution_id


def _reaper() -> str:
    return f"test-reaper-{uuid.uuid4().hex[:6]}"


def _reap(job_id: str, execution_id: str) -> ExecutionModel:
    """Two looks of one reaper, a stale period apart by its own clock (the first dated back, so
    the test need not wait), tolerating that the stack's own reapers (its runner between beats,
    its dispatcher tick) ended the execution first: either way it must end, once, for silence."""
    reaper = _reaper()
    first_look = utcnow() - timedelta(seconds=get_settings().execution_stale_seconds + 1)
    ended = liveness.reap(first_look, reaper=reaper, sweep=False) + liveness.reap(reaper=reaper, sweep=False)
    stored = execution_repository.get_execution(job_id, execution_id, consistent=True)
    assert stored is not None
    assert execution_id in ended or (
        stored.status in ("failed", "stopped") and "stopped heart-beating" in (stored.error or "")
    ), (ended, stored.status)
    return stored


def _stale() -> float:
    """Silent long enough to be a candidate even for a look dated a stale period back."""
    return 2 * get_settings().execution_stale_seconds + 5.0


def test_a_silent_runners_execution_is_failed_with_a_clear_error_and_retried(stack: StackProcess, task_id: str) -> None:
    host = f"ghost-{uuid.uuid4().hex[:6]}"
    job_id, execution_id = _claimed(task_id, host, silent_for=_stale(), retries=1)

    execution = _reap(job_id, execution_id)

    assert execution is not None and execution.status == "failed"
    assert f"runner {host} stopped heart-beating" in (execution.error or "")
    assert execution.active_shard is None and execution.finished_at is not None
    assert (job_id, execution_id) not in execution_repository.silent_executions(None)
    retries = [e for e in execution_repository.unfinished_executions(task_id, job_id) if e.retry_of == execution_id]
    assert len(retries) == 1 and retries[0].attempt == 1
    # The late runner can neither beat nor end the run the reconciler ended.
    assert execution_repository.beat(job_id, execution_id, host) is False
    assert execution_repository.finish_execution(execution, {"status": "done", "finished_at": utcnow()}) is False
    assert execution_repository.get_execution(job_id, execution_id, consistent=True).status == "failed"


def test_a_reaped_execution_fires_its_webhooks_like_any_other_end(stack: StackProcess, task_id: str) -> None:
    receiver = WebhookReceiver().start()
    try:
        hooks = {event: [{"url": receiver.url(f"/{event}")}] for event in ("fails", "finishes", "succeeds")}
        job_id, execution_id = _claimed(task_id, f"gone-{uuid.uuid4().hex[:6]}", silent_for=_stale(), webhooks=hooks)

        _reap(job_id, execution_id)

        for event in ("fails", "finishes"):
            (hit,) = receiver.wait_for(f"/{event}", 1)
            assert hit.json["executionId"] == execution_id
            assert hit.json["status"] == "failed" and "stopped heart-beating" in hit.json["error"]
        assert receiver.at("/succeeds") == []
    finally:
        receiver.stop()


def test_a_runner_that_beats_again_keeps_its_run(stack: StackProcess, task_id: str) -> None:
    host = f"slow-{uuid.uuid4().hex[:6]}"
    job_id, execution_id = _claimed(task_id, host, silent_for=_stale())
    read_by_reaper = execution_repository.get_execution(job_id, execution_id, consistent=True)
    assert read_by_reaper is not None

    assert execution_repository.beat(job_id, execution_id, host) is True
    given_up = liveness.give_up(read_by_reaper, utcnow(), "late", heartbeat_at=float(read_by_reaper.heartbeat_at))

    assert given_up is False
    assert execution_repository.get_execution(job_id, execution_id, consistent=True).status == "pulling"
    assert execution_id not in liveness.reap(reaper=_reaper(), sweep=False)


def test_a_recent_heartbeat_is_left_alone(stack: StackProcess, task_id: str) -> None:
    host = f"alive-{uuid.uuid4().hex[:6]}"
    job_id, execution_id = _claimed(task_id, host)

    assert execution_id not in liveness.reap(reaper=_reaper(), sweep=False)
    assert execution_repository.get_execution(job_id, execution_id, consistent=True).status == "pulling"
    assert (job_id, execution_id) in execution_repository.held_by(host)
    assert (job_id, execution_id) not in execution_repository.held_by(host + "-other")


def test_a_silent_runners_execution_with_a_stop_request_ends_stopped(stack: StackProcess, task_id: str) -> None:
    host = f"ghost-{uuid.uuid4().hex[:6]}"
    # A fresh heartbeat, then the reconciler's own step: the stack's reapers must not end it
    # before the stop request is recorded.
    job_id, execution_id = _claimed(task_id, host, retries=2)
    execution = execution_repository.get_execution(job_id, execution_id, consistent=True)
    assert execution is not None
    execution_repository.update_execution(execution, stop_requested=True)
    execution = execution_repository.get_execution(job_id, execution_id, consistent=True)

    assert liveness.give_up(execution, utcnow(), "silent", heartbeat_at=float(execution.heartbeat_at))

    stored = execution_repository.get_execution(job_id, execution_id, consistent=True)
    assert stored.status == "stopped"
    assert not [e for e in execution_repository.unfinished_executions(task_id, job_id) if e.retry_of == execution_id]


def test_only_the_holder_hands_an_execution_back_and_it_can_be_claimed_again(stack: StackProcess, task_id: str) -> None:
    host = f"drainer-{uuid.uuid4().hex[:6]}"
    job_id, execution_id = _claimed(task_id, host)
    execution = execution_repository.get_execution(job_id, execution_id, consistent=True)
    assert execution is not None

    assert execution_repository.hand_back(execution, "someone-else", utcnow()) is False
    assert execution_repository.hand_back(execution, host, utcnow()) is True

    stored = execution_repository.get_execution(job_id, execution_id, consistent=True)
    assert stored.status == "enqueued" and stored.host is None and stored.active_shard is None
    assert stored.awaiting_shard is not None
    assert (job_id, execution_id) not in execution_repository.held_by(host)
    assert execution_repository.claim(job_id, execution_id, "next-host", None, "message-2").claimed


class _HeldRun:
    """Stands in for an ExecutionRun in the heartbeat loop."""

    def __init__(self, execution: object) -> None:
        self.execution = execution
        self.settled = False
        self.abandoned = False

    def abandon(self) -> None:
        self.abandoned = True


def _kept_and_lost(task_id: str, host: str, lost_type: type[_HeldRun] = _HeldRun) -> tuple[_HeldRun, _HeldRun]:
    """Two executions ``host`` holds: one still its own, one the reconciler gave up."""
    kept_job, kept_id = _claimed(task_id, host, silent_for=5)
    lost_job, lost_id = _claimed(task_id, host, silent_for=_stale())
    _reap(lost_job, lost_id)
    kept = _HeldRun(execution_repository.get_execution(kept_job, kept_id, consistent=True))
    lost = lost_type(execution_repository.get_execution(lost_job, lost_id, consistent=True))
    return kept, lost


def _fresh(run: _HeldRun) -> ExecutionModel:
    return execution_repository.get_execution(run.execution.job_id, run.execution.execution_id, consistent=True)


def test_a_runner_kills_a_run_whose_execution_was_given_up_and_beats_the_others(
    stack: StackProcess, task_id: str
) -> None:
    host = f"beating-{uuid.uuid4().hex[:6]}"
    kept, lost = _kept_and_lost(task_id, host)
    beats = ExecutionHeartbeats(dataclasses.replace(get_settings(), runner_host=host), lambda: [kept, lost])

    refused = beats.beat_once()

    assert refused == 1
    assert lost.abandoned and not kept.abandoned
    fresh = _fresh(kept)
    assert fresh.heartbeat_at > utcnow().timestamp() - 5


class _FailingAbandon(_HeldRun):
    def abandon(self) -> None:
        self.abandoned = True
        raise ConnectionError("the Docker daemon's socket is gone")


def test_the_heartbeat_thread_outlives_a_failed_kill_and_beats_on(stack: StackProcess, task_id: str) -> None:
    """A kill that fails (the daemon restarting) must not end the heartbeats: the runner's other
    executions would go silent and be reaped while their containers run."""
    host = f"outliving-{uuid.uuid4().hex[:6]}"
    kept, lost = _kept_and_lost(task_id, host, _FailingAbandon)
    settings = dataclasses.replace(get_settings(), runner_host=host, execution_heartbeat_seconds=0.2)
    beats = ExecutionHeartbeats(settings, lambda: [kept, lost])
    before = int(_fresh(kept).beats or 0)

    beats.start()
    try:
        deadline = time.monotonic() + 10
        while True:
            now = int(_fresh(kept).beats or 0)
            if (lost.abandoned and now >= before + 4) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        beats.stop()

    assert lost.abandoned
    assert now >= before + 4, (before, now)


def test_viewers_of_a_reaped_execution_get_its_end_and_are_closed(
    stack: StackProcess, task_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No runner will close them: the reconciler sends the final status and closes them ``done``."""
    job_id, execution_id = _claimed(task_id, f"mute-{uuid.uuid4().hex[:6]}")
    # Whichever process reaps (this test or the stack's own reapers) closes through the stack.
    with_endpoint = dataclasses.replace(get_settings(), ws_management_url=stack.base_url)
    monkeypatch.setattr(log_replay, "get_settings", lambda: with_endpoint)
    monkeypatch.setattr(ws_api, "get_settings", lambda: with_endpoint)
    url = stack.base_url.replace("http://", "ws://") + f"/tasks/{task_id}/jobs/{job_id}/executions/{execution_id}/ws/"

    async def watch_while_reaped() -> tuple[list[dict[str, object]], str | None]:
        messages: list[dict[str, object]] = []
        async with websockets.connect(url, open_timeout=20) as socket:
            # Connected while the run is held: now its runner falls silent.
            execution = execution_repository.get_execution(job_id, execution_id, consistent=True)
            assert execution is not None and execution.status == "pulling"
            execution_repository.update_execution(execution, heartbeat_at=utcnow().timestamp() - _stale())
            await asyncio.to_thread(_reap, job_id, execution_id)
            async with asyncio.timeout(20):
                try:
                    async for raw in socket:
                        messages.append(json.loads(raw))
                except ConnectionClosed:
                    pass
            return messages, socket.close_reason

    messages, close_reason = asyncio.run(watch_while_reaped())

    assert messages == [{"done": True, "status": "failed", "exitCode": None}]
    assert close_reason == "done"


def test_a_reaper_with_a_clock_ten_minutes_fast_does_not_end_a_run_it_sees_for_the_first_time(
    stack: StackProcess, task_id: str
) -> None:
    """Its heartbeat looks ten minutes old to that reaper, which records what it saw and waits.

    (One look only: a second look dated later without the real time passing would stand for a
    silence that never was, for the session runner's live runs too.)"""
    job_id, execution_id = _claimed(task_id, f"healthy-{uuid.uuid4().hex[:6]}")
    reaper = _reaper()

    assert execution_id not in liveness.reap(utcnow() + timedelta(minutes=10), reaper=reaper, sweep=False)

    stored = execution_repository.get_execution(job_id, execution_id, consistent=True)
    assert stored is not None and stored.status == "pulling"
    assert liveness.watch_of(stored, reaper) == {
        "token": liveness.beat_token(stored),
        "since": pytest.approx((utcnow() + timedelta(minutes=10)).timestamp(), abs=30),
    }


def test_each_reapers_watch_is_kept_beside_the_others(stack: StackProcess, task_id: str) -> None:
    job_id, execution_id = _claimed(task_id, f"watched-{uuid.uuid4().hex[:6]}", silent_for=_stale())
    execution = execution_repository.get_execution(job_id, execution_id, consistent=True)
    assert execution is not None
    token = liveness.beat_token(execution)

    assert execution_repository.record_watch(execution, "reaper-a", token, 100.0)
    assert execution_repository.record_watch(execution, "reaper-b:2375", token, 200.0)
    assert execution_repository.record_watch(execution, "reaper-a", token, 300.0)

    stored = execution_repository.get_execution(job_id, execution_id, consistent=True)
    assert stored is not None
    assert liveness.watch_of(stored, "reaper-a") == {"token": token, "since": 300.0}
    assert liveness.watch_of(stored, "reaper-b:2375") == {"token": token, "since": 200.0}
    # A watch names the beat it was made on: after a new beat, an old read records nothing.
    assert execution_repository.beat(job_id, execution_id, stored.host or "")
    assert not execution_repository.record_watch(execution, "reaper-c", token, 400.0)
