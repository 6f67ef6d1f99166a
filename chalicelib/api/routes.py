"""The routes as ``app.py``'s ``route()`` registers them, for the OpenAPI document to be read from.

Each registration (the older ``/job/`` forms too) is one ``Route``: method, path, the view (its
docstring is the summary, its return type the answer), the body, the extra parameters and the
answers beyond the usual ones. ``openapi.document`` turns ``ROUTES`` into the document's paths.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.idempotency_keys import HEADER
from chalicelib.domain.payload import TASK_ID_PATTERN
from chalicelib.services.views import Error, OutputParts


@dataclass(frozen=True)
class Answer:
    """One more status a route may answer; ``shape`` a TypedDict, or None for no body."""

    status: int
    description: str
    shape: object = Error


@dataclass(frozen=True)
class Media:
    """A non-JSON answer: its media type, what it is, and the other statuses it brings."""

    media_type: str
    description: str
    also: tuple[Answer, ...] = ()


@dataclass(frozen=True)
class Param:
    """A parameter; ``answers`` and ``headers`` are what using it may add to the answer."""

    name: str
    where: str
    description: str
    required: bool = False
    schema: Mapping[str, Any] = field(default_factory=dict)
    answers: tuple[Answer, ...] = ()
    headers: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    path: str
    method: str
    view: Callable[..., Any]
    public: bool = False
    deprecated: bool = False  # the older singular /job/ form
    slash: bool = True  # documented with a final slash, as api.md spells the paths
    body: object = None  # a TypedDict, or "JobPayload" (the job body of job_schema.py)
    body_required: bool = True  # False: an empty body is the same as {}
    answer: object = None  # a TypedDict or a Media; None: the view's return type
    params: tuple[Param, ...] = ()
    answers: tuple[Answer, ...] = ()


ROUTES: list[Route] = []

JOB_BODY = "JobPayload"
TEXT = Media(
    "text/plain",
    "The text",
    (Answer(302, "Larger than a response may be: a short-lived link to the object in S3", None),),
)
HTML = Media("text/html", "An HTML page")
PROMETHEUS = Media("text/plain", "Prometheus text exposition format 0.0.4")
# ``logs/`` of a run too large to answer inline and stored without its combined object.
LOG_PARTS = Answer(300, "Too large to answer as one, with no combined object: a link to each part", OutputParts)

PATH_PARAMS = {
    "task_id": Param(
        "task_id", "path", "The task's name", schema={"pattern": TASK_ID_PATTERN, "example": "send-welcome-mail"}
    ),
    "job_id": Param("job_id", "path", "The job's UUID (a UUID4)", schema={"format": "uuid"}),
    "execution_id": Param("execution_id", "path", "The execution's id (a UUID)", schema={"format": "uuid"}),
}
PAGE = Param("page", "query", "Page number, from 1 (the default)", schema={"pattern": "^[0-9]*$"})


def history_limit(default: int, maximum: int) -> Param:
    """``?limit=`` of a job's history (its bounds are settings, read when the app declares its routes)."""
    return Param(
        "limit",
        "query",
        f"How many of the newest executions to answer, 1 to {maximum} ({default} when absent)",
        schema={"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
    )


SEARCH_QUERY = Param(
    "query", "query", "A whole word of a task id, or a whole id", required=True, schema={"minLength": 1}
)
API_KEY = Param("apiKey", "query", "An API key, for a page opened by link (passed on to its WebSocket)")
IDEMPOTENCY_KEY = Param(
    HEADER,
    "header",
    "Repeat within the window → the first answer again",
    schema={"maxLength": 255},
    answers=(
        Answer(409, "A request with this Idempotency-Key is still being handled"),
        Answer(422, "This Idempotency-Key was used with another body"),
        Answer(503, "The idempotency store cannot be reached"),
    ),
    headers={
        "Idempotent-Replayed": {
            "description": "With an Idempotency-Key: true when this is the answer of an earlier request",
            "schema": {"type": "string", "enum": ["true", "false"]},
        }
    },
)
