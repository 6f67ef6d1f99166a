"""Idempotent enqueue: ``POST /tasks/<t>/`` with an ``Idempotency-Key`` header runs once.

Powertools' idempotency utility does the bookkeeping in the idempotency table
(``models.IdempotencyModel``): the record's key is a hash of (task id, Idempotency-Key) and its
validation hash is that of the body.

- a repeated key within ``idempotency_expiry_seconds`` answers the first response again (no
  second job);
- the same key with a different body is refused: 422 (the IETF Idempotency-Key draft's answer);
- the same key while the first request is still being handled is refused: 409, retry later
  (Powertools holds it "in progress" until the first one ends, or until that Lambda
  invocation's remaining time runs out if it dies);
- a request that fails (a 4xx for a bad body) leaves no record, so the key can be used again.
"""

from __future__ import annotations

import contextvars
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)

from chalicelib.adapters.aws import client
from chalicelib.domain.errors import Conflict, ServiceUnavailable, SlipwayError
from chalicelib.domain.idempotency_keys import HEADER, validate_key
from chalicelib.services import jobs
from chalicelib.settings import get_settings


class KeyReusedWithAnotherBody(SlipwayError):
    status_code = 422


@dataclass(frozen=True)
class Outcome:
    enqueued: jobs.Enqueued
    # True when this is the stored answer of an earlier request with the same key.
    replayed: bool


# Set by the wrapped function when it really runs, so a replay can be told from a first run.
_ran: contextvars.ContextVar[bool] = contextvars.ContextVar("idempotent_enqueue_ran", default=False)


@lru_cache(maxsize=1)
def _config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="[taskId, key]",
        payload_validation_jmespath="body",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=get_settings().idempotency_expiry_seconds,
    )


@lru_cache(maxsize=1)
def _idempotent_enqueue() -> Any:
    persistence = DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table, boto3_client=client("dynamodb"))

    @idempotent_function(  # type: ignore[untyped-decorator]  # Powertools' decorator is untyped
        data_keyword_argument="request", config=_config(), persistence_store=persistence, key_prefix="enqueue"
    )
    def enqueue(request: dict[str, Any], request_ip: str | None) -> dict[str, Any]:
        _ran.set(True)
        return asdict(jobs.enqueue(request["taskId"], request["body"], request_ip=request_ip))

    return enqueue


def enqueue_once(
    key: str, task_id: str, body: dict[str, Any], request_ip: str | None = None, lambda_context: Any = None
) -> Outcome:
    """``jobs.enqueue`` at most once per (task, key) within the expiry window."""
    validate_key(key)
    if lambda_context is not None and hasattr(lambda_context, "get_remaining_time_in_millis"):
        # Lets Powertools expire an "in progress" record whose Lambda invocation died.
        _config().register_lambda_context(lambda_context)
    token = _ran.set(False)
    try:
        result = _idempotent_enqueue()(request={"taskId": task_id, "key": key, "body": body}, request_ip=request_ip)
        replayed = not _ran.get()
    except IdempotencyValidationError as exc:
        raise KeyReusedWithAnotherBody(
            f"this {HEADER} was already used with a different body; use a new key for a new job", field=HEADER
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise Conflict(f"a request with this {HEADER} is still being handled; retry in a moment", field=HEADER) from exc
    except IdempotencyPersistenceLayerError as exc:
        raise ServiceUnavailable("the idempotency store cannot be reached", field=HEADER) from exc
    finally:
        _ran.reset(token)
    return Outcome(jobs.Enqueued(**result), replayed)
