"""The SQS job queue: what runners receive executions from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.aws import client, queue_url
from chalicelib.domain.limits import SQS_MAX_BATCH, sqs_delay
from chalicelib.domain.pools import queue_for_task
from chalicelib.settings import get_settings


@dataclass(frozen=True)
class ExecutionMessage:
    """The body of a job-queue message: just enough to find the execution."""

    task_id: str
    job_id: str
    execution_id: str
    # Epoch milliseconds before which the run must not start: SQS delays are whole seconds,
    # so the runner waits out the fraction itself.
    not_before_ms: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "taskId": self.task_id,
                "jobId": self.job_id,
                "executionId": self.execution_id,
                "notBeforeMs": self.not_before_ms,
            }
        )

    @classmethod
    def from_json(cls, body: str) -> ExecutionMessage:
        data = json.loads(body)
        return cls(
            task_id=data["taskId"],
            job_id=data["jobId"],
            execution_id=data["executionId"],
            not_before_ms=int(data.get("notBeforeMs") or 0),
        )


@dataclass(frozen=True)
class Received:
    message: ExecutionMessage | None
    receipt_handle: str
    message_id: str
    receive_count: int
    body: str
    # When SQS got it (epoch seconds; its SentTimestamp), for the queue-age metric.
    sent_at: float | None = None


def job_queue_url() -> str:
    """The queue this process receives from: the job queue of its runner's pool."""
    settings = get_settings()
    return queue_url(settings.pool_queue(settings.runner_pool))


def send_execution(message: ExecutionMessage, delay_seconds: int = 0) -> str:
    """Send to the task's pool and answer the SQS message id (the API's ``queueJobId``)."""
    response = client("sqs").send_message(
        QueueUrl=queue_url(queue_for_task(message.task_id, get_settings())),
        MessageBody=message.to_json(),
        DelaySeconds=sqs_delay(delay_seconds),
    )
    return response["MessageId"]


def receive(max_messages: int, wait_seconds: int, visibility_seconds: int) -> list[Received]:
    response = client("sqs").receive_message(
        QueueUrl=job_queue_url(),
        MaxNumberOfMessages=max(1, min(max_messages, SQS_MAX_BATCH)),
        WaitTimeSeconds=wait_seconds,
        VisibilityTimeout=visibility_seconds,
        MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
    )
    return [_received(raw) for raw in response.get("Messages", [])]


def _received(raw: dict[str, Any]) -> Received:
    try:
        message: ExecutionMessage | None = ExecutionMessage.from_json(raw["Body"])
    except (ValueError, KeyError, TypeError):
        message = None
    return Received(
        message=message,
        receipt_handle=raw["ReceiptHandle"],
        message_id=raw["MessageId"],
        receive_count=int(raw.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
        body=raw["Body"],
        sent_at=_sent_at(raw.get("Attributes", {}).get("SentTimestamp")),
    )


def _sent_at(millis: str | None) -> float | None:
    try:
        return None if millis is None else int(millis) / 1000
    except ValueError:
        return None


def delete(receipt_handle: str) -> None:
    client("sqs").delete_message(QueueUrl=job_queue_url(), ReceiptHandle=receipt_handle)


# SQS deletes at most this many messages per DeleteMessageBatch.
DELETE_BATCH = SQS_MAX_BATCH


def delete_batch(receipt_handles: list[str], url: str | None = None) -> list[str]:
    """Delete up to ``DELETE_BATCH`` messages of ``url`` (default: this runner's job queue) in
    one call; answers the handles SQS refused."""
    response = client("sqs").delete_message_batch(
        QueueUrl=url or job_queue_url(),
        Entries=[{"Id": str(index), "ReceiptHandle": handle} for index, handle in enumerate(receipt_handles)],
    )
    return [receipt_handles[int(failure["Id"])] for failure in response.get("Failed", [])]


def extend_visibility(receipt_handle: str, seconds: int) -> None:
    client("sqs").change_message_visibility(
        QueueUrl=job_queue_url(), ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
    )


def approximate_length(name: str) -> int:
    attrs = client("sqs").get_queue_attributes(
        QueueUrl=queue_url(name), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attrs.get("ApproximateNumberOfMessages", 0))
