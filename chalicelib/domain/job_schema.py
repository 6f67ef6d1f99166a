"""The job body, declared once: every key's type, bounds, pattern, enum, default, description and
the message a client gets when it is wrong.

``payload.parse_job`` validates with ``validate`` below and the OpenAPI document's ``JobPayload``
component is ``openapi_schema()``: both come from ``FIELDS``, so they cannot drift apart. A kind
(``Text``, ``Integer``...) states its schema and its check side by side; what JSON Schema cannot
say (a cron that never fires, a command a shell cannot split) is a ``check`` of the field.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from chalicelib.domain.durations import parse_duration
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.image_refs import parse_image
from chalicelib.domain.sandbox import MIN_CPUS, MIN_MEMORY_BYTES, RESOURCE_KEYS, parse_resources

# The document's outline of a reference; Docker's whole grammar is checked by image_refs.parse_image.
IMAGE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/:@\[\]-]*$"
NOTIFY_EVENTS = ("succeeds", "fails", "finishes")
WEBHOOK_EVENTS = ("succeeds", "fails", "finishes", "starts")
CONCURRENCY_POLICIES = ("allow", "forbid", "replace")
# The last instant a datetime can hold (9999-12-31T23:59:59Z): later startAt/startIn cannot be scheduled.
LATEST_TIMESTAMP = 253_402_300_799
DESCRIPTION = "The job body (job-payload.md). Unknown keys are refused; null is the same as absent."

Schema = dict[str, Any]


def _regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``pattern`` as JSON Schema reads it: searched, and a final ``$`` ends the string (Python's
    ``$`` would also match before a final newline)."""
    return re.compile(pattern.removesuffix("$") + (r"\Z" if pattern.endswith("$") else ""), flags)


def _fail(message: str, where: str) -> ValidationError:
    return ValidationError(message, field=where)


class Kind:
    """A value's type: its OpenAPI schema and its check. ``path`` names the value in messages
    (``webhooks.fails``), ``where`` is the top-level key the error names."""

    def schema(self) -> Schema:
        raise NotImplementedError

    def check_shape(self, path: str, value: Any, where: str) -> None:
        """The type alone: required keys are checked this far before any other key."""

    def check(self, path: str, value: Any, where: str) -> Any:
        """The value, normalised, or a ValidationError."""
        raise NotImplementedError


@dataclass(frozen=True)
class Text(Kind):
    pattern: str | None = None
    flags: int = 0
    doc_pattern: str | None = None  # in the schema only, where ``test`` decides what is accepted
    non_blank: bool = False
    message: str | None = None  # every failure, when set; else "{path} must be a string" and pattern_message
    pattern_message: str = "{path} {value!r} does not match {pattern}"
    test: Callable[[str], None] | None = None  # what a pattern cannot say; raises ValidationError

    def schema(self) -> Schema:
        schema: Schema = {"type": "string"}
        if (self.pattern or self.doc_pattern) is not None:
            schema["pattern"] = self.pattern or self.doc_pattern
        if self.non_blank:
            schema["minLength"] = 1
        return schema

    def check_shape(self, path: str, value: Any, where: str) -> None:
        if not isinstance(value, str):
            raise _fail((self.message or "{path} must be a string").format(path=path), where)
        if self.non_blank and not value.strip():
            raise _fail((self.message or "{path} must not be empty").format(path=path), where)

    def check(self, path: str, value: Any, where: str) -> Any:
        self.check_shape(path, value, where)
        if self.pattern is not None and not _regex(self.pattern, self.flags).search(value):
            message = self.message or self.pattern_message
            raise _fail(message.format(path=path, value=value, pattern=self.pattern), where)
        if self.test is not None:
            self.test(value)
        return value


