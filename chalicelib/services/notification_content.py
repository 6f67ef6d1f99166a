"""What a webhook POSTs and what an e-mail says about an execution (built once per event).

The content is the execution as the API shows it (fastlane's shape: the execution's keys,
``metadata.custom`` and ``job_id``), plus the event, the ids, the job's env vars with secret
values masked, and links to the logs. Dispatch records are left out, as fastlane did.
"""

from __future__ import annotations

import html
import json
from typing import Any

from chalicelib.adapters.models import ExecutionModel, JobModel
from chalicelib.domain.redaction import show_envs
from chalicelib.domain.urls import Urls
from chalicelib.services import views
from chalicelib.settings import Settings

_DISPATCH_KEYS = ("webhookDispatch", "notifyDispatch")


def links(settings: Settings) -> Urls:
    """Links in notifications: no request to take a host from, so from the settings."""
    return Urls((settings.public_url or settings.links_base_url).rstrip("/"))


def payload(event: str, job: JobModel, execution: ExecutionModel, settings: Settings) -> dict[str, Any]:
    urls = links(settings)
    body: dict[str, Any] = {**views.execution(execution, urls)}
    metadata: dict[str, Any] = {**body["metadata"]}
    for key in _DISPATCH_KEYS:
        metadata.pop(key, None)
    spec = dict(job.spec)
    metadata["custom"] = spec.get("metadata") or {}
    body["metadata"] = metadata
    execution_url = urls.execution(execution.task_id, execution.job_id, execution.execution_id)
    body.update(
        {
            "event": event,
            "taskId": execution.task_id,
            "jobId": execution.job_id,
            "job_id": execution.job_id,
            "task": views.task_ref(execution.task_id, urls),
            "job": views.job_ref(execution.task_id, execution.job_id, urls),
            "envs": show_envs(spec.get("envs") or {}, settings.visible_env_names),
            "logUrls": {name: f"{execution_url}{name}/" for name in ("logs", "stdout", "stderr")},
        }
    )
    return body


def encode(content: dict[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True).encode("utf-8")


_EVENT_WORDS = {"succeeds": "succeeded", "fails": "failed", "finishes": "finished", "starts": "started"}


def subject(content: dict[str, Any]) -> str:
    exit_code = content.get("exitCode")
    outcome = content["status"] + (f" (exit code {exit_code})" if exit_code is not None else "")
    return f"[Slipway] {content['taskId']}: execution {_EVENT_WORDS.get(content['event'], content['event'])}, {outcome}"


def mail_text(content: dict[str, Any]) -> str:
    lines = [
        "Automatic message from Slipway. Please do not reply.",
        "",
        f"Task:        {content['taskId']}  {content['task']['url']}",
        f"Job:         {content['jobId']}  {content['job']['url']}",
        f"Execution:   {content['executionId']}  {content['url']}",
        f"Status:      {content['status']}",
        f"Exit code:   {content['exitCode']}",
        f"Image:       {content['image']}",
        f"Command:     {content['command']}",
        f"Started at:  {content['startedAt']} UTC",
        f"Finished at: {content['finishedAt']} UTC",
        f"Logs:        {content['logUrls']['logs']}",
        "",
        "Details:",
        json.dumps(content, indent=2, sort_keys=True),
    ]
    return "\n".join(lines) + "\n"


def mail_html(content: dict[str, Any]) -> str:
    rows = [
        ("Task", content["taskId"], content["task"]["url"]),
        ("Job", content["jobId"], content["job"]["url"]),
        ("Execution", content["executionId"], content["url"]),
        ("Status", content["status"], None),
        ("Exit code", content["exitCode"], None),
        ("Command", content["command"], None),
        ("Logs", "logs", content["logUrls"]["logs"]),
    ]
    cells = "".join(
        f"<tr><th align='left'>{html.escape(name)}</th><td>"
        + (f"<a href='{html.escape(str(link))}'>{html.escape(str(value))}</a>" if link else html.escape(str(value)))
        + "</td></tr>"
        for name, value, link in rows
    )
    details = html.escape(json.dumps(content, indent=2, sort_keys=True))
    return (
        f"<html><body><h2>{html.escape(subject(content))}</h2><table>{cells}</table>"
        f"<h3>Details</h3><pre><code>{details}</code></pre>"
        "<p>Automatic message from Slipway. Please do not reply.</p></body></html>"
    )
