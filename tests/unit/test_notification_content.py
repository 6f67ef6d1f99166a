"""chalicelib.services.notification_content: the webhook payload and the e-mail, from items in memory."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.adapters.models import ExecutionModel, JobModel
from chalicelib.services import notification_content
from chalicelib.settings import Settings

AT = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
SETTINGS = Settings(links_base_url="http://slipway.test:10000/")


def _items() -> tuple[JobModel, ExecutionModel]:
    job = JobModel(
        "t<1>",
        "job-1",
        spec={
            "image": "busybox",
            "command": "echo '<b>hi</b>'",
            "envs": {"DB_PASSWORD": "hunter2", "PLAIN": "x"},
            "metadata": {"owner": "ops"},
        },
    )
    execution = ExecutionModel(
        "job-1",
        "exec-1",
        task_id="t<1>",
        status="failed",
        image="busybox",
        command="echo '<b>hi</b>'",
        created_at=AT,
        started_at=AT,
        finished_at=AT,
        exit_code=3,
        log="out\n",
        error="err\n",
        dispatches=[{"channel": "webhook", "url": "http://a", "attempt": 1, "statusCode": 500}],
    )
    return job, execution


def test_the_payload_is_the_execution_with_ids_links_and_masked_envs() -> None:
    job, execution = _items()
    payload = notification_content.payload("fails", job, execution, SETTINGS)

    assert (payload["event"], payload["status"], payload["exitCode"]) == ("fails", "failed", 3)
    assert (payload["taskId"], payload["jobId"], payload["job_id"], payload["executionId"]) == (
        "t<1>",
        "job-1",
        "job-1",
        "exec-1",
    )
    assert (payload["log"], payload["error"], payload["finishedAt"]) == ("out\n", "err\n", "2026-01-02T03:04:05.678000")
    assert payload["metadata"]["custom"] == {"owner": "ops"}
    assert "webhookDispatch" not in payload["metadata"] and "notifyDispatch" not in payload["metadata"]
    assert payload["envs"] == {"DB_PASSWORD": "***", "PLAIN": "***"}
    execution_url = "http://slipway.test:10000/tasks/t%3C1%3E/jobs/job-1/executions/exec-1/"
    assert payload["url"] == execution_url
    assert payload["logUrls"] == {name: f"{execution_url}{name}/" for name in ("logs", "stdout", "stderr")}
    assert payload["task"] == {"id": "t<1>", "url": "http://slipway.test:10000/tasks/t%3C1%3E"}
    assert b"hunter2" not in notification_content.encode(payload)


def test_only_the_visible_names_are_shown_and_credentials_in_urls_are_masked() -> None:
    job, execution = _items()
    job.spec = {**job.spec, "envs": {"DB_PASS": "p4ss-w0rd", "GITHUB_TOKEN": "ghp_abc", "REGION": "eu-west-1"}}
    execution.command = "git clone https://bot:ghp_abc@github.example/org/repo.git"
    settings = Settings(links_base_url="http://slipway.test/", visible_env_names=("region",))

    payload = notification_content.payload("fails", job, execution, settings)

    assert payload["envs"] == {"DB_PASS": "***", "GITHUB_TOKEN": "***", "REGION": "eu-west-1"}
    assert payload["command"] == "git clone https://bot:***@github.example/org/repo.git"
    for channel in (notification_content.encode(payload).decode(), notification_content.mail_text(payload)):
        assert "ghp_abc" not in channel and "p4ss-w0rd" not in channel
    assert "ghp_abc" not in notification_content.mail_html(payload)


def test_public_url_wins_and_without_any_base_links_are_paths() -> None:
    job, execution = _items()
    public = notification_content.payload(
        "fails", job, execution, Settings(public_url="https://s.example", links_base_url="x")
    )
    bare = notification_content.payload("fails", job, execution, Settings())

    assert public["job"]["url"] == "https://s.example/tasks/t%3C1%3E/jobs/job-1"
    assert bare["job"]["url"] == "/tasks/t%3C1%3E/jobs/job-1"


def test_the_mail_reads_well_and_escapes_its_html() -> None:
    job, execution = _items()
    content = notification_content.payload("fails", job, execution, SETTINGS)

    assert notification_content.subject(content) == "[Slipway] t<1>: execution failed, failed (exit code 3)"
    text = notification_content.mail_text(content)
    assert "Status:      failed" in text and "Exit code:   3" in text and "echo '<b>hi</b>'" in text
    assert '"DB_PASSWORD": "***"' in text and "hunter2" not in text
    html = notification_content.mail_html(content)
    assert "<b>hi</b>" not in html and "&lt;b&gt;hi&lt;/b&gt;" in html
    assert "href='http://slipway.test:10000/tasks/t%3C1%3E/jobs/job-1/executions/exec-1/logs/'" in html


def test_a_start_mail_subject_has_no_exit_code() -> None:
    job, execution = _items()
    execution.status, execution.exit_code, execution.finished_at = "running", None, None
    content = notification_content.payload("starts", job, execution, SETTINGS)

    assert notification_content.subject(content) == "[Slipway] t<1>: execution started, running"
