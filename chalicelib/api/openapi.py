"""The OpenAPI 3 document of the API, served at ``GET /openapi.json``.

Nothing in it is written twice: the paths are the routes ``app.py``'s ``route()`` registered
(``routes.ROUTES``: method, path, summary from the view's docstring, body, parameters, answers),
the job body is ``domain/job_schema.py``'s and every answer's schema is read from its TypedDict
in ``services/views.py``. The older ``/job/`` forms are listed as deprecated.
``tests/unit/test_openapi.py`` checks that it lists exactly the routes the Chalice app
registers, and the schemathesis test runs the live stack against it.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Iterable
from copy import deepcopy
from typing import Any, Union, get_args, get_origin, get_type_hints, is_typeddict

from chalicelib.api.routes import JOB_BODY, PATH_PARAMS, ROUTES, Answer, Media, Param, Route
from chalicelib.domain import job_schema
from chalicelib.domain.shapes import Keywords
from chalicelib.services import views

VERSION = "1.0.0"
Schema = dict[str, Any]
# Shapes listed as components even where they are only nested in another answer.
_SHARED: tuple[type, ...] = (views.Error, views.TaskSummary, views.Execution)
_SCALARS: dict[object, Schema] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    bool: {"type": "boolean"},
    float: {"type": "number"},
}
_CLIENT_ERRORS = (
    Answer(400, "A client mistake: malformed body, wrong type, bad parameter"),
    Answer(401, "Auth is on and the request has no valid credentials"),
    Answer(403, "The caller's scope does not cover the route's verb or task, or the request skipped the front door"),
    Answer(404, "Unknown task, job or execution"),
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _schema_of(hint: object, components: set[str]) -> Schema:
    """The OpenAPI schema of a type hint; a TypedDict among ``components`` is a $ref."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.NotRequired, typing.Required):
        return _schema_of(args[0], components)
    if origin is typing.Annotated:
        schema = _schema_of(args[0], components)
        for extra in args[1:]:
            if isinstance(extra, Keywords):
                schema.update(extra.keywords)
        return schema
    if origin in (Union, types.UnionType):
        others = [arg for arg in args if arg is not type(None)]
        schema = _schema_of(others[0], components)
        return {**schema, "nullable": True} if len(others) < len(args) else schema
    if origin is list:
        return {"type": "array", "items": _schema_of(args[0], components)}
    if origin is dict:
        value = args[1] if args else Any
        return {"type": "object", "additionalProperties": True if value is Any else _schema_of(value, components)}
    if hint is dict:
        return {"type": "object", "additionalProperties": True}
    if is_typeddict(hint):
        name = getattr(hint, "__name__", "")
        return _ref(name) if name in components else _object(hint, components)
    return deepcopy(_SCALARS[hint])


def _object(shape: Any, components: set[str]) -> Schema:
    hints = get_type_hints(shape, include_extras=True)
    schema: Schema = {
        "type": "object",
        "properties": {name: _schema_of(hint, components) for name, hint in hints.items()},
    }
    # NotRequired read from the hint: with postponed annotations __required_keys__ misses it.
    required = [name for name, hint in hints.items() if get_origin(hint) is not typing.NotRequired]
    if required:  # OpenAPI 3.0 allows no empty list here
        schema["required"] = required
    return schema


def _component(shape: Any, components: set[str]) -> Schema:
    schema = _object(shape, components - {shape.__name__})
    if shape.__doc__:
        schema["description"] = inspect.cleandoc(shape.__doc__)
    return schema


def _answer_type(route: Route) -> object:
    if route.answer is not None:
        return route.answer
    returned = get_type_hints(route.view).get("return")
    candidates = get_args(returned) if get_origin(returned) in (Union, types.UnionType) else (returned,)
    return next((each for each in candidates if is_typeddict(each) or get_origin(each) is dict), returned)


def _shapes(routes: Iterable[Route]) -> list[Any]:
    """Every TypedDict a route takes or answers, and the shared ones."""
    found: list[Any] = list(_SHARED)
    for route in routes:
        answers = [_answer_type(route), route.body]
        answers += [each.shape for each in (*route.answers, *(a for p in route.params for a in p.answers))]
        found += [shape for shape in answers if is_typeddict(shape) and shape not in found]
    return found


def _summary(route: Route) -> str:
    doc = inspect.getdoc(route.view) or route.view.__name__.replace("_", " ")
    return " ".join(doc.split("\n\n")[0].split()).rstrip(".")


def _described(shape: object) -> str:
    return inspect.cleandoc(getattr(shape, "__doc__", None) or "The answer").splitlines()[0].rstrip(".")


