"""services.notifications.handle_batch against the in-memory adapters: a webhook is delivered
and recorded, a failing target is published again with back-off, and spent retries end in the
dead-letter queue."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.deliveries import Delivery, backoff_seconds
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import notifications
from chalicelib.settings import get_settings
from tests.fakes.installed import Fakes
from tests.fakes.items import JOB, TASK, a_job, an_execution, spec_of

URL = "http://hooks.test/done"


@pytest.fixture
def execution_id(fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> str:
    """A job with a ``succeeds`` hook (two retries) and its execution, ended ``done``."""
    # Attempts run without Powertools' idempotency layer (its records live in DynamoDB).
    monkeypatch.setattr(notifications, "_deliver_once", lambda: notifications._deliver)
    spec = spec_of(webhooks={"succeeds": [{"url": URL, "headers": {"X-Token": "t"}, "retries": 2}]})
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.DONE)
    execution.exit_code = 0
    fakes.tables.put(job, execution)
    return execution.execution_id


def _batch(*bodies: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(n),
                "receiptHandle": f"handle-{n}",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q",
                "awsRegion": "us-east-1",
            }
            for n, body in enumerate(bodies)
        ]
    }


def _finished(execution_id: str) -> dict[str, Any]:
    return {
        "type": "event",
        "kind": "finished",
        "status": "done",
        "taskId": TASK,
        "jobId": JOB,
        "executionId": execution_id,
    }


def test_a_webhook_is_delivered_and_recorded_on_the_execution(fakes: Fakes, execution_id: str) -> None:
    result = notifications.handle_batch(_batch(_finished(execution_id)))

    assert result == {"batchItemFailures": []}
    (post,) = fakes.webhook_client.posts
    assert post.url == URL and post.headers == {"X-Token": "t"}
    content = json.loads(post.body)
    assert content["event"] == "succeeds"
    (record,) = fakes.tables.stored(JOB, execution_id).dispatches
    assert (record["url"], record["statusCode"], record["delivered"], record["attempt"]) == (URL, 200, True, 1)
    assert fakes.notification_queue.published == [] and fakes.notification_queue.dead_lettered == []


def test_a_failing_target_is_published_again_after_the_back_off(fakes: Fakes, execution_id: str) -> None:
    fakes.webhook_client.statuses[URL] = 503

    result = notifications.handle_batch(_batch(_finished(execution_id)))

    assert result == {"batchItemFailures": []}  # a failed attempt is not a failed record
    (body,) = fakes.notification_queue.published
    again = Delivery.from_dict(body["delivery"])
    assert body["type"] == "delivery" and (again.target, again.attempt, again.retries) == (URL, 2, 2)
    assert fakes.notification_queue.delays == [backoff_seconds(1, get_settings())]
    (record,) = fakes.tables.stored(JOB, execution_id).dispatches
    assert (record["statusCode"], record["delivered"]) == (503, False)

    # The next attempt, from that message, fails too and is published again.
    notifications.handle_batch(_batch(body))
    assert [Delivery.from_dict(b["delivery"]).attempt for b in fakes.notification_queue.published] == [2, 3]
    assert len(fakes.webhook_client.posts) == 2


def test_spent_retries_end_in_the_dead_letter_queue(fakes: Fakes, execution_id: str) -> None:
    fakes.webhook_client.statuses[URL] = None  # unreachable
    last = Delivery("webhook", "succeeds", TASK, JOB, execution_id, target=URL, index=0, retries=2, attempt=3)

    notifications.handle_batch(_batch({"type": "delivery", "delivery": last.to_dict()}))

    assert fakes.notification_queue.published == []
    (parked,) = fakes.notification_queue.dead_lettered
    assert Delivery.from_dict(parked["delivery"]) == last
    assert parked["lastOutcome"]["delivered"] is False and parked["lastOutcome"]["attempt"] == 3


def test_an_execution_that_is_gone_owes_nothing(fakes: Fakes, execution_id: str) -> None:
    result = notifications.handle_batch(_batch(_finished("no-such-execution")))

    assert result == {"batchItemFailures": []}
    assert fakes.webhook_client.posts == [] and fakes.notification_queue.published == []
