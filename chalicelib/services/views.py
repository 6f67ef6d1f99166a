"""Shapes of the API's JSON answers, exactly as the API document spells them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.models import ExecutionModel, JobModel, TaskModel
from chalicelib.domain.clock import to_iso
from chalicelib.domain.pagination import Page
from chalicelib.domain.redaction import redact_envs, redact_webhooks
from chalicelib.domain.urls import Urls
from chalicelib.settings import get_settings


def task_summary(task: TaskModel, urls: Urls) -> dict[str, Any]:
    return {
        "createdAt": to_iso(task.created_at),
        "jobsCount": int(task.jobs_count or 0),
        "lastModifiedAt": to_iso(task.last_modified_at),
        "taskId": task.task_id,
        "url": urls.task(task.task_id),
    }


def task_ref(task_id: str, urls: Urls) -> dict[str, str]:
    return {"id": task_id, "url": urls.task(task_id)}


def job_ref(task_id: str, job_id: str, urls: Urls) -> dict[str, str]:
    return {"id": job_id, "url": urls.job(task_id, job_id)}


def execution(item: ExecutionModel, urls: Urls) -> dict[str, Any]:
    return {
        "command": item.command,
        "createdAt": to_iso(item.created_at),
        "error": item.error or "",
        "executionId": item.execution_id,
        "exitCode": None if item.exit_code is None else int(item.exit_code),
        "finishedAt": to_iso(item.finished_at),
        "image": item.image,
        "log": item.log or "",
        "logTruncated": bool(item.log_truncated),
        "errorTruncated": bool(item.error_truncated),
        "metadata": {
            "container_id": item.container_id,
            "docker_host": item.host,
            "docker_port": None if item.docker_port is None else int(item.docker_port),
            "attempt": int(item.attempt or 0),
            "queue_message_id": item.queue_message_id,
            **dispatch_records(item),
        },
        "requestIP": item.request_ip,
        "scheduledFor": to_iso(item.scheduled_for),
        "retryOf": item.retry_of,
        "startedAt": to_iso(item.started_at),
        "status": item.status,
        "url": urls.execution(item.task_id, item.job_id, item.execution_id),
    }


def dispatch_records(item: ExecutionModel) -> dict[str, list[dict[str, Any]]]:
    """The execution's webhook POSTs and e-mails, attempt by attempt (fastlane's
    ``webhookDispatch``; ``notifyDispatch`` for e-mails)."""
    records: dict[str, list[dict[str, Any]]] = {"webhookDispatch": [], "notifyDispatch": []}
    for raw in item.dispatches or []:
        record = dict(raw.as_dict() if hasattr(raw, "as_dict") else raw)
        channel = record.pop("channel", "webhook")
        for key in ("attempt", "statusCode", "durationMs"):
            if key in record:
                record[key] = int(record[key])
        records["notifyDispatch" if channel == "email" else "webhookDispatch"].append(record)
    return records


def job_metadata(job: JobModel, latest: ExecutionModel | None = None) -> dict[str, Any]:
    spec = dict(job.spec)
    words = get_settings().secret_env_words
    return {
        "command": spec.get("command"),
        "concurrencyPolicy": spec.get("concurrencyPolicy", "allow"),
        "cron": spec.get("cron"),
        "custom": spec.get("metadata") or {},
        "enqueued_id": latest.queue_message_id if latest is not None else None,
        "envs": redact_envs(spec.get("envs") or {}, words),
        "expiration": spec.get("expiration"),
        "image": spec.get("image"),
        "notify": spec.get("notify") or {},
        "retries": spec.get("retries", 0),
        "retryBackoff": spec.get("retryBackoff"),
        "retry_count": int(job.retry_count or 0),
        "startAt": spec.get("startAt"),
        "startIn": spec.get("startIn"),
        "startingDeadlineSeconds": spec.get("startingDeadlineSeconds"),
        "timeout": spec.get("timeout") or get_settings().hard_timeout_seconds,
        "timezone": spec.get("timezone"),
        "webhooks": redact_webhooks(spec.get("webhooks") or {}, words),
    }


def job_details(job: JobModel, executions: list[ExecutionModel], page: Page, urls: Urls) -> dict[str, Any]:
    paging = page.envelope([], urls.job_page(job.task_id, job.job_id))
    paging.pop("items")
    return {
        "job": {
            "createdAt": to_iso(job.created_at),
            "executionCount": int(job.execution_count or 0),
            "executions": [execution(item, urls) for item in executions],
            "executionsPagination": paging,
            "jobId": job.job_id,
            "lastModifiedAt": to_iso(job.last_modified_at),
            "metadata": job_metadata(job, executions[0] if executions and page.page == 1 else None),
            "nextRunAt": to_iso_epoch(job.next_run_at),
            "scheduled": bool(job.scheduled),
            "skippedTicks": int(job.skipped_ticks or 0),
            "taskId": job.task_id,
        },
        "task": task_ref(job.task_id, urls),
    }


def to_iso_epoch(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return to_iso(datetime.fromtimestamp(float(seconds), UTC))
