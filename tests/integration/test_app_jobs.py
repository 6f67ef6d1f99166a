"""The REST routes over HTTP: enqueue, read back, replace, list, paginate."""

from __future__ import annotations

import math
import re
import uuid

from tests.conftest import TEST_IMAGE, Api

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")


def test_enqueue_answers_the_documented_keys_and_urls(api: Api, task_id: str) -> None:
    body = api.enqueue(task_id, "echo hi")

    assert set(body) == {"executionId", "executionUrl", "jobId", "jobUrl", "queueJobId", "taskId", "taskUrl"}
    assert body["taskId"] == task_id
    assert body["taskUrl"] == f"{api.base_url}/tasks/{task_id}"
    assert body["jobUrl"] == f"{api.base_url}/tasks/{task_id}/jobs/{body['jobId']}"
    assert body["executionUrl"] == f"{body['jobUrl']}/executions/{body['executionId']}/"
    assert uuid.UUID(body["jobId"]).version == 4
    assert uuid.UUID(body["queueJobId"])  # the SQS message id
    execution = api.wait_finished(body["executionUrl"])
    assert execution["metadata"]["queue_message_id"] == body["queueJobId"]


def test_job_details_task_details_and_singular_routes(api: Api, task_id: str) -> None:
    first = api.enqueue(task_id, "echo one", envs={"DB_PASSWORD": "hunter2", "PLAIN": "x"}, metadata={"who": "me"})
    second = api.enqueue(task_id, "echo two")
    api.wait_finished(first["executionUrl"])

    task = api.get(f"/tasks/{task_id}/").json()
    job = api.get(first["jobUrl"] + "/").json()
    singular = api.get(f"/tasks/{task_id}/job/{first['jobId']}/").json()

    assert task["taskId"] == task_id
    assert {j["id"] for j in task["jobs"]} == {first["jobId"], second["jobId"]}
    assert job == singular
    assert job["task"] == {"id": task_id, "url": f"{api.base_url}/tasks/{task_id}"}
    details = job["job"]
    assert details["taskId"] == task_id and details["executionCount"] == 1 and details["scheduled"] is False
    assert ISO.match(details["createdAt"]) and ISO.match(details["lastModifiedAt"])
    assert details["metadata"]["envs"] == {"DB_PASSWORD": "***", "PLAIN": "***"}
    assert details["metadata"]["custom"] == {"who": "me"}
    assert details["metadata"]["enqueued_id"] == first["queueJobId"]
    assert details["metadata"]["retries"] == 0 and details["metadata"]["retry_count"] == 0
    assert details["metadata"]["timeout"] == 1800
    [execution] = details["executions"]
    assert execution["executionId"] == first["executionId"]
    assert execution["url"] == first["executionUrl"]


def test_put_creates_then_replaces_a_job(api: Api, task_id: str) -> None:
    job_id = str(uuid.uuid4())
    url = f"/tasks/{task_id}/jobs/{job_id}/"

    created = api.put(url, json={"image": TEST_IMAGE, "command": "echo first"})
    assert created.status_code == 200, created.text
    assert set(created.json()) == {"jobId", "jobUrl", "queueJobId", "taskId", "taskUrl"}
    replaced = api.put(url, json={"image": TEST_IMAGE, "command": "echo second", "envs": {"A": "1"}})
    assert replaced.status_code == 200

    details = api.wait_for(
        url, lambda b: b["job"]["executionCount"] == 2 and all(e["status"] == "done" for e in b["job"]["executions"])
    )["job"]
    assert details["metadata"]["command"] == "echo second"
    assert details["metadata"]["envs"] == {"A": "***"}
    assert [e["command"] for e in details["executions"]] == ["echo second", "echo first"]
    assert api.get(url + "stdout/").text == "second\n"
    assert api.get(f"/tasks/{task_id}/").json()["jobs"] == [{"id": job_id, "url": f"{api.base_url}{url[:-1]}"}]


def test_task_listing_pages_of_ten_newest_first(api: Api, task_id: str) -> None:
    before = api.get("/tasks/").json()["total"]
    ids = [f"{task_id}-{n:02d}" for n in range(12)]
    for tid in ids:
        api.enqueue(tid, "true")

    page1 = api.get("/tasks/").json()
    page2 = api.get("/tasks/", params={"page": 2}).json()

    total = before + 12
    assert page1["total"] == total and page1["perPage"] == 10
    assert page1["pages"] == math.ceil(total / 10)
    assert page1["page"] == 1 and page1["hasPrev"] is False and page1["prevUrl"] is None
    assert page1["hasNext"] is True and page1["nextUrl"] == f"{api.base_url}/tasks/?page=2"
    assert [t["taskId"] for t in page1["items"]] == list(reversed(ids))[:10]
    assert page2["page"] == 2 and page2["hasPrev"] is True and page2["prevUrl"] == f"{api.base_url}/tasks/?page=1"
    assert {t["taskId"] for t in page2["items"]}.isdisjoint({t["taskId"] for t in page1["items"]})
    assert [t["taskId"] for t in page2["items"]][:2] == [ids[1], ids[0]]
    item = page1["items"][0]
    assert set(item) == {"createdAt", "jobsCount", "lastModifiedAt", "taskId", "url"}
    assert item["jobsCount"] == 1
    beyond = api.get("/tasks/", params={"page": page1["pages"] + 1}).json()
    assert beyond["items"] == [] and beyond["hasNext"] is False


def test_job_details_paginate_executions_twenty_per_page_newest_first(api: Api, task_id: str) -> None:
    job_id = str(uuid.uuid4())
    url = f"/tasks/{task_id}/jobs/{job_id}/"
    for n in range(23):
        assert api.put(url, json={"image": TEST_IMAGE, "command": f"echo {n}"}).status_code == 200

    page1 = api.get(url).json()["job"]
    page2 = api.get(url, params={"page": 2}).json()["job"]

    assert page1["executionCount"] == 23
    assert [e["command"] for e in page1["executions"]] == [f"echo {n}" for n in range(22, 2, -1)]
    assert [e["command"] for e in page2["executions"]] == ["echo 2", "echo 1", "echo 0"]
    paging = page1["executionsPagination"]
    assert paging["pages"] == 2 and paging["hasNext"] is True and paging["total"] == 23
    assert paging["nextUrl"] == f"{api.base_url}{url}?page=2"
    assert api.get(url, params={"page": 3}).json()["job"]["executions"] == []


def test_healthcheck_reports_each_dependency(api: Api) -> None:
    response = api.get("/healthcheck/")

    assert response.status_code == 200
    assert response.json() == {"errors": [], "dynamodb": True, "sqs": True, "s3": True}