def _json(shape: object, description: str, components: set[str]) -> Schema:
    if shape is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": _schema_of(shape, components)}}}


def _responses(route: Route, components: set[str]) -> Schema:
    answer = _answer_type(route)
    responses: Schema
    if isinstance(answer, Media):
        responses = {
            "200": {"description": answer.description, "content": {answer.media_type: {"schema": {"type": "string"}}}}
        }
        extra = list(answer.also)
    else:
        description = _described(answer) if is_typeddict(answer) else "A JSON object"
        responses = {"200": _json(answer, description, components)}
        extra = []
    headers = {name: header for param in route.params for name, header in param.headers.items()}
    if headers:
        responses["200"]["headers"] = deepcopy(headers)
    extra += [*route.answers, *(each for param in route.params for each in param.answers)]
    if not route.public:
        extra += _CLIENT_ERRORS
    for each in sorted(extra, key=lambda a: a.status):  # a 200 among them replaces the derived one
        responses[str(each.status)] = _json(each.shape, each.description, components)
    return responses


def _param(param: Param) -> Schema:
    return {
        "name": param.name,
        "in": param.where,
        "required": param.required or param.where == "path",
        "description": param.description,
        "schema": {"type": "string", **param.schema},
    }


def _parameters(route: Route) -> list[Schema]:
    path_params = [PATH_PARAMS[name] for name in re.findall(r"{(\w+)}", route.path)]
    return [_param(param) for param in path_params + list(route.params)]


def _operation(route: Route, components: set[str]) -> Schema:
    operation: Schema = {
        "summary": _summary(route) + (" (older /job/ form)" if route.deprecated else ""),
        "parameters": _parameters(route),
        "responses": _responses(route, components),
    }
    if route.body is not None:
        body = _ref(JOB_BODY) if route.body == JOB_BODY else _schema_of(route.body, components)
        operation["requestBody"] = {"required": route.body_required, "content": {"application/json": {"schema": body}}}
    if route.public:
        operation["security"] = []
    if route.deprecated:
        operation["deprecated"] = True
    return operation


def documented_path(route: Route) -> str:
    return route.path + "/" if route.slash else route.path


def _paths(routes: list[Route], components: set[str]) -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        path = documented_path(route)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route, components)
    _link_enqueued(routes, paths)
    for path, item in paths.items():
        for method, operation in item.items():
            operation["operationId"] = _operation_id(method, path)
    return paths


def _link_enqueued(routes: list[Route], paths: dict[str, dict[str, Any]]) -> None:
    """OpenAPI links from the ids an enqueue answers to the routes that take them (clients and
    stateful fuzzers follow them): on every operation answering ``Enqueued``."""
    job = "/tasks/{task_id}/jobs/{job_id}/"
    execution = job + "executions/{execution_id}/"
    job_params = {"task_id": "$request.path.task_id", "job_id": "$response.body#/jobId"}
    execution_params = {**job_params, "execution_id": "$response.body#/executionId"}
    targets = {
        "GetJob": ("get", job, job_params),
        "GetJobHistory": ("get", job + "history/", job_params),
        "StopJob": ("post", job + "stop/", job_params),
        "RetryJob": ("post", job + "retry/", job_params),
        "GetExecution": ("get", execution, execution_params),
        "StopExecution": ("post", execution + "stop/", execution_params),
        "GetExecutionLogs": ("get", execution + "logs/", execution_params),
    }
    links = {
        name: {"operationId": _operation_id(method, path), "parameters": params}
        for name, (method, path, params) in targets.items()
    }
    for route in routes:
        if _answer_type(route) is views.Enqueued:
            paths[documented_path(route)][route.method.lower()]["responses"]["200"]["links"] = deepcopy(links)


def document(server_url: str = "", auth_required: bool = False, routes: list[Route] | None = None) -> dict[str, Any]:
    """The whole OpenAPI document; ``server_url`` is the base the API is reached at, and
    ``auth_required`` says whether credentials are configured (then no route but the public ones
    may be called without). ``routes``: those ``app.py`` registered, by default."""
    routes = ROUTES if routes is None else routes
    shapes = _shapes(routes)
    components = {shape.__name__ for shape in shapes} | {JOB_BODY}
    schemas = {shape.__name__: _component(shape, components) for shape in shapes}
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
            "schemas": {JOB_BODY: job_schema.openapi_schema(), **schemas},
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            },
        },
        # Auth is off unless configured: then {} (no credentials) is one of the alternatives.
        "security": [{"basic": []}, {"bearer": []}, {"apiKey": []}] + ([] if auth_required else [{}]),
        "paths": _paths(routes, components),
    }


def _operation_id(method: str, path: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in path).split()
    return "_".join([method, *words])
