"""Schedules, cron, retries, timeouts, expiration, stop and retry: real time, real containers."""

from __future__ import annotations

import itertools
import time
import uuid

import docker

from chalicelib.adapters import job_repository
from chalicelib.domain.clock import utcnow
from chalicelib.domain.payload import parse_job
from chalicelib.services.executions import new_execution
from infra.local.harness import StackProcess
from tests.conftest import TEST_IMAGE, Api, containers_of, parse_iso


def _executions(api: Api, job_url: str) -> list[dict]:
    return api.get(job_url).json()["job"]["executions"]


def test_start_at_now_runs_at_once(api: Api, task_id: str) -> None:
    body = api.enqueue(task_id, "echo now", startAt=int(time.time()))

    assert body["executionId"] is not None
    assert api.wait_finished(body["executionUrl"])["status"] == "done"


def test_start_in_one_second_runs_within_a_second_of_its_due_time(api: Api, task_id: str) -> None:
    posted = time.time()
    body = api.enqueue(task_id, "echo later", startIn="1s")

    assert body["executionId"] is None and body["executionUrl"] is None
    assert body["queueJobId"] is None
    job = api.wait_for(body["jobUrl"], lambda b: [e["status"] for e in b["job"]["executions"]] == ["done"])["job"]

    [execution] = job["executions"]
    due = parse_iso(execution["scheduledFor"]).timestamp()
    started = parse_iso(execution["startedAt"]).timestamp()
    assert posted + 1 - 0.05 <= due <= posted + 1.5
    assert 0 <= started - due <= 1.0
    assert job["scheduled"] is False and job["nextRunAt"] is None


def test_a_delayed_job_shows_its_schedule_until_it_runs(api: Api, task_id: str) -> None:
    start_at = int(time.time()) + 3600
    body = api.enqueue(task_id, "echo much later", startAt=start_at)

    job = api.get(body["jobUrl"]).json()["job"]

    assert job["scheduled"] is True
    assert job["executions"] == [] and job["executionCount"] == 0
    assert parse_iso(job["nextRunAt"]).timestamp() == start_at
    assert job["metadata"]["startAt"] == start_at


def test_put_moves_a_pending_schedule_and_runs_the_new_details_once(api: Api, task_id: str) -> None:
    url = f"/tasks/{task_id}/jobs/{uuid.uuid4()}/"
    assert api.put(url, json={"image": TEST_IMAGE, "command": "echo old", "startIn": "5000s"}).status_code == 200
    moved_at = time.time()
    assert api.put(url, json={"image": TEST_IMAGE, "command": "echo new", "startIn": "2s"}).status_code == 200

    job = api.wait_for(url, lambda b: [e["status"] for e in b["job"]["executions"]] == ["done"], timeout=10)["job"]
    time.sleep(1.5)
    job = api.get(url).json()["job"]

    [execution] = job["executions"]
    assert execution["command"] == "echo new" and execution["log"] == "new\n"
    assert 0 <= parse_iso(execution["startedAt"]).timestamp() - (moved_at + 2) <= 1.0
    assert job["scheduled"] is False and job["nextRunAt"] is None


def test_put_moving_a_near_schedule_far_away_cancels_the_near_run(api: Api, task_id: str) -> None:
    url = f"/tasks/{task_id}/jobs/{uuid.uuid4()}/"
    api.put(url, json={"image": TEST_IMAGE, "command": "echo near", "startIn": "3s"})
    api.put(url, json={"image": TEST_IMAGE, "command": "echo far", "startIn": "5000s"})
    time.sleep(4.5)

    job = api.get(url).json()["job"]

    # The near run was made ahead (``scheduled``), not yet a run: the PUT cancelled it outright.
    assert job["executions"] == [] and job["executionCount"] == 0
    assert job["scheduled"] is True
    assert parse_iso(job["nextRunAt"]).timestamp() > time.time() + 4000


def test_retries_make_new_executions_with_growing_gaps(api: Api, task_id: str) -> None:
    body = api.enqueue(task_id, "sh -c 'echo attempt; exit 7'", retries=2)

    job = api.wait_for(
        body["jobUrl"],
        lambda b: len(b["job"]["executions"]) == 3 and all(e["status"] == "failed" for e in b["job"]["executions"]),
        timeout=30,
    )["job"]
    time.sleep(3)  # no fourth execution comes
    job = api.get(body["jobUrl"]).json()["job"]

    executions = list(reversed(job["executions"]))
    assert len(executions) == 3 and job["executionCount"] == 3
    assert [e["metadata"]["attempt"] for e in executions] == [0, 1, 2]
    assert [e["exitCode"] for e in executions] == [7, 7, 7]
    assert executions[1]["retryOf"] == executions[0]["executionId"]
    assert executions[2]["retryOf"] == executions[1]["executionId"]
    assert job["metadata"]["retries"] == 2 and job["metadata"]["retry_count"] == 2
    gaps = [
        parse_iso(later["startedAt"]).timestamp() - parse_iso(earlier["finishedAt"]).timestamp()
        for earlier, later in itertools.pairwise(executions)
    ]
    assert 0.9 <= gaps[0] < gaps[1]
    assert gaps[1] >= 1.9


