"""Executions belong to their task and job: a job id reused under another task (``PUT`` with a
chosen id) never mixes with the first task's runs: not in the listings, not when stopping."""

from __future__ import annotations

import uuid

from tests.conftest import TEST_IMAGE, Api


def test_a_job_id_reused_under_another_task_keeps_each_tasks_runs_apart(api: Api, task_id: str) -> None:
    job_id = str(uuid.uuid4())
    first, second = f"{task_id}-a", f"{task_id}-b"
    running = api.put(f"/tasks/{first}/jobs/{job_id}/", json={"image": TEST_IMAGE, "command": "sleep 30"})
    assert running.status_code == 200, running.text
    first_job = api.wait_for(
        f"/tasks/{first}/jobs/{job_id}/",
        lambda b: b["job"]["executions"][:1] and b["job"]["executions"][0]["status"] == "running",
    )["job"]
    [first_run] = first_job["executions"]

    other = api.put(f"/tasks/{second}/jobs/{job_id}/", json={"image": TEST_IMAGE, "command": "echo second"})
    assert other.status_code == 200, other.text
    second_job = api.wait_for(
        f"/tasks/{second}/jobs/{job_id}/",
        lambda b: b["job"]["executions"][:1] and b["job"]["executions"][0]["status"] == "done",
    )["job"]
    # Stopping the second task's job stops none of the first one's runs.
    assert api.post(f"/tasks/{second}/jobs/{job_id}/stop/").status_code == 200

    first_now = api.get(f"/tasks/{first}/jobs/{job_id}/").json()["job"]
    second_now = api.get(f"/tasks/{second}/jobs/{job_id}/").json()["job"]
    assert [e["executionId"] for e in first_now["executions"]] == [first_run["executionId"]]
    assert [e["executionId"] for e in second_now["executions"]] == [e["executionId"] for e in second_job["executions"]]
    assert len(second_now["executions"]) == 1
    assert second_now["executions"][0]["executionId"] != first_run["executionId"]
    assert first_now["executions"][0]["status"] == "running"
    # An execution is found under its own task only.
    assert api.get(f"/tasks/{second}/jobs/{job_id}/executions/{first_run['executionId']}/").status_code == 404
    stopped = api.post(f"/tasks/{first}/jobs/{job_id}/executions/{first_run['executionId']}/stop/")
    assert stopped.status_code == 200
    assert api.wait_finished(first_run["url"])["status"] == "stopped"