@dataclass(frozen=True)
class Integer(Kind):
    minimum: int = 0
    maximum: int | None = None
    maximum_message: str = "{path} must be ≤ {maximum}"
    message: str | None = None  # every failure, when set

    def schema(self) -> Schema:
        schema: Schema = {"type": "integer", "minimum": self.minimum}
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema

    def check(self, path: str, value: Any, where: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail((self.message or "{path} must be an integer").format(path=path), where)
        if value < self.minimum:
            raise _fail((self.message or "{path} must be ≥ {minimum}").format(path=path, minimum=self.minimum), where)
        if self.maximum is not None and value > self.maximum:
            raise _fail(self.maximum_message.format(path=path, maximum=self.maximum), where)
        return value


@dataclass(frozen=True)
class Choice(Kind):
    values: tuple[str, ...]

    def schema(self) -> Schema:
        return {"type": "string", "enum": list(self.values)}

    def check(self, path: str, value: Any, where: str) -> Any:
        if value not in self.values:
            raise _fail(f"{path} must be one of {self.values}", where)
        return value


@dataclass(frozen=True)
class FreeObject(Kind):
    """Any JSON object, kept as given."""

    def schema(self) -> Schema:
        return {"type": "object", "additionalProperties": True}

    def check(self, path: str, value: Any, where: str) -> Any:
        if not isinstance(value, dict):
            raise _fail(f"{path} must be an object", where)
        return value


@dataclass(frozen=True)
class StringMap(Kind):
    """An object of string values; ``env_names``: each name non-empty and without ``=``."""

    message: str
    env_names: bool = False
    entry_message: str = ""

    def schema(self) -> Schema:
        return {"type": "object", "additionalProperties": {"type": "string"}}

    def check(self, path: str, value: Any, where: str) -> Any:
        if not isinstance(value, dict):
            raise _fail(self.message.format(path=path), where)
        for name, item in value.items():
            if self.env_names and (not name or "=" in name or not isinstance(item, str)):
                raise _fail(self.entry_message.format(path=path, name=name), where)
            if not isinstance(item, str):
                raise _fail(self.message.format(path=path), where)
        return dict(value) if self.env_names else value


@dataclass(frozen=True)
class EnvMap(Kind):
    """The container's env vars: each a non-empty name without ``=`` and a string value, or a
    reference to a secret the runner reads at the container's start: ``{"secretRef": "<ARN>"}``
    (a Secrets Manager secret or an SSM parameter), so no secret value is ever stored."""

    def schema(self) -> Schema:
        reference = {
            "type": "object",
            "properties": {"secretRef": {"type": "string", "minLength": 1}},
            "required": ["secretRef"],
            "additionalProperties": False,
        }
        return {"type": "object", "additionalProperties": {"oneOf": [{"type": "string"}, reference]}}

    def check(self, path: str, value: Any, where: str) -> Any:
        if not isinstance(value, dict):
            raise _fail(f"{path} must be an object of string values or secret references", where)
        for name, item in value.items():
            if not name or "=" in name:
                raise _fail(f"{path}[{name!r}] must be a non-empty name without '='", where)
            if isinstance(item, str):
                continue
            if (
                not isinstance(item, dict)
                or set(item) != {"secretRef"}
                or not isinstance(item["secretRef"], str)
                or not item["secretRef"]
            ):
                raise _fail(f'{path}[{name!r}] must be a string or {{"secretRef": "<secret or parameter ARN>"}}', where)
        return dict(value)


@dataclass(frozen=True)
class NumberRecord(Kind):
    """An object of some of ``keys``, each a finite number ≥ ``minimum``."""

    keys: tuple[str, ...]
    minimum: int = 0

    def schema(self) -> Schema:
        properties = {key: {"type": "number", "minimum": self.minimum} for key in self.keys}
        return {"type": "object", "properties": properties, "additionalProperties": False}

    def check(self, path: str, value: Any, where: str) -> Any:
        if not isinstance(value, dict) or set(value) - set(self.keys):
            raise _fail(f"{path} must be an object with keys among {sorted(self.keys)}", where)
        for key, number in value.items():
            if (
                isinstance(number, bool)
                or not isinstance(number, (int, float))
                or not math.isfinite(number)
                or number < self.minimum
            ):
                raise _fail(f"{path}.{key} must be a number ≥ {self.minimum}", where)
        return dict(value)


@dataclass(frozen=True)
class Email(Kind):
    """An e-mail address, in a list named ``path``."""

    pattern: str = r"^[^@\s]+@[^@\s]+$"

    def schema(self) -> Schema:
        return {"type": "string", "format": "email"}

    def check(self, path: str, value: Any, where: str) -> Any:
        if not isinstance(value, str) or not _regex(self.pattern).search(value):
            raise _fail(f"{path} must be a list of e-mail addresses", where)
        return value


def _hook_url(url: str) -> None:
    """A URL the pattern lets through yet no client can use (``http://[x``, a port past 65535)."""
    try:
        parts = urlsplit(url)
        _ = parts.hostname, parts.port
    except ValueError as exc:
        raise _fail(f"webhooks[].url {url!r} is not a valid URL: {exc}", "webhooks") from exc


@dataclass(frozen=True)
class Resources(Kind):
    """A job's sandbox limits (domain/sandbox.py): ``{"memory": "256Mi", "cpus": 0.5, "pids": 64}``.
    Their form is checked here; whether the job's pool allows them, at enqueue."""

    def schema(self) -> Schema:
        size = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|k|m|g)?$"}
        memory = {
            "oneOf": [size, {"type": "integer", "minimum": MIN_MEMORY_BYTES}],
            "description": "256Mi, 1Gi, 512m, or bytes",
        }
        properties = {
            "memory": memory,
            "cpus": {"type": "number", "minimum": MIN_CPUS},
            "pids": {"type": "integer", "minimum": 1},
        }
        assert set(properties) == set(RESOURCE_KEYS)
        return {"type": "object", "properties": properties, "additionalProperties": False}

    def check(self, path: str, value: Any, where: str) -> Any:
        parse_resources(value)
        return {key: item for key, item in value.items() if item is not None}


