"""The OpenAPI 3 document of the API, served at ``GET /openapi.json``.

Written from the API document (``api.md``) and ``payload.py``: every route, its parameters, the
job body and every answer's shape, errors included. ``tests/unit/test_openapi.py`` checks that
it lists exactly the routes the Chalice app registers, and the schemathesis test runs the live
stack against it, so it stays true. The older ``/job/`` forms are listed as deprecated.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from chalicelib.domain.payload import CONCURRENCY_POLICIES, NOTIFY_EVENTS, TASK_ID_PATTERN, WEBHOOK_EVENTS
from chalicelib.domain.statuses import ExecutionStatus

VERSION = "1.0.0"
JOB = "/tasks/{task_id}/jobs/{job_id}"
EXECUTION = JOB + "/executions/{execution_id}"
_LATEST_TIMESTAMP = 253_402_300_799


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


_STRING = {"type": "string"}
_URL = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_TIME = _nullable({"type": "string", "description": "ISO time in UTC, e.g. 2019-01-17T15:13:02.754000"})
_REF = {
    "type": "object",
    "required": ["id", "url"],
    "properties": {"id": _STRING, "url": _URL},
}


def _object(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, **extra}
    required = list(properties) if required is None else required
    if required:  # OpenAPI 3.0 allows no empty list here
        schema["required"] = required
    return schema


def _job_payload() -> dict[str, Any]:
    emails = {"type": "array", "items": {"type": "string", "format": "email"}}
    hook = _object(
        {
            "url": {"type": "string", "pattern": "^https?://"},
            "headers": {"type": "object", "additionalProperties": _STRING},
            "retries": {"type": "integer", "minimum": 0},
        },
        required=["url"],
        additionalProperties=False,
    )
    count = {"type": "integer", "minimum": 0}
    return _object(
        {
            "image": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._/:@-]*$", "example": "task1:latest"},
            "command": {"type": "string", "minLength": 1, "example": "ls -lah"},
            "envs": _nullable({"type": "object", "additionalProperties": _STRING}),
            "metadata": _nullable({"type": "object", "additionalProperties": True}),
            "retries": _nullable(count),
            "timeout": _nullable({"type": "integer", "minimum": 1}),
            "expiration": _nullable(count),
            "startAt": _nullable({"type": "integer", "minimum": 0, "maximum": _LATEST_TIMESTAMP}),
            "startIn": _nullable({"type": "string", "pattern": "^([0-9]+[dhms])+$", "example": "2h30m50s"}),
            "cron": _nullable({"type": "string", "example": "*/5 * * * *"}),
            "timezone": _nullable({"type": "string", "example": "Europe/Berlin"}),
            "concurrencyPolicy": {"type": "string", "enum": list(CONCURRENCY_POLICIES)},
            "startingDeadlineSeconds": _nullable(count),
            "retryBackoff": _nullable(
                _object(
                    {key: {"type": "number", "minimum": 0} for key in ("minMs", "factor", "maxMs")},
                    required=[],
                    additionalProperties=False,
                )
            ),
            "notify": _nullable(
                _object({event: emails for event in NOTIFY_EVENTS}, required=[], additionalProperties=False)
            ),
            "webhooks": _nullable(
                _object(
                    {event: {"type": "array", "items": hook} for event in WEBHOOK_EVENTS},
                    required=[],
                    additionalProperties=False,
                )
            ),
        },
        required=["image", "command"],
        additionalProperties=False,
        description="The job body (job-payload.md). Unknown keys are refused; null is the same as absent.",
    )


def _execution() -> dict[str, Any]:
    return _object(
        {
            "command": _STRING,
            "createdAt": _TIME,
            "error": _STRING,
            "executionId": _STRING,
            "exitCode": _nullable(_INT),
            "finishedAt": _TIME,
            "image": _STRING,
            "log": _STRING,
            "logTruncated": _BOOL,
            "errorTruncated": _BOOL,
            "metadata": _object(
                {
                    "container_id": _nullable(_STRING),
                    "docker_host": _nullable(_STRING),
                    "docker_port": _nullable(_INT),
                    "attempt": _INT,
                    "queue_message_id": _nullable(_STRING),
                }
            ),
            "requestIP": _nullable(_STRING),
            "scheduledFor": _TIME,
            "retryOf": _nullable(_STRING),
            "startedAt": _TIME,
            "status": {"type": "string", "enum": [status.value for status in ExecutionStatus]},
            "url": _URL,
        }
    )


def _page(item: dict[str, Any]) -> dict[str, Any]:
    return _object(
        {
            "hasNext": _BOOL,
            "hasPrev": _BOOL,
            "items": {"type": "array", "items": item},
            "nextUrl": _nullable(_URL),
            "page": _INT,
            "pages": _INT,
            "perPage": _INT,
            "prevUrl": _nullable(_URL),
            "total": _INT,
        }
    )


def _schemas() -> dict[str, Any]:
    job_answer = {"jobId": _STRING, "jobUrl": _URL, "taskId": _STRING, "taskUrl": _URL}
    executions_pagination = deepcopy(_page(_STRING))
    del executions_pagination["properties"]["items"]
    executions_pagination["required"].remove("items")
    return {
        "Error": _object(
            {"error": _STRING, "field": _STRING},
            required=["error"],
            additionalProperties=True,
            description="Every error answer: what is wrong and, where it applies, which field.",
        ),
        "JobPayload": _job_payload(),
        "Enqueued": _object(
            {
                **job_answer,
                "executionId": _nullable(_STRING),
                "executionUrl": _nullable(_URL),
                "queueJobId": _nullable(_STRING),
            }
        ),
        "JobSaved": _object({**job_answer, "queueJobId": _nullable(_STRING)}),
        "JobStopped": _object(job_answer),
        "TaskSummary": _object(
            {"createdAt": _TIME, "jobsCount": _INT, "lastModifiedAt": _TIME, "taskId": _STRING, "url": _URL}
        ),
        "TaskPage": _page(_ref("TaskSummary")),
        "TaskDetails": _object({"jobs": {"type": "array", "items": _REF}, "taskId": _STRING}),
        "Execution": _execution(),
        "JobDetails": _object(
            {
                "job": _object(
                    {
                        "createdAt": _TIME,
                        "executionCount": _INT,
                        "executions": {"type": "array", "items": _ref("Execution")},
                        "executionsPagination": executions_pagination,
                        "jobId": _STRING,
                        "lastModifiedAt": _TIME,
                        "metadata": {"type": "object", "additionalProperties": True},
                        "nextRunAt": _TIME,
                        "scheduled": _BOOL,
                        "skippedTicks": _INT,
                        "taskId": _STRING,
                    }
                ),
                "task": _REF,
            }
        ),
        "ExecutionDetails": _object({"execution": _ref("Execution"), "job": _REF, "task": _REF}),
        "ExecutionStopped": _object({"execution": _REF, "job": _REF, "task": _REF}),
        "Status": _object(
            {
                "containers": {"type": "object", "additionalProperties": True},
                "hosts": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
                "jobs": {"type": "object", "additionalProperties": True},
                "pools": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
                "queues": {"type": "object", "additionalProperties": True},
                "tasks": {"type": "object", "additionalProperties": True},
            },
            description="The farm: hosts and their containers, pools, queues, jobs and tasks.",
        ),
        "HostRef": _object(
            {"host": {"type": "string", "pattern": "^[^\\s:]+:[0-9]{1,5}$", "example": "runner-1:2375"}},
            required=["host"],
        ),
        "Host": _object({"host": _STRING, "pool": _STRING, "blacklisted": _BOOL}),
        "Health": _object(
            {
                "errors": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
                "dynamodb": _BOOL,
                "sqs": _BOOL,
                "s3": _BOOL,
            }
        ),
    }


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


_ERRORS = {
    "400": _json("Error", "A client mistake: malformed body, wrong type, bad parameter"),
    "401": _json("Error", "Auth is on and the request has no valid credentials"),
    "404": _json("Error", "Unknown task, job or execution"),
}
_TEXT = {
    "200": {"description": "The text", "content": {"text/plain": {"schema": _STRING}}},
    "302": {"description": "Larger than a response may be: a short-lived link to the object in S3"},
}


def _param(
    name: str, where: str = "path", description: str = "", required: bool = False, **schema: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "description": description,
        "schema": {"type": "string", **schema},
    }


_PAGE = _param("page", "query", "Page number, from 1 (the default)", pattern="^[0-9]*$")
_TASK = _param("task_id", description="The task's name", pattern=TASK_ID_PATTERN, example="send-welcome-mail")
_JOB = _param("job_id", description="The job's UUID (a UUID4)", format="uuid")
_EXEC = _param("execution_id", description="The execution's id (a UUID)", format="uuid")


def _operation(
    summary: str,
    responses: dict[str, Any],
    params: list[dict[str, Any]],
    body: bool = False,
    public: bool = False,
    errors: tuple[str, ...] = ("400", "401", "404"),
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": params,
        "responses": {**responses, **{code: _ERRORS[code] for code in errors if not (public and code == "401")}},
    }
    if body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref("JobPayload")}},
        }
    if public:
        operation["security"] = []
    return operation


def _paths() -> dict[str, dict[str, Any]]:
    task, job, execution = [_TASK], [_TASK, _JOB], [_TASK, _JOB, _EXEC]
    idempotency_key = _param(
        "Idempotency-Key", "header", "Repeat within the window → the first answer again", maxLength=255
    )
    enqueue = _operation(
        "Enqueue a job",
        {
            "200": {
                **_json("Enqueued", "The job, and its execution unless it is delayed"),
                "headers": {
                    "Idempotent-Replayed": {
                        "description": "With an Idempotency-Key: true when this is the answer of an earlier request",
                        "schema": {"type": "string", "enum": ["true", "false"]},
                    }
                },
            },
            "409": _json("Error", "A request with this Idempotency-Key is still being handled"),
            "422": _json("Error", "This Idempotency-Key was used with another body"),
            "503": _json("Error", "The idempotency store cannot be reached"),
        },
        [*task, idempotency_key],
        body=True,
    )
    paths: dict[str, dict[str, Any]] = {
        "/healthcheck/": {
            "get": _operation(
                "Health of the service's dependencies",
                {"200": _json("Health", "All reachable"), "503": _json("Health", "A dependency is failing")},
                [],
                public=True,
                errors=(),
            )
        },
        "/openapi.json": {
            "get": _operation(
                "This document",
                {"200": {"description": "OpenAPI 3", "content": {"application/json": {"schema": {"type": "object"}}}}},
                [],
                public=True,
                errors=(),
            )
        },
        "/tasks/": {"get": _operation("All tasks, newest first", {"200": _json("TaskPage", "A page")}, [_PAGE])},
        "/search/": {
            "get": _operation(
                "Tasks whose id has this whole word",
                {"200": _json("TaskPage", "A page")},
                [
                    _param("query", "query", "A whole word of a task id, or a whole id", required=True, minLength=1),
                    _PAGE,
                ],
            )
        },
        "/tasks/{task_id}/": {
            "get": _operation("A task's jobs", {"200": _json("TaskDetails", "The task")}, task),
            "post": enqueue,
        },
        JOB + "/": {
            "get": _operation(
                "A job and its executions, newest first", {"200": _json("JobDetails", "The job")}, [*job, _PAGE]
            ),
            "put": _operation("Create or replace a job", {"200": _json("JobSaved", "Saved")}, job, body=True),
        },
        JOB + "/stop/": {
            "post": _operation("Stop a job and its schedule", {"200": _json("JobStopped", "Stopped")}, job)
        },
        JOB + "/retry/": {
            "post": _operation("Run the job again now", {"200": _json("Enqueued", "The new execution")}, job)
        },
        EXECUTION + "/": {
            "get": _operation("One execution", {"200": _json("ExecutionDetails", "The execution")}, execution)
        },
        EXECUTION + "/stop/": {
            "post": _operation("Stop one execution", {"200": _json("ExecutionStopped", "Stopping")}, execution)
        },
    }
    host_body = {"required": True, "content": {"application/json": {"schema": _ref("HostRef")}}}
    last_host = _json("Error", "The last available host of its pool cannot be blacklisted")
    paths["/status/"] = {"get": _operation("The farm's state", {"200": _json("Status", "The farm")}, [])}
    paths["/docker-executor/blacklist"] = {
        method: {
            **_operation(summary, {"200": _json("Host", "The host"), "409": last_host}, []),
            "requestBody": deepcopy(host_body),
        }
        for method, summary in (("post", "Take no new work on a host"), ("delete", "Let a host take work again"))
    }
    page = {"200": {"description": "An HTML page", "content": {"text/html": {"schema": _STRING}}}}
    api_key = _param("apiKey", "query", "An API key, for a page opened by link (passed on to its WebSocket)")
    paths[JOB + "/stream/"] = {
        "get": _operation("A page tailing the last execution's log live", deepcopy(page), [*job, api_key])
    }
    paths[JOB + "/stream/executions/{execution_id}/"] = {
        "get": _operation("A page tailing one execution's log live", deepcopy(page), [*execution, api_key])
    }
    _link_enqueued(paths)
    for stream, what in (("logs", "stdout + '\\n-=-\\n' + stderr"), ("stdout", "stdout"), ("stderr", "stderr")):
        paths[f"{JOB}/{stream}/"] = {"get": _operation(f"The last execution's {what}", deepcopy(_TEXT), job)}
        paths[f"{EXECUTION}/{stream}/"] = {"get": _operation(f"One execution's {what}", deepcopy(_TEXT), execution)}
    for path in [p for p in paths if "/jobs/" in p]:
        singular = deepcopy(paths[path])
        for operation in singular.values():
            operation["deprecated"] = True
            operation["summary"] += " (older /job/ form)"
        paths[path.replace("/jobs/", "/job/")] = singular
    return paths


def _link_enqueued(paths: dict[str, dict[str, Any]]) -> None:
    """OpenAPI links from the ids an enqueue answers to the routes that take them (clients and
    stateful fuzzers follow them)."""
    job_params = {"task_id": "$request.path.task_id", "job_id": "$response.body#/jobId"}
    execution_params = {**job_params, "execution_id": "$response.body#/executionId"}
    targets = {
        "GetJob": ("get", JOB + "/", job_params),
        "StopJob": ("post", JOB + "/stop/", job_params),
        "RetryJob": ("post", JOB + "/retry/", job_params),
        "GetExecution": ("get", EXECUTION + "/", execution_params),
        "StopExecution": ("post", EXECUTION + "/stop/", execution_params),
        "GetExecutionLogs": ("get", EXECUTION + "/logs/", execution_params),
    }
    links = {
        name: {"operationId": _operation_id(method, path), "parameters": params}
        for name, (method, path, params) in targets.items()
    }
    paths["/tasks/{task_id}/"]["post"]["responses"]["200"]["links"] = links
    paths[JOB + "/retry/"]["post"]["responses"]["200"] = {
        **paths[JOB + "/retry/"]["post"]["responses"]["200"],
        "links": links,
    }


def document(server_url: str = "", auth_required: bool = False) -> dict[str, Any]:
    """The whole OpenAPI document; ``server_url`` is the base the API is reached at, and
    ``auth_required`` says whether credentials are configured (then no route but the public ones
    may be called without)."""
    paths = _paths()
    for path, item in paths.items():
        for method, operation in item.items():
            operation["operationId"] = _operation_id(method, path)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Slipway",
            "version": VERSION,
            "description": "Container jobs on AWS: the fastlane API. Auth (HTTP Basic or an API key) applies "
            "only when the service is configured with credentials.",
        },
        "servers": [{"url": server_url or "/"}],
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            },
        },
        # Auth is off unless configured: then {} (no credentials) is one of the alternatives.
        "security": [{"basic": []}, {"bearer": []}, {"apiKey": []}] + ([] if auth_required else [{}]),
        "paths": paths,
    }


def _operation_id(method: str, path: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in path).split()
    return "_".join([method, *words])


def route_keys(spec: dict[str, Any]) -> set[tuple[str, str]]:
    """(path without its final slash, METHOD) of every operation of ``spec``."""
    return {("/" + path.strip("/"), method.upper()) for path, item in spec["paths"].items() for method in item}
