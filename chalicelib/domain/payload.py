"""The job body: parsing and validation of what a client sends.

Everything a client can get wrong is caught here and reported as a ValidationError naming the
field, so no malformed value ever reaches storage or a runner. The keys, their types, bounds and
messages are declared once in ``job_schema.py`` (which the OpenAPI document reads too).
"""

from __future__ import annotations

import json
import math
import re
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any

from chalicelib.domain import job_schema
from chalicelib.domain.errors import ValidationError

TASK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@+=~-]{0,199}$"
_TASK_ID = re.compile(TASK_ID_PATTERN)


@dataclass
class JobSpec:
    """A validated job body, stored as is (camelCase keys) on the job: the keys of
    ``job_schema.FIELDS`` (``tests/unit/test_job_schema.py`` checks they are the same)."""

    image: str
    command: str
    # A value, or a reference to a secret ({"secretRef": "<ARN>"}: runner/secret_refs.py).
    envs: dict[str, str | dict[str, str]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    timeout: int | None = None
    expiration: int | None = None
    startAt: int | None = None
    startIn: str | None = None
    cron: str | None = None
    timezone: str | None = None
    concurrencyPolicy: str = "allow"
    startingDeadlineSeconds: int | None = None
    retryBackoff: dict[str, float] | None = None
    resources: dict[str, Any] | None = None
    notify: dict[str, list[str]] = field(default_factory=dict)
    webhooks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        return cls(**{key: value for key, value in data.items() if key in _FIELDS})

    @property
    def argv(self) -> list[str]:
        """The command split as a shell would, without running a shell."""
        return shlex.split(self.command)


_FIELDS = set(JobSpec.__dataclass_fields__)


def validate_task_id(task_id: str) -> str:
    if not isinstance(task_id, str) or not _TASK_ID.fullmatch(task_id):
        raise ValidationError(
            "task id must be 1-200 characters of letters, digits and ._:@+=~- starting with a letter or digit",
            field="taskId",
        )
    return task_id


# Deepest nesting of objects and arrays accepted in a body: far beyond any real job, far below
# where a recursive encoder (the store's, a client's) gives up.
MAX_BODY_DEPTH = 32


class _NotJson(ValueError):
    """A text Python's json module reads but JSON does not allow."""


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON value (JSON has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotJson(f"the number {text[:40]} is beyond what a double can hold")
    return value


def _check_values(data: Any) -> None:
    """Refuse what strict JSON readers choke on, walking iteratively (never recursing as deep as
    the client did): nesting deeper than MAX_BODY_DEPTH and strings with lone surrogates."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: list[Any] = [*value.keys(), *value.values()]
        elif isinstance(value, list):
            children = value
        else:
            if isinstance(value, str) and _SURROGATE.search(value):
                raise ValidationError("the request body has a lone UTF-16 surrogate (\\ud800-\\udfff) in a string")
            continue
        if depth > MAX_BODY_DEPTH:
            raise ValidationError(f"the request body nests objects or arrays deeper than {MAX_BODY_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)


_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_body(raw: bytes | str | None, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object, or a ValidationError saying why not.

    Strict JSON only: no NaN or Infinity (Python's reader takes them, and would store and echo
    them back as no JSON), no number beyond a double, no lone surrogate, at most
    MAX_BODY_DEPTH levels deep.
    """
    if raw is None or raw in (b"", ""):
        raise ValidationError("the request body must be a JSON object; it was empty")
    if len(raw) > max_bytes:
        raise ValidationError(f"the request body is larger than {max_bytes} bytes")
    try:
        data = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValidationError(f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValidationError("the request body must be a JSON object")
    _check_values(data)
    return data


def stored_bytes(spec: JobSpec) -> int:
    """The bytes the job's details take on its item, encoded as the store encodes them (JSON with
    every non-ASCII character escaped: one CJK character is six bytes there, three in the body)."""
    return len(json.dumps(spec.to_dict()))


def refuse_oversized(spec: JobSpec, limit: int) -> None:
    """A job whose details would not fit its item is refused (DynamoDB holds 400 KB an item)."""
    size = stored_bytes(spec)
    if size > limit:
        raise ValidationError(
            f"the job takes {size} bytes once stored (JSON, non-ASCII characters escaped), "
            f"more than the {limit} a job may take: shorten its metadata, envs or command"
        )


def parse_job(data: dict[str, Any]) -> JobSpec:
    """A JobSpec from a decoded body; raises ValidationError on the first problem found."""
    return JobSpec(**job_schema.validate(data))
