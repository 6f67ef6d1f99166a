"""Slipway's API: a routing table. Each handler reads the request, calls one chalicelib function
and shapes the answer; domain errors become HTTP errors in ``route`` below, in one place."""

from __future__ import annotations

import contextvars
import dataclasses
import functools
from collections.abc import Callable
from typing import Any

from chalice import Chalice, CognitoUserPoolAuthorizer, IAMAuthorizer, Rate, Response
from chalice.app import SQSEvent, WebsocketEvent

from chalicelib.api import auth, console, cors, openapi, stream_page
from chalicelib.api.request_ip import client_ip
from chalicelib.api.routes import (
    API_KEY,
    HTML,
    IDEMPOTENCY_KEY,
    JOB_BODY,
    LOG_PARTS,
    PAGE,
    PROMETHEUS,
    ROUTES,
    SEARCH_QUERY,
    TEXT,
    Answer,
    Param,
    Route,
    history_limit,
)
from chalicelib.domain import prometheus_text
from chalicelib.domain.clock import utcnow
from chalicelib.domain.credentials import parse_authorizer
from chalicelib.domain.errors import SlipwayError, ValidationError
from chalicelib.domain.history import parse_limit
from chalicelib.domain.hosts import parse_host_id
from chalicelib.domain.idempotency_keys import HEADER as IDEMPOTENCY_KEY_HEADER
from chalicelib.domain.overrides import parse_overrides
from chalicelib.domain.pagination import parse_page
from chalicelib.domain.payload import parse_body
from chalicelib.domain.urls import Urls, request_base_url
from chalicelib.logs_setup import install_redaction
from chalicelib.services import (
    blacklist,
    dispatcher,
    farm_status,
    health,
    idempotency,
    jobs,
    live_logs,
    log_replay,
    lookups,
    notifications,
    outputs,
    prometheus_report,
    queries,
    stopping,
    suspension,
    telemetry,
    views,
)
from chalicelib.settings import get_settings

app = Chalice(app_name="slipway")
app.experimental_feature_flags.update(["WEBSOCKETS"])
# The few settings that shape the app itself, read when Chalice declares the routes (and when
# `chalice package` does): the gateway authorizer, whether CORS preflight routes exist, and the
# notifications queue of the SQS handler. Requests read the settings at their own time.
declared = get_settings()
install_redaction()

JOB = "/tasks/{task_id}/jobs/{job_id}"
# Bodies are parsed as JSON whatever the client labels them (curl -d sends a form type).
BODY_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain", "application/octet-stream"]
EXECUTION = JOB + "/executions/{execution_id}"


def gateway_authorizer(spec: str) -> IAMAuthorizer | CognitoUserPoolAuthorizer | None:
    """The API Gateway authorizer named by ``api_authorizer`` (see settings.py)."""
    authorizer = parse_authorizer(spec)
    if authorizer.kind == "iam":
        return IAMAuthorizer()
    if authorizer.kind == "cognito":
        return CognitoUserPoolAuthorizer("SlipwayUsers", provider_arns=list(authorizer.provider_arns))
    return None


GATEWAY_AUTHORIZER = gateway_authorizer(declared.api_authorizer)


