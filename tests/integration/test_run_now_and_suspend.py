"""Run now with overrides, and suspend/resume of a cron, on the real local stack: real routes,
the real dispatcher ticking every second, real containers."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from chalicelib.services.schedules import tick_execution_id
from tests.conftest import Api, parse_iso

ECHO = "sh -c 'echo $GREETING-$OTHER'"


def _job(api: Api, task_id: str, **body: object) -> dict:
    return api.enqueue(task_id, ECHO, envs={"GREETING": "hello", "OTHER": "there"}, startIn="1h", **body)


def test_run_now_merges_env_over_the_jobs_for_that_execution_only(api: Api, task_id: str) -> None:
    job = _job(api, task_id)

    overridden = api.post(job["jobUrl"] + "/run/", json={"env": {"OTHER": "world"}})
    assert overridden.status_code == 200, overridden.text
    plain = api.post(job["jobUrl"] + "/run/")  # no body: the job as defined
    assert plain.status_code == 200, plain.text

    first = api.wait_finished(overridden.json()["executionUrl"])
    second = api.wait_finished(plain.json()["executionUrl"])
    assert (first["status"], first["log"]) == ("done", "hello-world\n"), first
    assert first["overrides"] == {"env": {"OTHER": "***"}}  # masked as every env value
    assert (second["status"], second["log"], second["overrides"]) == ("done", "hello-there\n", None)
    details = api.get(job["jobUrl"]).json()["job"]
    assert details["metadata"]["envs"] == {"GREETING": "***", "OTHER": "***"}
    assert details["metadata"]["command"] == ECHO
    assert details["nextRunAt"] is not None  # the delayed run is still due


def test_run_now_with_a_command_runs_that_command_once(api: Api, task_id: str) -> None:
    job = _job(api, task_id)
    singular = job["jobUrl"].replace("/jobs/", "/job/").rstrip("/") + "/run"

    answer = api.post(singular, json={"command": "sh -c 'echo other $GREETING; exit 4'"})

    assert answer.status_code == 200, answer.text
    finished = api.wait_finished(answer.json()["executionUrl"])
    assert (finished["status"], finished["exitCode"], finished["log"]) == ("failed", 4, "other hello\n"), finished
    assert finished["command"] == "sh -c 'echo other $GREETING; exit 4'"
    assert api.get(job["jobUrl"]).json()["job"]["metadata"]["command"] == ECHO


def test_run_now_refuses_a_wrong_body_with_a_400_and_an_unknown_job_with_a_404(api: Api, task_id: str) -> None:
    job = _job(api, task_id)
    for body, field in (({"envs": {"A": "1"}}, "envs"), ({"env": {"A": 1}}, "env"), ({"command": ""}, "command")):
        answer = api.post(job["jobUrl"] + "/run/", json=body)
        assert answer.status_code == 400, answer.text
        assert answer.json()["field"] == field
    assert api.post(job["jobUrl"] + "/run/", data="[1]").status_code == 400
    unknown = api.post(f"/tasks/{task_id}/jobs/0b6c1a52-6d0f-4f3e-9a55-5c8a2f0e7d11/run/", json={})
    assert unknown.status_code == 404 and "does not exist" in unknown.json()["error"]
    assert len(api.get(job["jobUrl"]).json()["job"]["executions"]) == 0


def test_a_suspended_cron_makes_no_executions_and_resumes_from_now(api: Api, task_id: str) -> None:
    # Every minute: the next tick is always within the dispatcher's 70 s look-ahead, so its run is
    # made ahead of time at once (``scheduled``), and the suspension must cancel it.
    # Not in the last seconds of a minute: that instant's run could be claimed (no longer
    # ``scheduled``) before the suspension.
    second = datetime.now(UTC).second
    if second > 40:
        time.sleep(61 - second)
    job = api.enqueue(task_id, "echo tick", cron="* * * * *")
    due = parse_iso(api.get(job["jobUrl"]).json()["job"]["nextRunAt"])
    made_ahead_url = f"{job['jobUrl']}/executions/{tick_execution_id(job['jobId'], due.timestamp())}/"
    assert api.get(made_ahead_url).json()["execution"]["status"] == "scheduled"

    suspended = api.post(job["jobUrl"] + "/suspend/")
    assert suspended.status_code == 200, suspended.text
    assert (suspended.json()["suspended"], suspended.json()["nextRunAt"]) == (True, None)
    assert api.get(made_ahead_url).status_code == 404  # cancelled: it never was a run
    time.sleep(3)  # three dispatcher ticks
    details = api.get(job["jobUrl"]).json()["job"]
    assert (details["suspended"], details["nextRunAt"], details["scheduled"]) == (True, None, False)
    assert details["executions"] == [] and details["executionCount"] == 0
    scheduled = api.get("/status/").json()["jobs"]["scheduled"]
    assert job["jobId"] not in {each["jobId"] for each in scheduled}

    resumed_at = datetime.now(UTC)
    resumed = api.post(job["jobUrl"].replace("/jobs/", "/job/") + "/resume/")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["suspended"] is False
    # The first minute boundary after the resume, not a catch-up of the ticks missed meanwhile.
    first_boundary = resumed_at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    # (the instant after it once that one's run has already been claimed, when the resume came
    # just before the boundary)
    next_run = parse_iso(api.get(job["jobUrl"]).json()["job"]["nextRunAt"])
    assert next_run in (first_boundary, first_boundary + timedelta(minutes=1))
    details = api.wait_for(job["jobUrl"], lambda b: len(b["job"]["executions"]) == 1, timeout=90)["job"]
    assert details["suspended"] is False
    assert parse_iso(details["executions"][0]["scheduledFor"]) == first_boundary
    api.post(job["jobUrl"] + "/stop/")


def test_suspend_refuses_a_job_without_cron_and_a_stopped_cron(api: Api, task_id: str) -> None:
    one_off = _job(api, task_id)
    answer = api.post(one_off["jobUrl"] + "/suspend/")
    assert answer.status_code == 400 and answer.json()["field"] == "cron"

    cron = api.enqueue(task_id, "echo tick", cron="0 3 * * *")
    assert api.post(cron["jobUrl"] + "/stop/").status_code == 200
    for action in ("suspend/", "resume/"):
        refused = api.post(cron["jobUrl"] + "/" + action)
        assert refused.status_code == 409 and "stopped" in refused.json()["error"]