def test_a_per_job_backoff_override(api: Api, task_id: str) -> None:
    body = api.enqueue(task_id, "false", retries=1, retryBackoff={"minMs": 3000})

    job = api.wait_for(
        body["jobUrl"],
        lambda b: len(b["job"]["executions"]) == 2 and all(e["status"] == "failed" for e in b["job"]["executions"]),
        timeout=20,
    )["job"]

    retry, first = job["executions"]
    gap = parse_iso(retry["startedAt"]).timestamp() - parse_iso(first["finishedAt"]).timestamp()
    assert 2.9 <= gap <= 4.5


def test_a_timeout_kills_the_container_and_ends_timedout(api: Api, task_id: str) -> None:
    body = api.enqueue(task_id, "sh -c 'echo started; sleep 30'", timeout=1)

    execution = api.wait_finished(body["executionUrl"], timeout=15)

    assert execution["status"] == "timedout"
    assert execution["log"] == "started\n"
    assert "timeout" in execution["error"]
    duration = parse_iso(execution["finishedAt"]).timestamp() - parse_iso(execution["startedAt"]).timestamp()
    assert 1 <= duration < 4


def test_an_expired_job_ends_expired_without_a_container(api: Api, task_id: str) -> None:
    since = time.time()
    body = api.enqueue(task_id, "echo never", expiration=int(time.time()) - 1)

    execution = api.wait_finished(body["executionUrl"])

    assert execution["status"] == "expired"
    assert execution["startedAt"] is None and execution["metadata"]["container_id"] is None
    starts = docker.from_env().events(
        since=since,
        until=time.time(),
        decode=True,
        filters={"event": "create", "label": f"slipway.execution={body['executionId']}"},
    )
    assert list(starts) == []


def test_stop_execution_kills_the_container_within_two_seconds(api: Api, task_id: str) -> None:
    body = api.enqueue(task_id, "sleep 60")
    api.wait_for(body["executionUrl"], lambda b: b["execution"]["status"] == "running")

    asked = time.time()
    response = api.post(body["executionUrl"] + "stop/")
    execution = api.wait_finished(body["executionUrl"], timeout=5)

    assert response.status_code == 200
    assert response.json()["execution"] == {"id": body["executionId"], "url": body["executionUrl"]}
    assert execution["status"] == "stopped"
    assert parse_iso(execution["finishedAt"]).timestamp() - asked < 2
    while containers_of(body["executionId"]) and time.time() - asked < 2:
        time.sleep(0.05)
    assert containers_of(body["executionId"]) == []


def test_stopping_an_enqueued_execution_prevents_its_run(api: Api, task_id: str) -> None:
    url = f"/tasks/{task_id}/jobs/{uuid.uuid4()}/"
    api.put(url, json={"image": TEST_IMAGE, "command": "echo never", "startIn": "3s"})
    [execution] = api.wait_for(url, lambda b: len(b["job"]["executions"]) == 1)["job"]["executions"]

    api.post(execution["url"] + "stop/")
    time.sleep(4)

    assert api.get(execution["url"]).json()["execution"]["status"] == "stopped"
    assert api.get(execution["url"]).json()["execution"]["startedAt"] is None


def test_retry_route_starts_a_new_execution_now(api: Api, task_id: str) -> None:
    body = api.enqueue(task_id, "echo again")
    api.wait_finished(body["executionUrl"])

    retried = api.post(body["jobUrl"].replace("/jobs/", "/job/") + "/retry/")

    assert retried.status_code == 200
    again = retried.json()
    assert again["jobId"] == body["jobId"] and again["executionId"] != body["executionId"]
    assert api.wait_finished(again["executionUrl"])["log"] == "again\n"
    assert api.get(body["jobUrl"]).json()["job"]["executionCount"] == 2


def test_stop_job_cancels_pending_retries(api: Api, task_id: str) -> None:
    body = api.enqueue(task_id, "false", retries=3, retryBackoff={"minMs": 3000})
    api.wait_finished(body["executionUrl"])
    api.wait_for(body["jobUrl"], lambda b: len(b["job"]["executions"]) == 2)

    stopped = api.post(body["jobUrl"] + "/stop/")
    time.sleep(4)

    assert stopped.json() == {k: body[k] for k in ("jobId", "jobUrl", "taskId", "taskUrl")}
    statuses = [e["status"] for e in api.get(body["jobUrl"]).json()["job"]["executions"]]
    assert statuses == ["stopped", "failed"]


def test_a_lost_sqs_message_is_sent_again_by_the_reconciler(stack: StackProcess, api: Api, task_id: str) -> None:
    spec = parse_job({"image": TEST_IMAGE, "command": "echo recovered"})
    job_id = str(uuid.uuid4())
    execution = new_execution(task_id, job_id, spec, utcnow())
    # Stored, but its message never sent (as if SQS failed right after the DynamoDB write).
    job_repository.save_job(task_id, job_id, spec.to_dict(), utcnow(), execution)

    url = f"/tasks/{task_id}/jobs/{job_id}/executions/{execution.execution_id}/"
    finished = api.wait_finished(url, timeout=20)

    assert finished["status"] == "done" and finished["log"] == "recovered\n"
