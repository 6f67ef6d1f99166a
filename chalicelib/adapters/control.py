"""The control channel: one SQS queue per runner host, on which it receives stop requests.

A stop reaches the one runner holding the execution at once (its long poll wakes), instead of
every runner polling DynamoDB for every container every second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.aws import client, queue_url
from chalicelib.settings import get_settings


@dataclass(frozen=True)
class StopRequest:
    execution_id: str
    receipt_handle: str


def ensure_queue(host: str) -> str:
    """Create (idempotently) the control queue of ``host``; answers its URL."""
    name = get_settings().control_queue(host)
    return client("sqs").create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "3600"})["QueueUrl"]


def send_stop(host: str, execution_id: str) -> bool:
    """Ask the runner of ``host`` to stop ``execution_id``; False when that host has no queue."""
    try:
        url = queue_url(get_settings().control_queue(host))
    except ClientError as exc:
        if "NonExistentQueue" in str(exc.response.get("Error", {}).get("Code", "")):
            return False
        raise
    client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps({"action": "stop", "executionId": execution_id}))
    return True


def receive(url: str, wait_seconds: int) -> list[StopRequest]:
    response = client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
    requests: list[StopRequest] = []
    for raw in response.get("Messages", []):
        body: dict[str, Any] = json.loads(raw["Body"])
        requests.append(StopRequest(execution_id=str(body.get("executionId")), receipt_handle=raw["ReceiptHandle"]))
    return requests


def delete(url: str, receipt_handle: str) -> None:
    client("sqs").delete_message(QueueUrl=url, ReceiptHandle=receipt_handle)
