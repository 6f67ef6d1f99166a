"""Queues and buckets of a deployment, declared once for the local stack and for ``infra/``."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.settings import Settings

# Visibility of a notification message while a consumer holds it (the Lambda times out at 30 s).
NOTIFICATIONS_VISIBILITY_SECONDS = 180


@dataclass(frozen=True)
class QueueSpec:
    name: str
    visibility_timeout: int
    dead_letter: str | None = None
    max_receive_count: int = 5
    retention_seconds: int = 4 * 24 * 3600


def job_queue_names(settings: Settings) -> list[str]:
    """One job queue per pool (the default pool's is ``settings.job_queue``)."""
    return [settings.pool_queue(pool.name) for pool in settings.pool_list]


def queue_specs(settings: Settings) -> list[QueueSpec]:
    """Dead-letter queues first, so a queue's DLQ exists when the queue is made.

    Every pool's job queue parks its poison messages in the one dead-letter queue: the
    ``error`` queue of ``/status/``.
    """
    return [
        QueueSpec(settings.job_dead_letter_queue, visibility_timeout=30, retention_seconds=14 * 24 * 3600),
        *(
            QueueSpec(
                name,
                visibility_timeout=settings.runner_visibility_seconds,
                dead_letter=settings.job_dead_letter_queue,
                # A message that made runners fail this often is parked, not retried forever.
                max_receive_count=10,
            )
            for name in job_queue_names(settings)
        ),
        # Deliveries whose retries ran out are put here by the consumer, and so are events the
        # consumer failed on this many times.
        QueueSpec(settings.notifications_dead_letter_queue, visibility_timeout=30, retention_seconds=14 * 24 * 3600),
        QueueSpec(
            settings.notifications_queue,
            # Six times the Lambda timeout, as AWS advises for an SQS event source.
            visibility_timeout=NOTIFICATIONS_VISIBILITY_SECONDS,
            dead_letter=settings.notifications_dead_letter_queue,
            max_receive_count=5,
        ),
    ]


def bucket_names(settings: Settings) -> list[str]:
    return [settings.logs_bucket]
