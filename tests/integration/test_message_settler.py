"""runner.message_settler against SQS on the local emulator: settled runs' messages are deleted
in batches, and a refused or failed batch is not an error (the message comes back)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from chalicelib.adapters import job_queue
from chalicelib.adapters.aws import client
from infra.local.harness import StackProcess
from runner.message_settler import MessageSettler


@pytest.fixture
def queue(stack: StackProcess) -> Iterator[str]:
    url = client("sqs").create_queue(QueueName=f"settler-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    yield url
    client("sqs").delete_queue(QueueUrl=url)


def _received_handles(url: str, count: int) -> list[str]:
    sqs = client("sqs")
    for n in range(count):
        sqs.send_message(QueueUrl=url, MessageBody=f"message {n}")
    handles: list[str] = []
    while len(handles) < count:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        handles += [message["ReceiptHandle"] for message in batch.get("Messages", [])]
    return handles


def _left(url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def test_settled_messages_are_deleted_in_batches_of_ten_at_most(queue: str) -> None:
    handles = _received_handles(queue, 12)
    calls: list[int] = []

    def delete_batch(batch: list[str]) -> list[str]:
        calls.append(len(batch))
        return job_queue.delete_batch(batch, queue)

    settler = MessageSettler(delete_batch)
    for handle in handles:
        settler.delete_later(handle)
    settler.flush()

    assert _left(queue) == 0
    assert sum(calls) == 12
    assert max(calls) <= job_queue.DELETE_BATCH
    assert len(calls) < 12  # shared calls, not one per message


def test_a_refused_handle_or_a_failed_call_does_not_stop_the_settler(queue: str) -> None:
    handles = _received_handles(queue, 2)
    attempts: list[list[str]] = []
    first_call = threading.Event()

    def delete_batch(batch: list[str]) -> list[str]:
        attempts.append(batch)
        if len(attempts) == 1:
            first_call.set()
            raise ConnectionError("SQS unreachable")
        return job_queue.delete_batch(batch, queue)

    settler = MessageSettler(delete_batch)
    settler.delete_later(handles[0])
    first_call.wait(5)  # the first (failing) call goes out before the rest arrives
    settler.delete_later("not-a-receipt-handle")
    settler.delete_later(handles[1])
    settler.flush()

    assert job_queue.delete_batch(["not-a-receipt-handle"], queue) == ["not-a-receipt-handle"]
    assert attempts[0] == [handles[0]]
    assert handles[1] in attempts[-1]
    assert _left(queue) == 1  # only the message of the failed call is left, to come back
