"""The SQS queues in memory: the job queue, the notifications queue (and its dead-letter queue)
and the runners' control queues. What is sent is recorded in lists, for tests to read."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters.control import StopRequest
from chalicelib.adapters.job_queue import ExecutionMessage, Received


@dataclass
class FakeJobQueue:
    """``job_queue``: ``sent`` holds (message, delay) per send; ``receive`` hands out ``inbox``."""

    sent: list[tuple[ExecutionMessage, int]] = field(default_factory=list)
    inbox: list[Received] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    # While True every send fails, as SQS being unreachable does.
    failing: bool = False

    def job_queue_url(self) -> str:
        return "memory://job-queue"

    def send_execution(self, message: ExecutionMessage, delay_seconds: int = 0) -> str:
        if self.failing:
            raise ConnectionError("SQS is unreachable")
        self.sent.append((message, delay_seconds))
        return f"message-{len(self.sent)}"

    def sent_ids(self) -> list[str]:
        """The execution ids sent, in order."""
        return [message.execution_id for message, _ in self.sent]

    def receive(self, max_messages: int, wait_seconds: int, visibility_seconds: int) -> list[Received]:
        taken, self.inbox = self.inbox[:max_messages], self.inbox[max_messages:]
        return taken

    def delete(self, receipt_handle: str) -> None:
        self.deleted.append(receipt_handle)

    def delete_batch(self, receipt_handles: list[str], url: str | None = None) -> list[str]:
        self.deleted.extend(receipt_handles)
        return []

    def extend_visibility(self, receipt_handle: str, seconds: int) -> None:
        return None

    def approximate_length(self, name: str) -> int:
        return len(self.inbox)


@dataclass
class FakeNotificationQueue:
    """``notification_queue``: ``published`` holds the bodies sent (``delays`` their delays, in
    the same order); ``dead_lettered`` the bodies parked."""

    published: list[dict[str, Any]] = field(default_factory=list)
    delays: list[int] = field(default_factory=list)
    dead_lettered: list[dict[str, Any]] = field(default_factory=list)
    # While True every publish fails, as SQS being unreachable does.
    failing: bool = False

    def publish(self, body: dict[str, Any], delay_seconds: int = 0) -> str:
        if self.failing:
            raise ConnectionError("SQS is unreachable")
        self.published.append(json.loads(json.dumps(body)))
        self.delays.append(delay_seconds)
        return f"notification-{len(self.published)}"

    def dead_letter(self, body: dict[str, Any]) -> str:
        self.dead_lettered.append(json.loads(json.dumps(body)))
        return f"dead-letter-{len(self.dead_lettered)}"

    def receive(self, wait_seconds: int, max_messages: int = 10) -> list[dict[str, Any]]:
        taken = self.published[:max_messages]
        del self.published[:max_messages], self.delays[:max_messages]
        return [
            {"MessageId": f"n{n}", "ReceiptHandle": f"h{n}", "Body": json.dumps(body), "Attributes": {}}
            for n, body in enumerate(taken)
        ]

    def delete(self, receipt_handle: str) -> None:
        return None

    def queue_arn(self) -> str:
        return "arn:aws:sqs:us-east-1:000000000000:memory-notifications"


@dataclass
class FakeControl:
    """``control``: the stop requests sent, per host; hosts in ``without_queue`` have none."""

    stops: list[tuple[str, str]] = field(default_factory=list)
    without_queue: set[str] = field(default_factory=set)

    def ensure_queue(self, host: str) -> str:
        self.without_queue.discard(host)
        return f"memory://control/{host}"

    def send_stop(self, host: str, execution_id: str) -> bool:
        if host in self.without_queue:
            return False
        self.stops.append((host, execution_id))
        return True

    def receive(self, url: str, wait_seconds: int) -> list[StopRequest]:
        host = url.rsplit("/", 1)[-1]
        mine = [StopRequest(execution_id, f"stop-{n}") for n, (to, execution_id) in enumerate(self.stops) if to == host]
        self.stops = [(to, execution_id) for to, execution_id in self.stops if to != host]
        return mine

    def delete(self, url: str, receipt_handle: str) -> None:
        return None
