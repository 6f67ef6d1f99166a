"""The local stand-in for Lambda's SQS event source mapping on the notifications queue.

It long-polls the queue, hands each batch to the Chalice app's own SQS handler as the same
event dict Lambda builds, and deletes only the records the handler did not report in
``batchItemFailures``; the others come back after their visibility timeout, and after
``max_receive_count`` receives SQS moves them to the dead-letter queue, as in AWS.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters import notification_queue
from chalicelib.settings import Settings

logger = logging.getLogger("slipway.local.notifications")

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalContext:
    """The few attributes of a Lambda context the handlers may read."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:notifications"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda passes an SQS-triggered function, from ReceiveMessage's messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


class NotificationsConsumer:
    def __init__(self, handler: Handler, settings: Settings, wait_seconds: int = 2) -> None:
        self.handler = handler
        self.settings = settings
        self.wait_seconds = wait_seconds
        self._queue_arn: str | None = None

    def poll_once(self) -> int:
        """One receive → invoke → delete round; answers how many records were delivered."""
        messages = notification_queue.receive(self.wait_seconds)
        if not messages:
            return 0
        if self._queue_arn is None:
            self._queue_arn = notification_queue.queue_arn()
        event = sqs_event(messages, self._queue_arn, self.settings.region)
        context = LocalContext(
            function_name=f"slipway-{self.settings.stage}-notifications", aws_request_id=str(uuid.uuid4())
        )
        try:
            result = self.handler(event, context) or {}
            failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        except Exception:
            # As Lambda: an invocation error fails the whole batch, which comes back later.
            logger.exception("the notifications handler failed on a batch of %d", len(messages))
            return 0
        done = 0
        for message in messages:
            if message["MessageId"] in failed:
                continue
            notification_queue.delete(message["ReceiptHandle"])
            done += 1
        if failed:
            logger.warning("%d notification record(s) failed; SQS will deliver them again", len(failed))
        return done