_HOOK_URL = Text(pattern="^https?://", message="{path}[].url must be an http(s) URL", test=_hook_url)
_HOOK_HEADERS = StringMap(message="{path}[].headers must map names to strings")
_HOOK_RETRIES = Integer(minimum=0, message="{path}[].retries must be an integer ≥ 0")


@dataclass(frozen=True)
class Webhook(Kind):
    """``{"url": ..., "headers": {...}, "retries": n}``: only url is required; other keys are dropped."""

    def schema(self) -> Schema:
        properties = {"url": _HOOK_URL.schema(), "headers": _HOOK_HEADERS.schema(), "retries": _HOOK_RETRIES.schema()}
        return {"type": "object", "properties": properties, "additionalProperties": False, "required": ["url"]}

    def check(self, path: str, value: Any, where: str) -> Any:
        hook = value if isinstance(value, dict) else {}
        url = _HOOK_URL.check(path, hook.get("url"), where)
        headers = _HOOK_HEADERS.check(path, {} if hook.get("headers") is None else hook["headers"], where)
        retries = _HOOK_RETRIES.check(path, hook.get("retries", 0), where)
        return {"url": url, "headers": headers, "retries": retries}


@dataclass(frozen=True)
class EventLists(Kind):
    """An object of some of ``events``, each a list of ``item``; answered with every event."""

    events: tuple[str, ...]
    item: Kind
    list_message: str = "{path} must be a list"

    def schema(self) -> Schema:
        properties = {event: {"type": "array", "items": self.item.schema()} for event in self.events}
        return {"type": "object", "properties": properties, "additionalProperties": False}

    def check(self, path: str, value: Any, where: str) -> Any:
        if not isinstance(value, dict) or set(value) - set(self.events):
            raise _fail(f"{path} must be an object with keys among {self.events}", where)
        checked: dict[str, list[Any]] = {}
        for event, items in value.items():
            if not isinstance(items, list):
                raise _fail(self.list_message.format(path=f"{path}.{event}"), where)
            checked[event] = [self.item.check(f"{path}.{event}", item, where) for item in items]
        return {event: checked.get(event, []) for event in self.events}


@dataclass(frozen=True)
class Field:
    """One key of the body. Absent, or null when ``nullable``, it takes ``default`` (checked
    like a given value); a required key has no default."""

    name: str
    kind: Kind
    description: str
    required: bool = False
    nullable: bool = True
    default: Any = None
    example: Any = None
    exclusive: bool = False  # at most one key of the body so marked may be given

    def schema(self) -> Schema:
        schema = self.kind.schema()
        if self.example is not None:
            schema["example"] = self.example
        schema["description"] = self.description
        if self.nullable and not self.required:
            schema["nullable"] = True
        return schema

    def given(self, data: Mapping[str, Any]) -> bool:
        return data.get(self.name) is not None or (self.name in data and not self.nullable)

    def read(self, data: Mapping[str, Any]) -> Any:
        if self.given(data):
            return self.kind.check(self.name, data[self.name], self.name)
        if self.required:
            raise _fail(f"{self.name} is required", self.name)
        return None if self.default is None else self.kind.check(self.name, deepcopy(self.default), self.name)


# -- what a schema cannot say ------------------------------------------------------------------


def _command(command: str) -> None:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise _fail(f"command cannot be split as a shell would: {exc}", "command") from exc
    if not argv:
        raise _fail("command must not be empty", "command")


def _start_in(start_in: str) -> None:
    try:
        datetime.now(UTC) + timedelta(seconds=parse_duration(start_in))
    except OverflowError as exc:
        raise _fail(f"startIn {start_in!r} ends after year 9999", "startIn") from exc


def _cron(cron: str) -> None:
    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise _fail(f"cron {cron!r} is not a valid 5-field cron expression", "cron")
    try:
        croniter(cron, datetime.now(UTC)).get_next(datetime)
    except CroniterBadDateError as exc:
        raise _fail(f"cron {cron!r} never fires", "cron") from exc


def _timezone(zone: str) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _fail(f"timezone {zone!r} is not an IANA time zone name", "timezone") from exc


# -- the body ------------------------------------------------------------------------------------


def _image_reference(text: str) -> None:
    parse_image(text)


_COUNT = Integer(minimum=0)

