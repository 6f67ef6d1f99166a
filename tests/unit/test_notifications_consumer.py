"""infra.local.notifications_consumer: the local event source mapping hands the handler
Lambda's SQS event and deletes only what the handler did not report as failed."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.settings import Settings
from infra.local import notifications_consumer
from infra.local.notifications_consumer import NotificationsConsumer


def _messages(count: int) -> list[dict[str, Any]]:
    return [
        {
            "MessageId": f"m{n}",
            "ReceiptHandle": f"h{n}",
            "Body": f'{{"n": {n}}}',
            "MD5OfBody": "x",
            "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1"},
        }
        for n in range(count)
    ]


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    state: dict[str, list[Any]] = {"inbox": _messages(3), "deleted": []}
    adapter = notifications_consumer.notification_queue
    monkeypatch.setattr(adapter, "receive", lambda wait: state["inbox"])
    monkeypatch.setattr(adapter, "delete", lambda handle: state["deleted"].append(handle))
    monkeypatch.setattr(adapter, "queue_arn", lambda: "arn:aws:sqs:us-east-1:000000000000:t-slipway-notifications")
    return state


def test_the_handler_gets_lambdas_event_and_failed_records_stay(queue: dict[str, list[Any]]) -> None:
    seen: list[tuple[dict[str, Any], Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append((event, context))
        return {"batchItemFailures": [{"itemIdentifier": "m1"}]}

    done = NotificationsConsumer(handler, Settings(stage="t")).poll_once()

    assert done == 2 and queue["deleted"] == ["h0", "h2"]
    [(event, context)] = seen
    first = event["Records"][0]
    assert first == {
        "messageId": "m0",
        "receiptHandle": "h0",
        "body": '{"n": 0}',
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1"},
        "messageAttributes": {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:t-slipway-notifications",
        "awsRegion": "us-east-1",
    }
    assert context.function_name == "slipway-t-notifications" and context.get_remaining_time_in_millis() > 0


def test_a_handler_that_raises_fails_the_whole_batch(queue: dict[str, list[Any]]) -> None:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    assert NotificationsConsumer(handler, Settings()).poll_once() == 0
    assert queue["deleted"] == []


def test_an_empty_poll_invokes_nothing(queue: dict[str, list[Any]]) -> None:
    queue["inbox"] = []
    calls: list[Any] = []

    assert NotificationsConsumer(lambda e, c: calls.append(e), Settings()).poll_once() == 0
    assert calls == []