def route(
    path: str,
    methods: tuple[str, ...] = ("GET",),
    public: bool = False,
    key_in_query: bool = False,
    *,
    verb: str | None = None,
    body: object = None,
    body_required: bool = True,
    answer: object = None,
    params: tuple[Param, ...] = (),
    answers: tuple[Answer, ...] = (),
    slash: bool = True,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view under ``path`` (and its older singular ``/job/`` form): refuse callers
    without credentials when auth is on (unless ``public``), and callers whose scope lacks
    ``verb`` (``read`` for GET, ``write`` otherwise, unless given) or the path's task (403); map
    domain errors to their HTTP status with a JSON body, and add the CORS headers; with CORS on,
    answer preflights too. ``key_in_query``: an ``apiKey`` query parameter counts too (pages a
    browser opens by link).

    For the OpenAPI document (``routes.ROUTES``): the view's docstring is the summary and its
    return type the answer (unless ``answer``), ``body`` what it reads (``body_required=False``:
    it may be empty), ``params`` the query and header parameters, ``answers`` the statuses beyond
    200, 400, 401 and 404, and ``slash`` whether the documented path ends with a slash."""

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def handler(**params: str) -> Response:
            request = app.current_request
            try:
                auth.require_front_door(request.headers)
                if not public:
                    identity = auth.require(
                        request.headers, query=request.query_params if key_in_query else None, context=request.context
                    )
                    auth.authorize(identity, needed, params.get("task_id"))
                    _caller.set(identity)
                answer = view(**params)
            except SlipwayError as exc:
                answer = _error(exc)
            finally:
                # What the request recorded leaves as EMF before Lambda freezes the environment.
                telemetry.flush()
            return _with_cors(answer if isinstance(answer, Response) else Response(body=answer))

        needed = verb or ("read" if set(methods) <= {"GET", "HEAD"} else "write")

        options: dict[str, Any] = {"methods": list(methods)}
        if GATEWAY_AUTHORIZER is not None and not public:
            options["authorizer"] = GATEWAY_AUTHORIZER
        if declared.gateway_usage_plan_keys and not public:
            # Metered and throttled per key by the stack's usage plan (infra/cdk/stack.py).
            options["api_key_required"] = True
        if set(methods) & {"POST", "PUT", "DELETE"}:
            options["content_types"] = BODY_TYPES
        doc = Route(
            path,
            "",
            view,
            public,
            body=body,
            body_required=body_required,
            answer=answer,
            params=params,
            answers=answers,
            slash=slash,
        )
        if key_in_query:
            doc = dataclasses.replace(doc, params=(*params, API_KEY))
        _register(path, view.__name__, handler, options, [dataclasses.replace(doc, method=m) for m in methods])
        return view

    return register


def _register(path: str, name: str, handler: Callable[..., Any], options: dict[str, Any], docs: list[Route]) -> None:
    paths = [path] + ([path.replace("/jobs/", "/job/")] if "/jobs/" in path else [])
    for index, each in enumerate(paths):
        suffix = "_singular" if index else ""
        view = functools.wraps(handler)(lambda **params: handler(**params))
        view.__name__ = f"{name}{suffix}"
        app.route(each, **options)(view)
        ROUTES.extend(dataclasses.replace(doc, path=each, deprecated=bool(index)) for doc in docs)
        if declared.cors_origins and each not in _preflights:
            _preflights.add(each)
            preflight = functools.wraps(handler)(lambda **params: _preflight())
            preflight.__name__ = f"{name}{suffix}_preflight"
            app.route(each, methods=["OPTIONS"])(preflight)


_preflights: set[str] = set()
# The caller of the request being served (set by ``route`` before the view runs).
_caller: contextvars.ContextVar[auth.Identity] = contextvars.ContextVar("caller", default=auth.ANONYMOUS)


# -- helpers (request reading, response shaping) ---------------------------------------------


def _error(exc: SlipwayError) -> Response:
    headers = {"WWW-Authenticate": exc.challenge} if isinstance(exc, auth.Unauthorized) else {}
    return Response(body=exc.to_dict(), status_code=exc.status_code, headers=headers)


def _with_cors(response: Response) -> Response:
    origin = app.current_request.headers.get("origin")
    response.headers.update(cors.response_headers(origin, get_settings().cors_origins))
    return response


def _preflight() -> Response:
    request = app.current_request
    methods = [m for m, entry in app.routes[request.context["resourcePath"]].items() if m != "OPTIONS" and entry]
    headers = cors.preflight_headers(
        request.headers.get("origin"), get_settings().cors_origins, methods, get_settings().cors_max_age_seconds
    )
    return Response(body="", status_code=204, headers=headers)


def _urls() -> Urls:
    request = app.current_request
    settings = get_settings()
    return Urls(
        request_base_url(
            request.headers, request.context.get("stage"), settings.public_url, settings.trusted_forwarded_hosts
        )
    )


def _query(name: str) -> str | None:
    return (app.current_request.query_params or {}).get(name)


def _body() -> dict[str, Any]:
    return parse_body(app.current_request.raw_body, get_settings().max_request_body_bytes)


def _optional_body() -> dict[str, Any]:
    """The body, or {} when none was sent."""
    raw = app.current_request.raw_body
    return _body() if raw not in (None, b"", "") else {}


def _client_ip() -> str | None:
    request = app.current_request
    return client_ip(request.headers, (request.context.get("identity") or {}).get("sourceIp"))


def _text(output: outputs.Output) -> Response:
    if output.redirect_url is not None:
        return Response(body="", status_code=302, headers={"Location": output.redirect_url})
    if output.parts:
        # Too large to answer as one and stored as two objects only: the links of each (300).
        return Response(body=views.output_parts(output.parts), status_code=300)
    return Response(body=output.text or "", headers={"Content-Type": "text/plain; charset=utf-8"})


def _html(page: str) -> Response:
    return Response(body=page, headers={"Content-Type": "text/html; charset=utf-8"})


def _enqueued(result: jobs.Enqueued) -> views.Enqueued:
    return views.enqueued(result.task_id, result.job_id, result.queue_job_id, result.execution_id, _urls())


def _host_in_body() -> str:
    body = _body()
    if "host" not in body:
        raise ValidationError('the body must name the host: {"host": "name:port"}', field="host")
    return parse_host_id(body["host"])


# -- routes ------------------------------------------------------------------------------------


@route(
    "/healthcheck", public=True, answer=views.Health, answers=(Answer(503, "A dependency is failing", views.Health),)
)
def healthcheck() -> Response:
    """Health of the service's dependencies"""
    healthy, report = health.check()
    return Response(body=report, status_code=200 if healthy else 503)


@route("/status", verb="admin")
def farm_status_view() -> views.Status:
    """The farm's state"""
    return farm_status.status(_urls(), utcnow().timestamp())


_LAST_HOST = (Answer(409, "The last available host of its pool cannot be blacklisted"),)


@route(
    "/docker-executor/blacklist", methods=("POST",), verb="admin", body=views.HostRef, answers=_LAST_HOST, slash=False
)
def blacklist_host() -> views.Host:
    """Take no new work on a host"""
    return blacklist.answer(blacklist.set_blacklisted(_host_in_body(), True, utcnow().timestamp()))


@route(
    "/docker-executor/blacklist", methods=("DELETE",), verb="admin", body=views.HostRef, answers=_LAST_HOST, slash=False
)
def unblacklist_host() -> views.Host:
    """Let a host take work again"""
    return blacklist.answer(blacklist.set_blacklisted(_host_in_body(), False, utcnow().timestamp()))


@route("/tasks", params=(PAGE,))
def list_tasks() -> views.TaskPage:
    """All tasks, newest first"""
    return queries.list_tasks(parse_page(_query("page")), _urls(), _caller.get().scope)


@route("/search", params=(SEARCH_QUERY, PAGE))
def search_tasks() -> views.TaskPage:
    """Tasks whose id has this whole word"""
    return queries.search_tasks(_query("query") or "", parse_page(_query("page")), _urls(), _caller.get().scope)


@route("/openapi.json", public=True, answers=(Answer(200, "OpenAPI 3", dict),), slash=False)
def openapi_document() -> dict[str, Any]:
    """This document"""
    return openapi.document(_urls().base, auth_required=auth.get_credentials().enabled)


@route("/tasks/{task_id}", methods=("POST",), body=JOB_BODY, params=(IDEMPOTENCY_KEY,))
def enqueue_job(task_id: str) -> Response | views.Enqueued:
    """Enqueue a job"""
    key = app.current_request.headers.get(IDEMPOTENCY_KEY_HEADER)
    if key is None:
        return _enqueued(jobs.enqueue(task_id, _body(), request_ip=_client_ip()))
    outcome = idempotency.enqueue_once(key, task_id, _body(), _client_ip(), app.lambda_context)
    return Response(body=_enqueued(outcome.enqueued), headers={"Idempotent-Replayed": str(outcome.replayed).lower()})


@route("/tasks/{task_id}", params=(PAGE,))
def task_details(task_id: str) -> views.TaskDetails:
    """A task's jobs, a page at a time"""
    return queries.task_details(task_id, parse_page(_query("page")), _urls())


@route(JOB, methods=("PUT",), body=JOB_BODY)
def put_job(task_id: str, job_id: str) -> views.JobSaved:
    """Create or replace a job"""
    result = jobs.enqueue(task_id, _body(), job_id=job_id, request_ip=_client_ip())
    return views.job_saved(result.task_id, result.job_id, result.queue_job_id, _urls())


@route(JOB, params=(PAGE,))
def job_details(task_id: str, job_id: str) -> views.JobDetails:
    """A job and its executions, newest first"""
    return queries.job_details(task_id, job_id, parse_page(_query("page")), _urls())


@route(JOB + "/history", params=(history_limit(declared.history_default_limit, declared.history_max_limit),))
def job_history(task_id: str, job_id: str) -> views.JobHistory:
    """The job's newest executions, oldest first, in compact form (outcome, timing), with a summary"""
    settings = get_settings()
    limit = parse_limit(_query("limit"), settings.history_default_limit, settings.history_max_limit)
    return queries.job_history(task_id, job_id, limit, _urls())


@route(JOB + "/logs", answer=TEXT, answers=(LOG_PARTS,))
def job_logs(task_id: str, job_id: str) -> Response:
    """The last execution's stdout + '\\n-=-\\n' + stderr"""
    return _text(outputs.combined(lookups.require_latest_execution(task_id, job_id)[1]))


@route(JOB + "/stdout", answer=TEXT)
def job_stdout(task_id: str, job_id: str) -> Response:
    """The last execution's stdout"""
    return _text(outputs.stdout(lookups.require_latest_execution(task_id, job_id)[1]))


@route(JOB + "/stderr", answer=TEXT)
def job_stderr(task_id: str, job_id: str) -> Response:
    """The last execution's stderr"""
    return _text(outputs.stderr(lookups.require_latest_execution(task_id, job_id)[1]))


@route(EXECUTION)
def execution_details(task_id: str, job_id: str, execution_id: str) -> views.ExecutionDetails:
    """One execution"""
    return queries.execution_details(task_id, job_id, execution_id, _urls())


@route(EXECUTION + "/logs", answer=TEXT, answers=(LOG_PARTS,))
def execution_logs(task_id: str, job_id: str, execution_id: str) -> Response:
    """One execution's stdout + '\\n-=-\\n' + stderr"""
    return _text(outputs.combined(lookups.require_execution(task_id, job_id, execution_id)))


@route(EXECUTION + "/stdout", answer=TEXT)
def execution_stdout(task_id: str, job_id: str, execution_id: str) -> Response:
    """One execution's stdout"""
    return _text(outputs.stdout(lookups.require_execution(task_id, job_id, execution_id)))


@route(EXECUTION + "/stderr", answer=TEXT)
def execution_stderr(task_id: str, job_id: str, execution_id: str) -> Response:
    """One execution's stderr"""
    return _text(outputs.stderr(lookups.require_execution(task_id, job_id, execution_id)))


@route(JOB + "/stop", methods=("POST",))
def stop_job(task_id: str, job_id: str) -> views.JobStopped:
    """Stop a job and its schedule"""
    stopping.stop_job(task_id, job_id)
    return views.job_stopped(task_id, job_id, _urls())


@route(JOB + "/retry", methods=("POST",))
def retry_job(task_id: str, job_id: str) -> views.Enqueued:
    """Run the job again now"""
    return _enqueued(jobs.retry_now(task_id, job_id, request_ip=_client_ip()))


@route(JOB + "/run", methods=("POST",), body=views.RunBody, body_required=False)
def run_job_now(task_id: str, job_id: str) -> views.Enqueued:
    """Run the job now, optionally with other env values or command for that execution only"""
    overrides = parse_overrides(_optional_body())
    return _enqueued(jobs.run_now(task_id, job_id, overrides, request_ip=_client_ip()))


_NOT_LIVE_CRON = (Answer(409, "The job was stopped: its cron no longer ticks"),)


@route(JOB + "/suspend", methods=("POST",), answers=_NOT_LIVE_CRON)
def suspend_job(task_id: str, job_id: str) -> views.JobSuspension:
    """Suspend a cron job: no execution is created until it is resumed"""
    return views.job_suspension(suspension.suspend(task_id, job_id), _urls())


@route(JOB + "/resume", methods=("POST",), answers=_NOT_LIVE_CRON)
def resume_job(task_id: str, job_id: str) -> views.JobSuspension:
    """Resume a suspended cron job from its next instant after now"""
    return views.job_suspension(suspension.resume(task_id, job_id), _urls())


@route(EXECUTION + "/stop", methods=("POST",))
def stop_execution(task_id: str, job_id: str, execution_id: str) -> views.ExecutionStopped:
    """Stop one execution"""
    stopping.stop_execution(task_id, job_id, execution_id)
    return views.execution_stopped(task_id, job_id, execution_id, _urls())


@route(JOB + "/stream", key_in_query=True, answer=HTML)
def stream_job(task_id: str, job_id: str) -> Response:
    """A page tailing the last execution's log live"""
    return _html(stream_page.job_page(task_id, job_id))


@route(JOB + "/stream/executions/{execution_id}", key_in_query=True, answer=HTML)
def stream_execution(task_id: str, job_id: str, execution_id: str) -> Response:
    """A page tailing one execution's log live"""
    return _html(stream_page.execution_page(task_id, job_id, execution_id))


@route("/ui", public=True, answer=HTML)
def console_page() -> Response:
    """The web console (one self-contained page; its requests carry the API's credentials)"""
    return _html(console.page())


@route("/metrics", answer=PROMETHEUS, slash=False)
def metrics_view() -> Response:
    """The service's metrics in Prometheus' text format"""
    return Response(
        body=prometheus_report.report(utcnow().timestamp()), headers={"Content-Type": prometheus_text.CONTENT_TYPE}
    )


# -- WebSocket log tails (the ids come as query parameters: see infra/cdk/functions/ws_path.js) --


@app.on_ws_connect()
def ws_connect(event: WebsocketEvent) -> Response | dict[str, object]:
    raw = event.to_dict()
    refusal = auth.connect_refusal(raw)
    if refusal is not None:
        return refusal
    params = raw.get("queryStringParameters") or {}
    endpoint = live_logs.endpoint_of(raw["requestContext"]["apiId"], event.stage, get_settings().region)
    try:
        live_logs.connect(
            event.connection_id, params.get("taskId"), params.get("jobId"), params.get("executionId"), endpoint
        )
    except SlipwayError as exc:
        return Response(body=exc.to_dict(), status_code=exc.status_code)
    return Response(body="", status_code=200)


@app.on_ws_disconnect()
def ws_disconnect(event: WebsocketEvent) -> None:
    live_logs.disconnect(event.connection_id)


@app.lambda_function(name="ws_replay")
def ws_replay(event: dict[str, str], context: Any) -> None:
    """Invoked asynchronously by the connect handler: a finished execution's log to a viewer."""
    log_replay.deliver(event["connectionId"], event["jobId"], event["executionId"], event.get("endpoint"))


# -- background handlers ---------------------------------------------------------------------


@app.schedule(Rate(1, unit=Rate.MINUTES), name="dispatcher")
def dispatch_due(event: Any) -> dict[str, int]:
    """EventBridge, every minute: create what is due in the look-ahead, resend what was lost."""
    try:
        report = dispatcher.tick()
    finally:
        telemetry.flush()
    return {"created": len(report.created), "skipped": report.skipped, "resent": len(report.resent)}


@app.on_sqs_message(queue=declared.notifications_queue, batch_size=10, name="notifications")
def deliver_notifications(event: SQSEvent) -> dict[str, Any]:
    """SQS: webhooks and e-mails of execution events; failed records are reported one by one
    (``batchItemFailures``), so one bad receiver never replays the whole batch."""
    try:
        return notifications.handle_batch(event.to_dict(), event.context)
    finally:
        telemetry.flush()
