"""Every client mistake answers 4xx with a JSON body saying what is wrong; nothing is stored."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import TEST_IMAGE, Api

METADATA = "http://169.254.169.254/latest/meta-data/"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"command": "echo"}, "image"),
        ({"image": TEST_IMAGE}, "command"),
        ({"image": TEST_IMAGE, "command": ""}, "command"),
        ({"image": 3, "command": "echo"}, "image"),
        ({"image": TEST_IMAGE, "command": ["echo"]}, "command"),
        ({"image": TEST_IMAGE, "command": "echo", "envs": ["A=1"]}, "envs"),
        ({"image": TEST_IMAGE, "command": "echo", "envs": {"A": 1}}, "envs"),
        ({"image": TEST_IMAGE, "command": "echo", "retries": "3"}, "retries"),
        ({"image": TEST_IMAGE, "command": "echo", "retries": -1}, "retries"),
        ({"image": TEST_IMAGE, "command": "echo", "timeout": 0}, "timeout"),
        ({"image": TEST_IMAGE, "command": "echo", "metadata": "x"}, "metadata"),
        ({"image": TEST_IMAGE, "command": "echo 'unbalanced"}, "command"),
        ({"image": TEST_IMAGE, "command": "echo", "cron": "not a cron"}, "cron"),
        ({"image": TEST_IMAGE, "command": "echo", "startIn": "5x"}, "startIn"),
        ({"image": TEST_IMAGE, "command": "echo", "startIn": "5s", "cron": "* * * * *"}, "cron"),
        ({"image": TEST_IMAGE, "command": "echo", "imagee": "typo"}, "imagee"),
        # A webhook aimed at the cloud metadata endpoint (the default screen's link-local range).
        ({"image": TEST_IMAGE, "command": "echo", "webhooks": {"finishes": [{"url": METADATA}]}}, "webhooks"),
    ],
)
def test_invalid_job_bodies_answer_400_naming_the_field(api: Api, task_id: str, body: dict, field: str) -> None:
    response = api.post(f"/tasks/{task_id}/", json=body)

    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["field"] == field
    assert response.json()["error"]
    # Nothing was stored for a rejected body.
    assert api.get(f"/tasks/{task_id}/").status_code == 404


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b"", "empty"), (b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"), (b"\xff\xfe", "not valid JSON")],
)
def test_malformed_bodies_answer_400(api: Api, task_id: str, raw: bytes, message: str) -> None:
    response = api.post(f"/tasks/{task_id}/", data=raw, headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert message in response.json()["error"]


def test_put_with_a_job_id_that_is_not_a_uuid4_answers_400(api: Api, task_id: str) -> None:
    for job_id in ("not-a-uuid", str(uuid.uuid1())):
        response = api.put(f"/tasks/{task_id}/jobs/{job_id}/", json={"image": TEST_IMAGE, "command": "echo"})
        assert response.status_code == 400
        assert response.json()["field"] == "jobId"


def test_invalid_task_id_answers_400(api: Api) -> None:
    response = api.post("/tasks/-bad!id/", json={"image": TEST_IMAGE, "command": "echo"})

    assert response.status_code == 400
    assert response.json()["field"] == "taskId"


def test_unknown_task_job_and_execution_answer_404_with_json(api: Api, task_id: str) -> None:
    job_id = str(uuid.uuid4())
    assert api.get(f"/tasks/{task_id}/").json()["error"].startswith("task")
    known = api.enqueue(task_id, "true")
    paths = [
        f"/tasks/{task_id}-nope/",
        f"/tasks/{task_id}/jobs/{job_id}/",
        f"/tasks/{task_id}/jobs/{job_id}/logs/",
        f"/tasks/{task_id}/jobs/{known['jobId']}/executions/{uuid.uuid4()}/",
        f"/tasks/{task_id}/jobs/{known['jobId']}/executions/{uuid.uuid4()}/stdout/",
        f"/tasks/{task_id}/job/{job_id}/stderr/",
    ]
    for path in paths:
        response = api.get(path)
        assert response.status_code == 404, path
        assert "does not exist" in response.json()["error"], path


def test_bad_page_parameter_answers_400(api: Api) -> None:
    for page in ("0", "-2", "abc"):
        response = api.get("/tasks/", params={"page": page})
        assert response.status_code == 400
        assert response.json()["field"] == "page"


def test_unknown_route_and_wrong_method_answer_json_4xx(api: Api) -> None:
    unknown = api.get("/nothing/here/")
    wrong_method = api.session.delete(api.url("/tasks/"))

    assert unknown.status_code == 404
    assert "no route" in unknown.json()["error"]
    assert wrong_method.status_code == 405
