"""chalicelib.services.notifications: which deliveries an event owes, the back-off, the message shapes
and the partial-batch contract of the SQS handler."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.deliveries import Delivery, backoff_seconds, event_names, plan_deliveries
from chalicelib.domain.payload import parse_job
from chalicelib.services import events, notifications
from chalicelib.settings import Settings
from tests.fakes.installed import Fakes

IDS = ("task", "job", "execution")


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("started", "running", ("starts",)),
        ("finished", "done", ("succeeds", "finishes")),
        ("finished", "failed", ("fails", "finishes")),
        ("finished", "timedout", ("fails", "finishes")),
        ("finished", "expired", ("fails", "finishes")),
        ("finished", "stopped", ("finishes",)),
    ],
)
def test_event_names(kind: str, status: str, expected: tuple[str, ...]) -> None:
    assert event_names(kind, status) == expected


def _spec() -> Any:
    return parse_job(
        {
            "image": "busybox",
            "command": "true",
            "webhooks": {
                "succeeds": [{"url": "http://a/ok", "headers": {"X-T": "1"}, "retries": 3}],
                "finishes": [{"url": "http://a/end"}, {"url": "http://a/end", "retries": 99}],
                "starts": [{"url": "http://a/start"}],
            },
            "notify": {"fails": ["ops@example.com"], "finishes": ["all@example.com"]},
        }
    )


def test_a_success_owes_its_succeeds_and_finishes_deliveries() -> None:
    settings = Settings(webhook_max_retries=10, mail_retries=2)
    deliveries = plan_deliveries(_spec(), "finished", "done", IDS, settings)

    assert [(d.channel, d.event, d.target, d.index, d.retries) for d in deliveries] == [
        ("webhook", "succeeds", "http://a/ok", 0, 3),
        # The same URL twice is two deliveries; a hook's retries are capped by the settings.
        ("webhook", "finishes", "http://a/end", 0, 0),
        ("webhook", "finishes", "http://a/end", 1, 10),
        ("email", "finishes", "all@example.com", 0, 2),
    ]
    assert deliveries[0].headers == {"X-T": "1"}
    assert all(d.attempt == 1 and (d.task_id, d.job_id, d.execution_id) == IDS for d in deliveries)


def test_a_failure_and_a_start_owe_theirs() -> None:
    settings = Settings()
    failed = plan_deliveries(_spec(), "finished", "failed", IDS, settings)
    started = plan_deliveries(_spec(), "started", "running", IDS, settings)

    assert [(d.channel, d.event) for d in failed] == [
        ("email", "fails"),
        ("webhook", "finishes"),
        ("webhook", "finishes"),
        ("email", "finishes"),
    ]
    assert [(d.channel, d.target) for d in started] == [("webhook", "http://a/start")]
    assert plan_deliveries(parse_job({"image": "b", "command": "true"}), "finished", "done", IDS, settings) == []


def test_a_delivery_survives_its_message_and_counts_its_attempts() -> None:
    delivery = Delivery("webhook", "fails", *IDS, target="http://x", index=0, retries=2, headers={"A": "b"})
    again = Delivery.from_dict(json.loads(json.dumps(delivery.next_attempt().to_dict())))

    assert again == Delivery(
        "webhook", "fails", *IDS, target="http://x", index=0, retries=2, headers={"A": "b"}, attempt=2
    )
    assert delivery.retries_left and again.retries_left
    assert not again.next_attempt().retries_left  # attempt 3 of 1 + 2 retries is the last


def test_backoff_grows_by_the_factor_in_whole_seconds_up_to_the_cap() -> None:
    settings = Settings(webhook_backoff_ms=1000, webhook_backoff_factor=2.0, webhook_backoff_max_ms=10_000)

    assert [backoff_seconds(n, settings) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert backoff_seconds(1, Settings(webhook_backoff_ms=300)) == 1  # SQS delays by whole seconds
    assert backoff_seconds(30, Settings()) == 900  # and 15 minutes at most


def test_nothing_is_published_for_a_job_that_asks_for_nothing(fakes: Fakes) -> None:
    sent = fakes.notification_queue.published

    class Execution:
        task_id, job_id, execution_id = IDS

    plain = parse_job({"image": "b", "command": "true", "webhooks": {"fails": [{"url": "http://a"}]}})
    events.execution_ended(Execution(), "done", plain)  # type: ignore[arg-type]
    events.execution_started(Execution(), plain)  # type: ignore[arg-type]
    assert sent == []
    events.execution_ended(Execution(), "failed", plain)  # type: ignore[arg-type]
    events.execution_ended(Execution(), "stopped")  # type: ignore[arg-type]  # no job at hand: always
    assert [(b["type"], b["kind"], b["status"], b["executionId"]) for b in sent] == [
        ("event", "finished", "failed", "execution"),
        ("event", "finished", "stopped", "execution"),
    ]


def test_a_failed_publish_never_reaches_the_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(body: dict[str, Any], delay: int = 0) -> str:
        raise ConnectionError("SQS is down")

    monkeypatch.setattr(notifications.notification_queue, "publish", broken)

    class Execution:
        task_id, job_id, execution_id = IDS

    events.execution_ended(Execution(), "failed")  # type: ignore[arg-type]


def _record(message_id: str, body: Any) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q",
        "awsRegion": "us-east-1",
    }


def test_the_handler_reports_only_the_records_that_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    handled: list[str] = []

    def handle_event(body: dict[str, Any]) -> None:
        if body["executionId"] == "boom":
            raise RuntimeError("DynamoDB is down")
        handled.append(body["executionId"])

    monkeypatch.setattr(notifications, "_handle_event", handle_event)
    event = {
        "Records": [
            _record("1", {"type": "event", "executionId": "fine"}),
            _record("2", {"type": "event", "executionId": "boom"}),
            _record("3", "not json"),
            _record("4", {"type": "something else"}),
            _record("5", {"type": "event", "executionId": "also-fine"}),
        ]
    }

    result = notifications.handle_batch(event, None)

    assert result == {"batchItemFailures": [{"itemIdentifier": "2"}, {"itemIdentifier": "3"}, {"itemIdentifier": "4"}]}
    assert handled == ["fine", "also-fine"]


def test_a_batch_that_fails_whole_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    result = notifications.handle_batch({"Records": [_record("1", "x"), _record("2", "y")]}, None)

    assert result == {"batchItemFailures": [{"itemIdentifier": "1"}, {"itemIdentifier": "2"}]}


def test_a_refused_target_is_recorded_once_neither_retried_nor_dead_lettered(
    fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    published, parked = fakes.notification_queue.published, fakes.notification_queue.dead_lettered
    attempts: list[dict[str, Any]] = []

    def deliver(delivery: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
        attempts.append(delivery)
        return {"delivered": False, "blocked": True, "error": "refused: metadata is 169.254.169.254"}

    monkeypatch.setattr(notifications, "_deliver_once", lambda: deliver)
    delivery = Delivery("webhook", "finishes", *IDS, target="http://metadata/", index=0, retries=5, headers={})

    notifications._attempt(delivery, {}, Settings())

    assert len(attempts) == 1 and published == [] and parked == []
