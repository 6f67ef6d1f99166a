"""Shapes of the API's JSON answers, exactly as the API document spells them.

Each answer is a TypedDict here, and the OpenAPI document's answer components are read from these
types (``api/openapi.py``): a shape is written once. A component's description is its docstring.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, NotRequired, TypedDict

from chalicelib.adapters.models import ExecutionModel, JobModel, TaskModel
from chalicelib.domain.answer_size import tail_within
from chalicelib.domain.clock import to_iso
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.history import duration_seconds, summarize
from chalicelib.domain.pagination import Page, Paging
from chalicelib.domain.pools import pool_for_task, sandbox_of
from chalicelib.domain.redaction import mask_url_credentials, redact_webhooks, show_envs
from chalicelib.domain.scheduling import upcoming_ticks
from chalicelib.domain.shapes import IsoTime, Keywords
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.domain.urls import Urls
from chalicelib.settings import get_settings


class Error(TypedDict):
    """Every error answer: what is wrong and, where it applies, which field (other keys may follow)."""

    error: str
    field: NotRequired[str]


class OutputParts(TypedDict):
    """Too large to answer as one, and stored before runners kept a combined object: a
    short-lived S3 link to each of its parts (stdout, then the separator, then stderr)"""

    error: str
    stdout: NotRequired[str]
    stderr: NotRequired[str]


class Ref(TypedDict):
    id: str
    url: str


class JobStopped(TypedDict):
    """The job"""

    jobId: str
    jobUrl: str
    taskId: str
    taskUrl: str


class JobSaved(JobStopped):
    """The job, saved"""

    queueJobId: str | None


class Enqueued(JobSaved):
    """The job, and its execution unless it is delayed"""

    executionId: str | None
    executionUrl: str | None


class TaskSummary(TypedDict):
    createdAt: IsoTime
    jobsCount: int
    lastModifiedAt: IsoTime
    taskId: str
    url: str


class TaskPage(Paging):
    """A page of tasks"""

    items: list[TaskSummary]


class TaskDetails(TypedDict):
    """The task's jobs (a page of them: ``jobsPagination`` says which)"""

    jobs: list[Ref]
    jobsPagination: Paging
    taskId: str


class ExecutionMetadata(TypedDict):
    container_id: str | None
    docker_host: str | None
    docker_port: int | None
    attempt: int
    queue_message_id: str | None
    webhookDispatch: list[dict[str, Any]]
    notifyDispatch: list[dict[str, Any]]


class RunOverridesView(TypedDict):
    """What this execution ran with instead of its job's: env merged over the job's envs
    (secret-looking names shown as ***), and the command"""

    env: dict[str, str]
    command: NotRequired[str]


class Execution(TypedDict):
    command: str
    createdAt: IsoTime
    # When the run is due: its scheduledFor, or its creation for a run at once.
    dueAt: IsoTime
    error: str
    executionId: str
    exitCode: int | None
    finishedAt: IsoTime
    image: str
    log: str
    logTruncated: bool
    errorTruncated: bool
    metadata: ExecutionMetadata
    requestIP: str | None
    scheduledFor: IsoTime
    retryOf: str | None
    overrides: RunOverridesView | None
    # The sandbox its container ran in (limits and options), once it started.
    sandbox: dict[str, Any] | None
    startedAt: IsoTime
    status: Annotated[str, Keywords(enum=[status.value for status in ExecutionStatus])]
    url: str


class JobMetadata(TypedDict):
    command: str | None
    concurrencyPolicy: str
    cron: str | None
    custom: dict[str, Any]
    enqueued_id: str | None
    envs: dict[str, str]
    expiration: int | None
    image: str | None
    notify: dict[str, list[str]]
    retries: int
    retryBackoff: dict[str, float] | None
    retry_count: int
    # What the job asked for, and the sandbox its containers get in its pool now.
    resources: dict[str, Any] | None
    sandbox: dict[str, Any] | None
    startAt: int | None
    startIn: str | None
    startingDeadlineSeconds: int | None
    timeout: int
    timezone: str | None
    webhooks: dict[str, list[dict[str, Any]]]


class JobView(TypedDict):
    createdAt: IsoTime
    executionCount: int
    executions: list[Execution]
    executionsPagination: Paging
    jobId: str
    lastModifiedAt: IsoTime
    metadata: JobMetadata
    nextRunAt: IsoTime
    nextRuns: Annotated[
        list[str], Keywords(description="The next instants the job is due (a cron's next five), ISO, UTC")
    ]
    scheduled: bool
    skippedTicks: int
    suspended: bool
    taskId: str


