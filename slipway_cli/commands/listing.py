"""``slipway ls`` (tasks, jobs, executions as tables), ``slipway get`` (one task, job or
execution) and ``slipway search`` (tasks by a word of their id)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from chalicelib.domain.durations import parse_duration
from chalicelib.domain.statuses import ExecutionStatus
from slipway_cli.client import Client
from slipway_cli.context import state
from slipway_cli.output import ago, duration, output_option, parse_iso, print_json, ran_for, status_text, table
from slipway_cli.targets import parse_target

KINDS = ("tasks", "jobs", "executions")
STATUSES = tuple(status.value for status in ExecutionStatus)


def task_rows(items: list[dict[str, Any]]) -> list[list[Any]]:
    return [[t["taskId"], t["jobsCount"], ago(t["createdAt"]), ago(t["lastModifiedAt"])] for t in items]


TASK_COLUMNS = ("TASK", "JOBS", "CREATED", "LAST MODIFIED")


@click.command()
@click.argument("kind", type=click.Choice(KINDS), default="tasks")
@click.option("--task", "task_id", help="Only this task's jobs or executions (else those of the newest tasks)")
@click.option("--job", "job_id", help="Only this job's executions")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES), help="Executions in this status")
@click.option("--since", help="Executions created within this long (30m, 1h, 2d)")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True, help="Page of tasks")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Executions shown at most")
@output_option()
def ls(
    kind: str,
    task_id: str | None,
    job_id: str | None,
    statuses: tuple[str, ...],
    since: str | None,
    page: int,
    limit: int,
    output: str,
) -> None:
    """List tasks (the default), jobs or executions."""
    client = state().client
    if kind == "tasks":
        answer = client.get("/tasks/", page=str(page))
        _print(answer["items"], output, TASK_COLUMNS, task_rows(answer["items"]), f"tasks (page {page})")
        return
    jobs = list(_jobs(client, task_id, job_id, page))
    if kind == "jobs":
        _print(jobs, output, JOB_COLUMNS, [job_row(job) for job in jobs], "jobs")
        return
    cutoff = None
    if since is not None:
        try:
            cutoff = datetime.now(UTC) - timedelta(seconds=parse_duration(since))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--since") from exc
    executions = select_executions(jobs, set(statuses), cutoff)[:limit]
    _print(executions, output, EXECUTION_COLUMNS, [execution_row(e) for e in executions], "executions")


def _jobs(client: Client, task_id: str | None, job_id: str | None, page: int) -> Iterator[dict[str, Any]]:
    """The jobs asked for, each with its latest executions (its details answer's ``job``)."""
    if job_id and not task_id:
        raise click.UsageError("--job needs --task")
    tasks = [task_id] if task_id else [t["taskId"] for t in client.get("/tasks/", page=str(page))["items"]]
    for each in tasks:
        ids = [job_id] if job_id else [ref["id"] for ref in client.get(f"/tasks/{each}/")["jobs"]]
        for one in ids:
            yield client.get(f"/tasks/{each}/jobs/{one}/")["job"]


def select_executions(jobs: list[dict[str, Any]], statuses: set[str], since: datetime | None) -> list[dict[str, Any]]:
    """The jobs' executions in ``statuses`` (any when empty) created after ``since``, newest first."""
    found = []
    for job in jobs:
        for execution in job["executions"]:
            created = parse_iso(execution["createdAt"])
            if statuses and execution["status"] not in statuses:
                continue
            if since is not None and (created is None or created < since):
                continue
            found.append({**execution, "taskId": job["taskId"], "jobId": job["jobId"]})
    return sorted(found, key=lambda e: e["createdAt"] or "", reverse=True)


JOB_COLUMNS = ("TASK", "JOB", "IMAGE", "COMMAND", "SCHEDULE", "NEXT RUN", "RUNS", "LAST")


def job_row(job: dict[str, Any]) -> list[Any]:
    meta = job["metadata"]
    schedule = meta.get("cron") or (f"in {meta['startIn']}" if meta.get("startIn") else None)
    if meta.get("cron") and meta.get("timezone"):
        schedule = f"{meta['cron']} ({meta['timezone']})"
    if job.get("suspended"):
        schedule = f"{schedule} (suspended)"
    last = job["executions"][0]["status"] if job["executions"] else None
    return [
        job["taskId"],
        job["jobId"],
        meta.get("image"),
        meta.get("command"),
        schedule,
        ago(job.get("nextRunAt")) if job.get("nextRunAt") else None,
        job["executionCount"],
        status_text(last),
    ]


EXECUTION_COLUMNS = ("TASK", "JOB", "EXECUTION", "STATUS", "EXIT", "CREATED", "DURATION", "HOST")


def execution_row(execution: dict[str, Any]) -> list[Any]:
    return [
        execution["taskId"],
        execution["jobId"],
        execution["executionId"],
        status_text(execution["status"]),
        execution.get("exitCode"),
        ago(execution["createdAt"]),
        duration(ran_for(execution)),
        execution["metadata"].get("docker_host"),
    ]


@click.command()
@click.argument("target", metavar="TASK_JOB_OR_EXECUTION")
@output_option()
def get(target: str, output: str) -> None:
    """Show a task (its jobs), a job (its definition and latest executions) or an execution."""
    named = parse_target(target)
    answer = state().client.get(named.path(), base=named.base)
    if output == "json":
        print_json(answer)
        return
    console = state().out
    if named.kind == "task":
        rows = [[ref["id"], ref["url"]] for ref in answer["jobs"]]
        console.print(table(f"task {named.task_id}", ("JOB", "URL"), rows))
    elif named.kind == "job":
        job = answer["job"]
        console.print(table(f"job {job['jobId']}", ("FIELD", "VALUE"), job_fields(job)))
        rows = [execution_row({**e, "taskId": job["taskId"], "jobId": job["jobId"]}) for e in job["executions"]]
        console.print(table("executions", EXECUTION_COLUMNS, rows))
    else:
        console.print(table(f"execution {named.execution_id}", ("FIELD", "VALUE"), execution_fields(answer)))


def job_fields(job: dict[str, Any]) -> list[list[Any]]:
    meta = job["metadata"]
    return [
        ["task", job["taskId"]],
        ["image", meta.get("image")],
        ["command", meta.get("command")],
        ["envs", " ".join(f"{k}={v}" for k, v in (meta.get("envs") or {}).items())],
        ["cron", meta.get("cron")],
        ["timezone", meta.get("timezone")],
        ["suspended", bool(job.get("suspended"))],
        ["next run", ago(job.get("nextRunAt")) if job.get("nextRunAt") else None],
        ["retries", meta.get("retries")],
        ["timeout", meta.get("timeout")],
        ["executions", job["executionCount"]],
        ["skipped ticks", job.get("skippedTicks")],
        ["created", ago(job["createdAt"])],
    ]


def execution_fields(answer: dict[str, Any]) -> list[list[Any]]:
    execution = answer["execution"]
    overrides = execution.get("overrides") or {}
    return [
        ["task", answer["task"]["id"]],
        ["job", answer["job"]["id"]],
        ["status", status_text(execution["status"])],
        ["exit code", execution.get("exitCode")],
        ["image", execution["image"]],
        ["command", execution["command"]],
        ["env overrides", " ".join(f"{k}={v}" for k, v in (overrides.get("env") or {}).items())],
        ["created", ago(execution["createdAt"])],
        ["started", ago(execution["startedAt"]) if execution.get("startedAt") else None],
        ["finished", ago(execution["finishedAt"]) if execution.get("finishedAt") else None],
        ["duration", duration(ran_for(execution))],
        ["host", execution["metadata"].get("docker_host")],
        ["attempt", execution["metadata"].get("attempt")],
        ["error", (execution.get("error") or "").strip()[-500:]],
        ["url", execution["url"]],
    ]


@click.command()
@click.argument("word")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@output_option()
def search(word: str, page: int, output: str) -> None:
    """Tasks whose id holds WORD as a whole word (or is WORD)."""
    answer = state().client.get("/search/", query=word, page=str(page))
    _print(answer["items"], output, TASK_COLUMNS, task_rows(answer["items"]), f"tasks matching {word!r}")


def _print(data: Any, output: str, columns: tuple[str, ...], rows: list[list[Any]], title: str) -> None:
    if output == "json":
        print_json(data)
    else:
        state().out.print(table(title, columns, rows))
