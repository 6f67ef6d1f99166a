"""The job body: parsing and validation of what a client sends.

Everything a client can get wrong is caught here and reported as a ValidationError naming the
field, so no malformed value ever reaches storage or a runner.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from chalicelib.domain.durations import parse_duration
from chalicelib.domain.errors import ValidationError

_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._\-/:@]*$", re.IGNORECASE)
TASK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@+=~-]{0,199}$"
_TASK_ID = re.compile(TASK_ID_PATTERN)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
NOTIFY_EVENTS = ("succeeds", "fails", "finishes")
WEBHOOK_EVENTS = ("succeeds", "fails", "finishes", "starts")
CONCURRENCY_POLICIES = ("allow", "forbid", "replace")
# The last instant a datetime can hold (9999-12-31T23:59:59Z): later startAt/startIn cannot be scheduled.
_LATEST_TIMESTAMP = 253_402_300_799


@dataclass
class JobSpec:
    """A validated job body, stored as is (camelCase keys) on the job."""

    image: str
    command: str
    envs: dict[str, str] = field(default_factory=dict)
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


def parse_body(raw: bytes | str | None, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object, or a ValidationError saying why not."""
    if raw is None or raw in (b"", ""):
        raise ValidationError("the request body must be a JSON object; it was empty")
    if len(raw) > max_bytes:
        raise ValidationError(f"the request body is larger than {max_bytes} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValidationError(f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValidationError("the request body must be a JSON object")
    return data


def _int(data: dict[str, Any], key: str, minimum: int = 0) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{key} must be an integer", field=key)
    if value < minimum:
        raise ValidationError(f"{key} must be ≥ {minimum}", field=key)
    return value


def _str(data: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ValidationError(f"{key} is required", field=key)
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be a string", field=key)
    if required and not value.strip():
        raise ValidationError(f"{key} must not be empty", field=key)
    return value


def _object(data: dict[str, Any], key: str) -> Any:
    """The value of an optional object key: absent or null is ``{}``; any other value is returned
    as is for its type to be checked (so ``[]``, ``""``, ``0`` or ``false`` are not taken for ``{}``)."""
    value = data.get(key)
    return {} if value is None else value


def _envs(data: dict[str, Any]) -> dict[str, str]:
    envs = _object(data, "envs")
    if not isinstance(envs, dict):
        raise ValidationError("envs must be an object of string values", field="envs")
    for name, value in envs.items():
        if not name or "=" in name or not isinstance(value, str):
            raise ValidationError(
                f"envs[{name!r}] must be a non-empty name without '=' and a string value",
                field="envs",
            )
    return dict(envs)


def _notify(data: dict[str, Any]) -> dict[str, list[str]]:
    notify = _object(data, "notify")
    if not isinstance(notify, dict) or set(notify) - set(NOTIFY_EVENTS):
        raise ValidationError(f"notify must be an object with keys among {NOTIFY_EVENTS}", field="notify")
    for event, emails in notify.items():
        if not isinstance(emails, list) or not all(isinstance(e, str) and _EMAIL.fullmatch(e) for e in emails):
            raise ValidationError(f"notify.{event} must be a list of e-mail addresses", field="notify")
    return {event: list(notify.get(event, [])) for event in NOTIFY_EVENTS}


def _webhooks(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    hooks = _object(data, "webhooks")
    if not isinstance(hooks, dict) or set(hooks) - set(WEBHOOK_EVENTS):
        raise ValidationError(f"webhooks must be an object with keys among {WEBHOOK_EVENTS}", field="webhooks")
    result: dict[str, list[dict[str, Any]]] = {event: [] for event in WEBHOOK_EVENTS}
    for event, items in hooks.items():
        if not isinstance(items, list):
            raise ValidationError(f"webhooks.{event} must be a list", field="webhooks")
        for hook in items:
            url = hook.get("url") if isinstance(hook, dict) else None
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ValidationError(f"webhooks.{event}[].url must be an http(s) URL", field="webhooks")
            headers = _object(hook, "headers")
            retries = hook.get("retries", 0)
            if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
                raise ValidationError(f"webhooks.{event}[].headers must map names to strings", field="webhooks")
            if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
                raise ValidationError(f"webhooks.{event}[].retries must be an integer ≥ 0", field="webhooks")
            result[event].append({"url": url, "headers": headers, "retries": retries})
    return result


def _retry_backoff(data: dict[str, Any]) -> dict[str, float] | None:
    backoff = data.get("retryBackoff")
    if backoff is None:
        return None
    allowed = {"minMs", "factor", "maxMs"}
    if not isinstance(backoff, dict) or set(backoff) - allowed:
        raise ValidationError(f"retryBackoff must be an object with keys among {sorted(allowed)}", field="retryBackoff")
    for key, value in backoff.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValidationError(f"retryBackoff.{key} must be a number ≥ 0", field="retryBackoff")
    return dict(backoff)


def _schedule(data: dict[str, Any]) -> None:
    given = [key for key in ("startAt", "startIn", "cron") if data.get(key) is not None]
    if len(given) > 1:
        raise ValidationError(
            f"startAt, startIn and cron are mutually exclusive; got {', '.join(given)}",
            field=given[1],
        )
    start_at = _int(data, "startAt")
    if start_at is not None and start_at > _LATEST_TIMESTAMP:
        raise ValidationError(f"startAt must be a UNIX time ≤ {_LATEST_TIMESTAMP} (year 9999)", field="startAt")
    start_in = _str(data, "startIn")
    if start_in is not None:
        try:
            datetime.now(UTC) + timedelta(seconds=parse_duration(start_in))
        except OverflowError as exc:
            raise ValidationError(f"startIn {start_in!r} ends after year 9999", field="startIn") from exc
    cron = _str(data, "cron")
    if cron is not None and (len(cron.split()) != 5 or not croniter.is_valid(cron)):
        raise ValidationError(f"cron {cron!r} is not a valid 5-field cron expression", field="cron")
    if cron is not None:
        try:
            croniter(cron, datetime.now(UTC)).get_next(datetime)
        except CroniterBadDateError as exc:
            raise ValidationError(f"cron {cron!r} never fires", field="cron") from exc
    zone = _str(data, "timezone")
    if zone is not None:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(f"timezone {zone!r} is not an IANA time zone name", field="timezone") from exc


def parse_job(data: dict[str, Any]) -> JobSpec:
    """A JobSpec from a decoded body; raises ValidationError on the first problem found."""
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ValidationError(f"unknown keys in the job body: {', '.join(unknown)}", field=unknown[0])
    image = _str(data, "image", required=True)
    command = _str(data, "command", required=True)
    assert image is not None and command is not None
    if not _IMAGE.fullmatch(image):
        raise ValidationError(f"image {image!r} is not a valid image reference", field="image")
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ValidationError(f"command cannot be split as a shell would: {exc}", field="command") from exc
    if not argv:
        raise ValidationError("command must not be empty", field="command")
    metadata = _object(data, "metadata")
    if not isinstance(metadata, dict):
        raise ValidationError("metadata must be an object", field="metadata")
    _schedule(data)
    policy = data.get("concurrencyPolicy", "allow")
    if policy not in CONCURRENCY_POLICIES:
        raise ValidationError(f"concurrencyPolicy must be one of {CONCURRENCY_POLICIES}", field="concurrencyPolicy")
    return JobSpec(
        image=image,
        command=command,
        envs=_envs(data),
        metadata=metadata,
        retries=_int(data, "retries") or 0,
        timeout=_int(data, "timeout", minimum=1),
        expiration=_int(data, "expiration"),
        startAt=_int(data, "startAt"),
        startIn=_str(data, "startIn"),
        cron=_str(data, "cron"),
        timezone=_str(data, "timezone"),
        concurrencyPolicy=policy,
        startingDeadlineSeconds=_int(data, "startingDeadlineSeconds"),
        retryBackoff=_retry_backoff(data),
        notify=_notify(data),
        webhooks=_webhooks(data),
    )