class JobDetails(TypedDict):
    """The job and a page of its executions, newest first"""

    job: JobView
    task: Ref


class HistoryRun(TypedDict):
    """One execution of a job's history: its outcome and timing only"""

    executionId: str
    status: Annotated[str, Keywords(enum=[status.value for status in ExecutionStatus])]
    createdAt: IsoTime
    startedAt: IsoTime
    finishedAt: IsoTime
    durationSeconds: Annotated[float | None, Keywords(description="finishedAt - startedAt; null until both are set")]
    exitCode: int | None


class HistorySummary(TypedDict):
    """Of the runs the answer covers: how many, how many in each status, and the p50/p90 of the
    durations of those that started and ended (``timed`` of them)"""

    runs: int
    byStatus: dict[str, int]
    timed: int
    durationP50: float | None
    durationP90: float | None


class JobHistory(TypedDict):
    """The job's newest executions (at most ``limit``), oldest first, in compact form, with a summary

    ``executionCount`` is the job's total: more than ``summary.runs`` when older runs exist."""

    taskId: str
    jobId: str
    limit: int
    executionCount: int
    executions: list[HistoryRun]
    summary: HistorySummary
    job: Ref
    task: Ref


class ExecutionDetails(TypedDict):
    """The execution"""

    execution: Execution
    job: Ref
    task: Ref


class RunBody(TypedDict):
    """The body of the run route (optional): what this one execution runs with instead of the
    job's definition"""

    env: NotRequired[Annotated[dict[str, str], Keywords(example={"DRY_RUN": "1"})]]
    command: NotRequired[Annotated[str, Keywords(example="echo once")]]


class JobSuspension(JobStopped):
    """The job: whether its cron is suspended, and its next instant"""

    suspended: bool
    nextRunAt: IsoTime


class ExecutionStopped(TypedDict):
    """The execution, stopping"""

    execution: Ref
    job: Ref
    task: Ref


class Status(TypedDict):
    """The farm: hosts and their containers, pools, queues, jobs and tasks."""

    containers: dict[str, Any]
    hosts: list[dict[str, Any]]
    jobs: dict[str, Any]
    pools: list[dict[str, Any]]
    queues: dict[str, Any]
    tasks: dict[str, Any]


class HostRef(TypedDict):
    """The body of the blacklist routes."""

    host: Annotated[str, Keywords(pattern=r"^[^\s:]+:[0-9]{1,5}$", example="runner-1:2375")]


class Host(TypedDict):
    """The host"""

    host: str
    pool: str
    blacklisted: bool


class Health(TypedDict):
    """Each dependency: reachable or not, and the errors met"""

    errors: list[dict[str, Any]]
    dynamodb: bool
    sqs: bool
    s3: bool


class DispatchRecords(TypedDict):
    webhookDispatch: list[dict[str, Any]]
    notifyDispatch: list[dict[str, Any]]


def job_stopped(task_id: str, job_id: str, urls: Urls) -> JobStopped:
    return {"jobId": job_id, "jobUrl": urls.job(task_id, job_id), "taskId": task_id, "taskUrl": urls.task(task_id)}


def job_suspension(job: JobModel, urls: Urls) -> JobSuspension:
    return {
        **job_stopped(job.task_id, job.job_id, urls),
        "suspended": bool(job.suspended),
        "nextRunAt": to_iso_epoch(job.next_run_at),
    }


def job_saved(task_id: str, job_id: str, queue_job_id: str | None, urls: Urls) -> JobSaved:
    return {**job_stopped(task_id, job_id, urls), "queueJobId": queue_job_id}


def enqueued(task_id: str, job_id: str, queue_job_id: str | None, execution_id: str | None, urls: Urls) -> Enqueued:
    return {
        **job_saved(task_id, job_id, queue_job_id, urls),
        "executionId": execution_id,
        "executionUrl": urls.execution(task_id, job_id, execution_id) if execution_id else None,
    }


def execution_stopped(task_id: str, job_id: str, execution_id: str, urls: Urls) -> ExecutionStopped:
    return {
        "execution": {"id": execution_id, "url": urls.execution(task_id, job_id, execution_id)},
        "job": job_ref(task_id, job_id, urls),
        "task": task_ref(task_id, urls),
    }


def task_summary(task: TaskModel, urls: Urls) -> TaskSummary:
    return {
        "createdAt": to_iso(task.created_at),
        "jobsCount": int(task.jobs_count or 0),
        "lastModifiedAt": to_iso(task.last_modified_at),
        "taskId": task.task_id,
        "url": urls.task(task.task_id),
    }


