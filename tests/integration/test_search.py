"""GET /search/ on the session stack: tasks found by complete words of their id, paginated."""

from __future__ import annotations

import uuid

from tests.conftest import TEST_IMAGE, Api


def _create_task(api: Api, task_id: str) -> None:
    # A job far in the future: the task exists and no container runs.
    response = api.put(
        f"/tasks/{task_id}/jobs/{uuid.uuid4()}/", json={"image": TEST_IMAGE, "command": "true", "startIn": "6h"}
    )
    assert response.status_code == 200, response.text


def _ids(body: dict) -> list[str]:
    return [item["taskId"] for item in body["items"]]


def test_a_complete_word_finds_the_task_and_a_part_of_a_word_finds_nothing(api: Api) -> None:
    _create_task(api, "hello-world")

    world = api.get("/search/", params={"query": "world"})
    hel = api.get("/search/", params={"query": "hel"})
    whole = api.get("/search/", params={"query": "hello-world"})

    assert world.status_code == 200
    assert "hello-world" in _ids(world.json())
    item = next(i for i in world.json()["items"] if i["taskId"] == "hello-world")
    assert set(item) == {"createdAt", "jobsCount", "lastModifiedAt", "taskId", "url"}
    assert item["url"].endswith("/tasks/hello-world") and item["jobsCount"] == 1
    assert hel.status_code == 200
    assert hel.json()["items"] == [] and hel.json()["total"] == 0
    assert "hello-world" in _ids(api.get("/search/?query=hello").json())
    assert _ids(whole.json()) == ["hello-world"]


def test_search_pages_like_the_task_list(api: Api) -> None:
    word = f"pageword{uuid.uuid4().hex[:6]}"
    created = {f"{word}-n{n}" for n in range(12)}
    for task_id in created:
        _create_task(api, task_id)

    first = api.get(f"/search/?query={word}").json()
    second = api.get(f"/search/?query={word}&page=2").json()
    third = api.get(f"/search/?query={word}&page=3").json()

    assert (first["total"], first["pages"], first["perPage"], first["page"]) == (12, 2, 10, 1)
    assert (first["hasNext"], first["hasPrev"], first["prevUrl"]) == (True, False, None)
    assert first["nextUrl"].endswith(f"/search/?query={word}&page=2")
    assert (second["hasNext"], second["hasPrev"], second["nextUrl"]) == (False, True, None)
    assert second["prevUrl"].endswith(f"/search/?query={word}&page=1")
    assert len(first["items"]) == 10 and len(second["items"]) == 2
    assert set(_ids(first)) | set(_ids(second)) == created
    assert third["items"] == []


def test_search_needs_a_query_and_a_valid_page(api: Api) -> None:
    empty = api.get("/search/?query=")
    bad_page = api.get("/search/?query=x&page=zero")

    assert (empty.status_code, empty.json()["field"]) == (400, "query")
    assert (bad_page.status_code, bad_page.json()["field"]) == (400, "page")
