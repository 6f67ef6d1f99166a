"""Runs made ahead of their instants (``scheduled``) on the session stack: between the dispatcher
making one and its instant, the job shows no such execution, does not count it, and its
"last execution" routes answer the previous real run."""

from __future__ import annotations

import time
import uuid

import pytest

from chalicelib.adapters import execution_repository
from tests.conftest import TEST_IMAGE, Api, parse_iso

SEPARATOR = "\n-=-\n"


def _job(api: Api, url: str) -> dict:
    response = api.get(url)
    assert response.status_code == 200, response.text
    return response.json()["job"]


def test_a_start_in_run_is_hidden_until_due_and_logs_answer_the_previous_run(api: Api, task_id: str) -> None:
    url = f"/tasks/{task_id}/jobs/{uuid.uuid4()}/"
    job_id = url.rstrip("/").rsplit("/", 1)[-1]
    assert api.put(url, json={"image": TEST_IMAGE, "command": "echo first"}).status_code == 200
    api.wait_for(url, lambda b: [e["status"] for e in b["job"]["executions"]] == ["done"], timeout=30)

    moved_at = time.time()
    saved = api.put(url, json={"image": TEST_IMAGE, "command": "echo second", "startIn": "8s"})
    assert saved.status_code == 200, saved.text

    # The dispatcher made the run at once (it is due within the look-ahead), as ``scheduled``.
    (ahead,) = execution_repository.scheduled_executions(task_id, job_id)
    job = _job(api, url)
    assert [e["log"] for e in job["executions"]] == ["first\n"]
    assert job["executionCount"] == 1 and job["executionsPagination"]["total"] == 1
    assert job["scheduled"] is True
    assert abs(parse_iso(job["nextRunAt"]).timestamp() - (moved_at + 8)) < 1.5
    assert api.get(url + "logs/").text == "first\n" + SEPARATOR
    assert api.get(url + "stdout/").text == "first\n"
    details = api.get(f"{url}executions/{ahead.execution_id}/").json()["execution"]
    assert details["status"] == "scheduled" and details["dueAt"] == job["nextRunAt"]
    assert time.time() < moved_at + 7, "the checks above must run before the instant"

    job = api.wait_for(url, lambda b: [e["status"] for e in b["job"]["executions"]] == ["done", "done"], timeout=30)[
        "job"
    ]
    assert job["executions"][0]["executionId"] == ahead.execution_id and job["executionCount"] == 2
    assert api.get(url + "logs/").text == "second\n" + SEPARATOR
    assert job["scheduled"] is False and job["nextRunAt"] is None


@pytest.mark.slow
def test_a_cron_jobs_next_tick_is_neither_listed_nor_counted_nor_its_last_execution(api: Api, task_id: str) -> None:
    if time.time() % 60 > 50:
        # Not in the last seconds of a minute: the first tick must still be ahead when looked at.
        time.sleep(61 - time.time() % 60)
    body = api.enqueue(task_id, "sh -c 'echo tick; echo warn >&2'", cron="* * * * *")
    url = body["jobUrl"]
    job_id = body["jobId"]

    # At once, the first tick is made ahead (due within the look-ahead), but is not a run yet.
    (first,) = execution_repository.scheduled_executions(task_id, job_id)
    job = _job(api, url)
    assert job["executions"] == [] and job["executionCount"] == 0 and job["scheduled"] is True
    assert job["nextRunAt"] == details_due(api, url, first.execution_id)
    assert api.get(url + "/logs/").status_code == 404

    job = api.wait_for(url, lambda b: [e["status"] for e in b["job"]["executions"]] == ["done"], 75, 0.25)["job"]

    # Claimed, it became a run: listed, counted, the last execution.
    assert job["executions"][0]["executionId"] == first.execution_id and job["executionCount"] == 1
    # The next tick's run is made already; it stays out of sight until a runner claims it.
    (following,) = execution_repository.scheduled_executions(task_id, job_id)
    assert following.execution_id != first.execution_id
    assert parse_iso(details_due(api, url, following.execution_id)).timestamp() > time.time()
    assert [e["executionId"] for e in job["executions"]] == [first.execution_id]
    assert api.get(url + "/logs/").text == "tick\n" + SEPARATOR + "warn\n"
    assert api.get(url + "/stderr/").text == "warn\n"
    assert job["nextRunAt"] == details_due(api, url, following.execution_id)

    # A stop cancels it: it is deleted, its message finds nothing, no run is counted.
    assert api.post(url + "/stop/").status_code == 200
    assert execution_repository.get_execution(job_id, following.execution_id, consistent=True) is None
    assert api.get(f"{url}/executions/{following.execution_id}/").status_code == 404
    assert following.scheduled_for is not None
    time.sleep(max(0.0, following.scheduled_for.timestamp() - time.time()) + 3)
    job = _job(api, url)
    assert [e["executionId"] for e in job["executions"]] == [first.execution_id]
    assert job["executionCount"] == 1 and job["scheduled"] is False


def details_due(api: Api, job_url: str, execution_id: str) -> str:
    """The ``dueAt`` of an execution by its id (answered even while it is ``scheduled``)."""
    details = api.get(f"{job_url.rstrip('/')}/executions/{execution_id}/").json()["execution"]
    return str(details["dueAt"])