def output_parts(links: dict[str, str]) -> OutputParts:
    parts: OutputParts = {"error": "stdout and stderr together are larger than one answer may be: download each"}
    if "stdout" in links:
        parts["stdout"] = links["stdout"]
    if "stderr" in links:
        parts["stderr"] = links["stderr"]
    return parts


def task_ref(task_id: str, urls: Urls) -> Ref:
    return {"id": task_id, "url": urls.task(task_id)}


def job_ref(task_id: str, job_id: str, urls: Urls) -> Ref:
    return {"id": job_id, "url": urls.job(task_id, job_id)}


def execution(item: ExecutionModel, urls: Urls, text_budget: int | None = None) -> Execution:
    """The execution as the API shows it; with ``text_budget``, its ``log`` and ``error`` each
    take at most that many characters of a Lambda answer (the tail kept, after a marker with
    the link to the whole stream)."""
    records = dispatch_records(item)
    url = urls.execution(item.task_id, item.job_id, item.execution_id)
    log, log_cut = _within(item.log or "", text_budget, url + "stdout/")
    error, error_cut = _within(item.error or "", text_budget, url + "stderr/")
    return {
        "command": mask_url_credentials(item.command),
        "createdAt": to_iso(item.created_at),
        "dueAt": to_iso(item.scheduled_for or item.created_at),
        "error": mask_url_credentials(error),
        "executionId": item.execution_id,
        "exitCode": None if item.exit_code is None else int(item.exit_code),
        "finishedAt": to_iso(item.finished_at),
        "image": item.image,
        "log": log,
        "logTruncated": bool(item.log_truncated) or log_cut,
        "errorTruncated": bool(item.error_truncated) or error_cut,
        "metadata": {
            "container_id": item.container_id,
            "docker_host": item.host,
            "docker_port": None if item.docker_port is None else int(item.docker_port),
            "attempt": int(item.attempt or 0),
            "queue_message_id": item.queue_message_id,
            "webhookDispatch": records["webhookDispatch"],
            "notifyDispatch": records["notifyDispatch"],
        },
        "requestIP": item.request_ip,
        "scheduledFor": to_iso(item.scheduled_for),
        "retryOf": item.retry_of,
        "overrides": overrides_view(item.overrides),
        "sandbox": item.sandbox,
        "startedAt": to_iso(item.started_at),
        "status": item.status,
        "url": url,
    }


def overrides_view(stored: dict[str, Any] | None) -> RunOverridesView | None:
    if not stored:
        return None
    view: RunOverridesView = {"env": show_envs(dict(stored.get("env") or {}), get_settings().visible_env_names)}
    if stored.get("command") is not None:
        view["command"] = str(stored["command"])
    return view


def _within(text: str, budget: int | None, whole_at: str) -> tuple[str, bool]:
    if budget is None:
        return text, False
    return tail_within(text, budget, f"[cut to fit this answer; the whole output: {whole_at}]\n")


def text_budget(texts: int) -> int:
    """What each of ``texts`` log texts of one answer may take of it: an equal share of
    ``max_response_body_bytes``, one share left for the rest of the answer."""
    return get_settings().max_response_body_bytes // (texts + 1)


def dispatch_records(item: ExecutionModel) -> DispatchRecords:
    """The execution's webhook POSTs and e-mails, attempt by attempt (fastlane's
    ``webhookDispatch``; ``notifyDispatch`` for e-mails)."""
    records: DispatchRecords = {"webhookDispatch": [], "notifyDispatch": []}
    for raw in item.dispatches or []:
        record = dict(raw.as_dict() if hasattr(raw, "as_dict") else raw)
        channel = record.pop("channel", "webhook")
        for key in ("url", "error"):
            if isinstance(record.get(key), str):
                record[key] = mask_url_credentials(record[key])
        for key in ("attempt", "statusCode", "durationMs"):
            if key in record:
                record[key] = int(record[key])
        (records["notifyDispatch"] if channel == "email" else records["webhookDispatch"]).append(record)
    return records


def job_metadata(job: JobModel, latest: ExecutionModel | None = None) -> JobMetadata:
    spec = dict(job.spec)
    words = get_settings().secret_env_words
    command = spec.get("command")
    return {
        "command": mask_url_credentials(command) if isinstance(command, str) else command,
        "concurrencyPolicy": spec.get("concurrencyPolicy", "allow"),
        "cron": spec.get("cron"),
        "custom": spec.get("metadata") or {},
        "enqueued_id": latest.queue_message_id if latest is not None else None,
        "envs": show_envs(spec.get("envs") or {}, get_settings().visible_env_names),
        "expiration": spec.get("expiration"),
        "image": spec.get("image"),
        "notify": spec.get("notify") or {},
        "retries": spec.get("retries", 0),
        "retryBackoff": spec.get("retryBackoff"),
        "retry_count": int(job.retry_count or 0),
        "resources": spec.get("resources"),
        "sandbox": job_sandbox(job.task_id, spec.get("resources")),
        "startAt": spec.get("startAt"),
        "startIn": spec.get("startIn"),
        "startingDeadlineSeconds": spec.get("startingDeadlineSeconds"),
        "timeout": spec.get("timeout") or get_settings().hard_timeout_seconds,
        "timezone": spec.get("timezone"),
        "webhooks": redact_webhooks(spec.get("webhooks") or {}, words),
    }


