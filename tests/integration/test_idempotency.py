"""chalicelib.services.idempotency in this process, on the shared stack's DynamoDB: the in-progress and
expiry cases, which one HTTP front door (one request at a time, like one Lambda) cannot show."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator

import pytest

from chalicelib.domain.errors import Conflict
from chalicelib.services import idempotency, jobs
from chalicelib.settings import get_settings
from infra.local.harness import StackProcess
from tests.conftest import TEST_IMAGE

BODY = {"image": TEST_IMAGE, "command": "echo hi", "startIn": "1h"}


@pytest.fixture
def fresh_caches(stack: StackProcess) -> Iterator[None]:
    idempotency._config.cache_clear()
    idempotency._idempotent_enqueue.cache_clear()
    yield
    idempotency._config.cache_clear()
    idempotency._idempotent_enqueue.cache_clear()


def test_a_request_with_the_same_key_while_the_first_runs_is_a_409(fresh_caches, monkeypatch, task_id: str):
    real_enqueue = jobs.enqueue
    seen: list[Exception] = []

    def enqueue_while_another_arrives(*args, **kwargs):
        # The first request is "in progress" now: a second one with its key arrives.
        try:
            idempotency.enqueue_once("k", task_id, BODY)
        except Conflict as exc:
            seen.append(exc)
        return real_enqueue(*args, **kwargs)

    monkeypatch.setattr(jobs, "enqueue", enqueue_while_another_arrives)
    outcome = idempotency.enqueue_once("k", task_id, BODY)

    assert not outcome.replayed
    assert len(seen) == 1
    assert seen[0].status_code == 409
    assert seen[0].to_dict()["field"] == "Idempotency-Key"
    monkeypatch.setattr(jobs, "enqueue", real_enqueue)
    assert idempotency.enqueue_once("k", task_id, BODY) == idempotency.Outcome(outcome.enqueued, replayed=True)


def test_after_the_window_the_key_makes_a_new_job(fresh_caches, monkeypatch, task_id: str):
    short = dataclasses.replace(get_settings(), idempotency_expiry_seconds=1)
    monkeypatch.setattr(idempotency, "get_settings", lambda: short)
    key = str(uuid.uuid4())

    first = idempotency.enqueue_once(key, task_id, BODY)
    replay = idempotency.enqueue_once(key, task_id, BODY)
    time.sleep(2.2)
    later = idempotency.enqueue_once(key, task_id, BODY)

    assert replay.replayed and replay.enqueued == first.enqueued
    assert not later.replayed
    assert later.enqueued.job_id != first.enqueued.job_id


def test_the_default_window_is_a_day():
    assert get_settings().idempotency_expiry_seconds == 24 * 3600
