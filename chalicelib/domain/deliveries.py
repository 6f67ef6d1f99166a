"""Which deliveries an execution event owes: webhook POSTs and e-mails, attempt by attempt (pure).

The notifications service (``services/notifications.py``) publishes the events and makes the
attempts; what is owed, to whom, and how long to wait before the next attempt is decided here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from chalicelib.domain.backoff import Backoff
from chalicelib.domain.limits import SQS_MAX_DELAY_SECONDS
from chalicelib.domain.payload import JobSpec
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.settings import Settings

STARTED = "started"
FINISHED = "finished"
WEBHOOK = "webhook"
EMAIL = "email"


def event_names(kind: str, status: str | None) -> tuple[str, ...]:
    """The job-body events an execution event fires: ``succeeds`` on ``done``; ``fails`` on
    ``failed``, ``timedout`` and ``expired``; ``finishes`` on every end (a stop included);
    ``starts`` when the container started."""
    if kind == STARTED:
        return ("starts",)
    if status == ExecutionStatus.DONE.value:
        return ("succeeds", "finishes")
    if status in (ExecutionStatus.FAILED.value, ExecutionStatus.TIMEDOUT.value, ExecutionStatus.EXPIRED.value):
        return ("fails", "finishes")
    return ("finishes",)


@dataclass(frozen=True)
class Delivery:
    """One webhook POST or one e-mail, at one attempt: all a retry needs, in the message."""

    channel: str
    event: str
    task_id: str
    job_id: str
    execution_id: str
    target: str
    # Position of the hook or address in the job's list: the same URL twice is two deliveries.
    index: int
    retries: int
    headers: dict[str, str] = field(default_factory=dict)
    attempt: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Delivery:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})

    def next_attempt(self) -> Delivery:
        return replace(self, attempt=self.attempt + 1)

    @property
    def retries_left(self) -> bool:
        return self.attempt <= self.retries


def plan_deliveries(
    spec: JobSpec, kind: str, status: str | None, ids: tuple[str, str, str], settings: Settings
) -> list[Delivery]:
    task_id, job_id, execution_id = ids
    deliveries: list[Delivery] = []
    for event in event_names(kind, status):
        for index, hook in enumerate((spec.webhooks or {}).get(event) or []):
            deliveries.append(
                Delivery(
                    WEBHOOK,
                    event,
                    task_id,
                    job_id,
                    execution_id,
                    target=hook["url"],
                    index=index,
                    retries=min(int(hook.get("retries") or 0), settings.webhook_max_retries),
                    headers=dict(hook.get("headers") or {}),
                )
            )
        for index, address in enumerate((spec.notify or {}).get(event) or []):
            deliveries.append(
                Delivery(EMAIL, event, task_id, job_id, execution_id, address, index, settings.mail_retries)
            )
    return deliveries


def backoff_seconds(attempt: int, settings: Settings) -> int:
    """Whole seconds to wait after failed attempt ``attempt`` (1-based): base × factor^(n-1)."""
    backoff = Backoff(settings.webhook_backoff_ms, settings.webhook_backoff_factor, settings.webhook_backoff_max_ms)
    return min(SQS_MAX_DELAY_SECONDS, math.ceil(backoff.delay_ms(attempt) / 1000))


def wanted(spec: JobSpec | None, kind: str, status: str | None) -> bool:
    """Whether an event may owe a delivery (unknown without the job: the consumer decides)."""
    if spec is None:
        return True  # the consumer reads the job and decides
    events = event_names(kind, status)
    return any((spec.webhooks or {}).get(e) or (spec.notify or {}).get(e) for e in events)