# In the order they are checked: the first problem found is the one reported (required keys first).
FIELDS: tuple[Field, ...] = (
    Field(
        "image",
        Text(doc_pattern=IMAGE_PATTERN, non_blank=True, test=_image_reference),
        "Docker image reference (name, name:tag, registry/name@sha256:...), pulled on the host when missing.",
        required=True,
        example="task1:latest",
    ),
    Field(
        "command",
        Text(non_blank=True, test=_command),
        "Command run in the container, split as a shell would (no shell is run).",
        required=True,
        example="ls -lah",
    ),
    Field(
        "metadata",
        FreeObject(),
        "Free-form user data, shown as the job's metadata.custom and sent in webhooks and e-mails.",
        default={},
    ),
    Field(
        "startAt",
        Integer(
            minimum=0, maximum=LATEST_TIMESTAMP, maximum_message="{path} must be a UNIX time ≤ {maximum} (year 9999)"
        ),
        "Run once at this UNIX time (UTC seconds); a time in the past runs now.",
        exclusive=True,
    ),
    Field(
        "startIn",
        Text(doc_pattern="^([0-9]+[dhms])+$", test=_start_in),  # parse_duration also takes " 5M "
        "Run once after this delay (10s, 5m, 1h, 1d2h).",
        example="2h30m50s",
        exclusive=True,
    ),
    Field(
        "cron",
        Text(test=_cron),
        "Run repeatedly on this 5-field cron schedule. startAt, startIn and cron are mutually exclusive.",
        example="*/5 * * * *",
        exclusive=True,
    ),
    Field(
        "timezone",
        Text(test=_timezone),
        "The IANA time zone the cron is read in (UTC by default).",
        example="Europe/Berlin",
    ),
    Field(
        "concurrencyPolicy",
        Choice(CONCURRENCY_POLICIES),
        "A cron tick while the last run is still running: run both, skip the tick, or stop the old run.",
        nullable=False,
        default="allow",
    ),
    Field(
        "envs",
        EnvMap(),
        'Environment variables of the container: values, or {"secretRef": "<ARN>"} read by the runner at'
        " the container's start. Values are shown as *** unless the service lists their name as visible.",
        default={},
    ),
    Field("retries", _COUNT, "Retries of a failed execution, with exponential back-off.", default=0),
    Field("timeout", Integer(minimum=1), "Seconds before the container is killed (capped by the service's limit)."),
    Field("expiration", _COUNT, "UNIX time after which the job must not start any more."),
    Field("startingDeadlineSeconds", _COUNT, "How late a scheduled run may still start."),
    Field(
        "retryBackoff", NumberRecord(("minMs", "factor", "maxMs")), "The retries' back-off: first delay, factor, cap."
    ),
    Field(
        "resources",
        Resources(),
        "Limits of the job's container (memory, cpus, pids) within its pool's ceiling; absent: the pool's defaults.",
        example={"memory": "256Mi", "cpus": 0.5, "pids": 64},
    ),
    Field(
        "notify",
        EventLists(NOTIFY_EVENTS, Email(), list_message="{path} must be a list of e-mail addresses"),
        "E-mails sent with the execution's details when it succeeds, fails or finishes.",
        default={},
    ),
    Field(
        "webhooks",
        EventLists(WEBHOOK_EVENTS, Webhook()),
        "POSTs of the execution's details as JSON when it starts, succeeds, fails or finishes.",
        default={},
    ),
)
NAMES = frozenset(f.name for f in FIELDS)


def validate(data: Mapping[str, Any]) -> dict[str, Any]:
    """Every key of ``FIELDS``, checked and normalised; a ValidationError on the first problem."""
    unknown = sorted(set(data) - NAMES)
    if unknown:
        raise _fail(f"unknown keys in the job body: {', '.join(unknown)}", unknown[0])
    for each in FIELDS:
        if each.required:
            if not each.given(data):
                raise _fail(f"{each.name} is required", each.name)
            each.kind.check_shape(each.name, data[each.name], each.name)
    values: dict[str, Any] = {}
    for each in FIELDS:
        if each.exclusive and not any(f.exclusive and f.name in values for f in FIELDS):
            _exclusive(data)
        values[each.name] = each.read(data)
    return values


def _exclusive(data: Mapping[str, Any]) -> None:
    names = [each.name for each in FIELDS if each.exclusive]
    given = [name for name in names if data.get(name) is not None]
    if len(given) > 1:
        both = f"{', '.join(names[:-1])} and {names[-1]}"
        raise _fail(f"{both} are mutually exclusive; got {', '.join(given)}", given[1])


def openapi_schema() -> Schema:
    """The body as an OpenAPI 3.0 schema (``nullable``: null is the same as absent)."""
    return {
        "type": "object",
        "properties": {each.name: each.schema() for each in FIELDS},
        "required": [each.name for each in FIELDS if each.required],
        "additionalProperties": False,
        "description": DESCRIPTION,
    }
