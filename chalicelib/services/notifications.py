"""Notifications of execution events: webhooks and e-mails, delivered off the runner's path.

Flow::

    runner / stop route ──event──► notifications queue ──► handle_batch (Lambda, SQS source)
                                         ▲                     │ one delivery per hook URL / address
                                         │ attempt n+1,        ▼
                                         └─ DelaySeconds ── attempt n failed ── retries left?
                                                               │ no
                                                               ▼
                                                  notifications dead-letter queue

- An *event* (``started``, or ``finished`` with the final status) names an execution. Whoever
  stored the start or the end publishes it, after the write, so it never delays a container.
- The consumer loads the execution and its job once, builds the content once, and makes the
  first attempt of every delivery the job asks for. A failed attempt is sent back to the queue,
  delayed by the back-off, as a *delivery* message carrying everything it needs; when its
  retries are spent, it goes to the dead-letter queue with its last outcome.
- Every attempt (URL or address, attempt number, status code or error, time) is appended to
  the execution and shown as ``metadata.webhookDispatch`` / ``metadata.notifyDispatch``.
- Each attempt runs under Powertools idempotency keyed by (execution, event, target, attempt):
  SQS delivers at least once, and a duplicate must not POST or mail twice.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from chalicelib.adapters import execution_repository, job_repository, mail, notification_queue, webhook_client
from chalicelib.adapters.aws import client
from chalicelib.adapters.models import DeliveryIdempotencyModel, ExecutionModel
from chalicelib.domain.clock import to_iso, utcnow
from chalicelib.domain.deliveries import (
    WEBHOOK,
    Delivery,
    backoff_seconds,
    plan_deliveries,
)
from chalicelib.domain.mail import Mail, MailError
from chalicelib.domain.payload import JobSpec
from chalicelib.services import notification_content, telemetry
from chalicelib.settings import Settings, get_settings

logger = logging.getLogger(__name__)

# How long a delivery attempt is remembered as done (duplicates come within minutes).
_IDEMPOTENCY_CONFIG = IdempotencyConfig(expires_after_seconds=6 * 3600)


# -- consuming (the SQS handler) -------------------------------------------------------------


def handle_batch(event: dict[str, Any], context: Any = None) -> PartialItemFailureResponse:
    """An SQS batch: each record handled alone; the failed ones are reported for SQS to
    deliver again (and to park in the dead-letter queue after ``max_receive_count``)."""
    if context is not None:
        # An attempt cut short by the Lambda's timeout is then retried once the invocation
        # would have ended, instead of staying "in progress" until the record expires.
        _IDEMPOTENCY_CONFIG.register_lambda_context(context)
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)


def handle_record(record: SQSRecord) -> None:
    body = json.loads(record.body)
    if body.get("type") == "event":
        _handle_event(body)
    elif body.get("type") == "delivery":
        _handle_delivery(Delivery.from_dict(body["delivery"]))
    else:
        raise ValueError(f"not a notification message: {record.body[:200]!r}")


def _load(task_id: str, job_id: str, execution_id: str) -> tuple[Any, ExecutionModel] | None:
    execution = execution_repository.get_execution(job_id, execution_id, consistent=True)
    job = job_repository.get_job(task_id, job_id)
    if execution is None or job is None:
        logger.warning("execution %s/%s/%s is gone: nothing to notify", task_id, job_id, execution_id)
        return None
    return job, execution


def _handle_event(body: dict[str, Any]) -> None:
    settings = get_settings()
    ids = (body["taskId"], body["jobId"], body["executionId"])
    loaded = _load(*ids)
    if loaded is None:
        return
    job, execution = loaded
    deliveries = plan_deliveries(JobSpec.from_dict(job.spec), body["kind"], body.get("status"), ids, settings)
    if not deliveries:
        return
    base = notification_content.payload("", job, execution, settings)
    failures: list[Exception] = []
    for delivery in deliveries:
        try:
            _attempt(delivery, base | {"event": delivery.event}, settings)
        except Exception as exc:
            logger.exception("delivery %s to %s failed to run", delivery.channel, delivery.target)
            failures.append(exc)
    if failures:
        raise failures[0]


def _handle_delivery(delivery: Delivery) -> None:
    settings = get_settings()
    loaded = _load(delivery.task_id, delivery.job_id, delivery.execution_id)
    if loaded is None:
        return
    job, execution = loaded
    _attempt(delivery, notification_content.payload(delivery.event, job, execution, settings), settings)


def _attempt(delivery: Delivery, content: dict[str, Any], settings: Settings) -> None:
    record = _deliver_once()(delivery=delivery.to_dict(), content=content)
    if record.get("delivered"):
        return
    if delivery.channel == WEBHOOK:
        telemetry.webhook_failed()
    if record.get("blocked"):
        # The address will not leave the blocked network by waiting: recorded, not retried.
        logger.warning("webhook to %s refused: %s", delivery.target, record.get("error"))
        return
    if delivery.retries_left:
        delay = backoff_seconds(delivery.attempt, settings)
        notification_queue.publish({"type": "delivery", "delivery": delivery.next_attempt().to_dict()}, delay)
        logger.info(
            "%s to %s failed (attempt %d of %d); again in %d s",
            delivery.channel,
            delivery.target,
            delivery.attempt,
            delivery.retries + 1,
            delay,
        )
        return
    notification_queue.dead_letter({"type": "delivery", "delivery": delivery.to_dict(), "lastOutcome": record})
    logger.warning(
        "%s to %s gave up after %d attempts: %s", delivery.channel, delivery.target, delivery.attempt, record
    )


@cache
def _deliver_once() -> Any:
    """``_deliver`` under Powertools idempotency (made on first use: it needs a DynamoDB client)."""
    persistence = DynamoDBPersistenceLayer(
        table_name=DeliveryIdempotencyModel.Meta.table_name, boto3_client=client("dynamodb")
    )
    return idempotent_function(
        _deliver, data_keyword_argument="delivery", persistence_store=persistence, config=_IDEMPOTENCY_CONFIG
    )


def _deliver(delivery: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
    """One attempt, recorded on the execution; answers the record (stored by Powertools)."""
    settings = get_settings()
    item = Delivery.from_dict(delivery)
    started = utcnow()
    record: dict[str, Any] = {
        "channel": item.channel,
        "event": item.event,
        "attempt": item.attempt,
        "timestamp": to_iso(started),
    }
    if item.channel == WEBHOOK:
        outcome = webhook_client.post_json(
            item.target,
            notification_content.encode(content),
            item.headers,
            settings.webhook_timeout_seconds,
            blocked=settings.blocked_networks,
        )
        record |= {"url": item.target, "statusCode": outcome.status_code, "durationMs": outcome.duration_ms}
        record |= {"delivered": outcome.delivered, "error": outcome.error}
        if outcome.blocked:
            record["blocked"] = True
    else:
        message = Mail(
            to=item.target,
            subject=notification_content.subject(content),
            text=notification_content.mail_text(content),
            html=notification_content.mail_html(content),
        )
        record["to"] = item.target
        try:
            mail.send(message, settings)
            record |= {"delivered": True, "error": None}
        except MailError as exc:
            record |= {"delivered": False, "error": str(exc)}
    try:
        execution_repository.append_dispatch(item.job_id, item.execution_id, record, settings.dispatch_records_kept)
    except Exception:
        # The attempt happened: failing here would make SQS replay it and POST twice.
        logger.exception("could not record %s attempt %d on %s", item.channel, item.attempt, item.execution_id)
    return record
