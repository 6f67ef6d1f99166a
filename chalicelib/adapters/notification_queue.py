"""The SQS notifications queue (and its dead-letter queue): execution events and the
deliveries (webhook POSTs, e-mails) they fan out to."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.adapters.aws import client, queue_url
from chalicelib.domain.limits import SQS_MAX_BATCH, sqs_delay
from chalicelib.settings import get_settings


def publish(body: dict[str, Any], delay_seconds: int = 0) -> str:
    """Send ``body`` as JSON to the notifications queue; answers the SQS message id."""
    response = client("sqs").send_message(
        QueueUrl=queue_url(get_settings().notifications_queue),
        MessageBody=json.dumps(body),
        DelaySeconds=sqs_delay(delay_seconds),
    )
    return str(response["MessageId"])


def dead_letter(body: dict[str, Any]) -> str:
    """Park ``body`` on the notifications dead-letter queue (a delivery whose attempts ran out)."""
    response = client("sqs").send_message(
        QueueUrl=queue_url(get_settings().notifications_dead_letter_queue), MessageBody=json.dumps(body)
    )
    return str(response["MessageId"])


def receive(wait_seconds: int, max_messages: int = 10) -> list[dict[str, Any]]:
    """Raw messages of the notifications queue, with their attributes (the local stack's
    stand-in for Lambda's event source mapping)."""
    response = client("sqs").receive_message(
        QueueUrl=queue_url(get_settings().notifications_queue),
        MaxNumberOfMessages=max(1, min(max_messages, SQS_MAX_BATCH)),
        WaitTimeSeconds=wait_seconds,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    return list(response.get("Messages", []))


def delete(receipt_handle: str) -> None:
    client("sqs").delete_message(QueueUrl=queue_url(get_settings().notifications_queue), ReceiptHandle=receipt_handle)


def queue_arn() -> str:
    attributes = client("sqs").get_queue_attributes(
        QueueUrl=queue_url(get_settings().notifications_queue), AttributeNames=["QueueArn"]
    )
    return str(attributes["Attributes"]["QueueArn"])