def job_sandbox(task_id: str, resources: dict[str, Any] | None) -> dict[str, Any] | None:
    """The sandbox the job's next container gets in its pool (None: no pool takes the task, or
    the pool's ceiling no longer allows what the job asks)."""
    settings = get_settings()
    pool = pool_for_task(task_id, settings)
    if pool is None:
        return None
    try:
        return sandbox_of(pool, settings).apply(resources).view()
    except ValidationError:
        return None


def job_details(
    job: JobModel,
    executions: list[ExecutionModel],
    page: Page,
    urls: Urls,
    scheduled: list[ExecutionModel] | None = None,
) -> JobDetails:
    """``scheduled``: its executions made ahead of their instants. They are not listed, but
    the job still shows that it is scheduled and when it runs next."""
    paging = page.paging(urls.job_page(job.task_id, job.job_id))
    upcoming = [float(job.next_run_at)] if job.next_run_at is not None else []
    upcoming += [item.scheduled_for.timestamp() for item in scheduled or [] if item.scheduled_for is not None]
    first = min(upcoming) if upcoming else None
    return {
        "job": {
            "createdAt": to_iso(job.created_at),
            "executionCount": int(job.execution_count or 0),
            "executions": [execution(item, urls, text_budget(2 * len(executions))) for item in executions],
            "executionsPagination": paging,
            "jobId": job.job_id,
            "lastModifiedAt": to_iso(job.last_modified_at),
            "metadata": job_metadata(job, executions[0] if executions and page.page == 1 else None),
            "nextRunAt": to_iso_epoch(first),
            "nextRuns": next_runs(job, first),
            "scheduled": bool(job.scheduled or scheduled),
            "skippedTicks": int(job.skipped_ticks or 0),
            "suspended": bool(job.suspended),
            "taskId": job.task_id,
        },
        "task": task_ref(job.task_id, urls),
    }


def history_run(item: ExecutionModel) -> HistoryRun:
    return {
        "executionId": item.execution_id,
        "status": item.status,
        "createdAt": to_iso(item.created_at),
        "startedAt": to_iso(item.started_at),
        "finishedAt": to_iso(item.finished_at),
        "durationSeconds": duration_seconds(item.started_at, item.finished_at),
        "exitCode": None if item.exit_code is None else int(item.exit_code),
    }


def job_history(job: JobModel, newest_first: list[ExecutionModel], limit: int, urls: Urls) -> JobHistory:
    """``newest_first``: the runs read (at most ``limit``); answered oldest first, as a chart draws them."""
    runs = [history_run(item) for item in reversed(newest_first)]
    summary = summarize((run["status"], run["durationSeconds"]) for run in runs)
    return {
        "taskId": job.task_id,
        "jobId": job.job_id,
        "limit": limit,
        "executionCount": int(job.execution_count or 0),
        "executions": runs,
        "summary": {
            "runs": summary.runs,
            "byStatus": summary.by_status,
            "timed": summary.timed,
            "durationP50": summary.p50,
            "durationP90": summary.p90,
        },
        "job": job_ref(job.task_id, job.job_id, urls),
        "task": task_ref(job.task_id, urls),
    }


def next_runs(job: JobModel, first_epoch: float | None) -> list[str]:
    """When the job is due next: its first instant (``first_epoch``, a run made ahead or the
    dispatcher's next) and, for a cron, the ticks after it, up to ``next_runs_listed``; empty
    when nothing is scheduled (or its cron is suspended)."""
    if job.suspended or first_epoch is None:
        return []
    first = datetime.fromtimestamp(first_epoch, UTC)
    spec = dict(job.spec)
    cron = spec.get("cron")
    instants = upcoming_ticks(cron, first, get_settings().next_runs_listed, spec.get("timezone")) if cron else [first]
    return [text for text in (to_iso(instant) for instant in instants) if text is not None]


def to_iso_epoch(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return to_iso(datetime.fromtimestamp(float(seconds), UTC))
