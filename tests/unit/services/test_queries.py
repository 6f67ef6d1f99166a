"""services.queries: the listings' pages, the search and the details, from the in-memory tables."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.errors import NotFound
from chalicelib.domain.urls import Urls
from chalicelib.services import jobs, queries
from chalicelib.settings import get_settings
from tests.fakes.installed import Fakes
from tests.fakes.items import JOB, NOW, TASK

URLS = Urls("http://api.test")
BODY = {"image": "busybox", "command": "true"}


def test_tasks_are_listed_newest_first_page_by_page(fakes: Fakes) -> None:
    per_page = get_settings().tasks_per_page
    count = per_page * 2 + 3
    for n in range(count):
        jobs.enqueue(f"team-app-{n:02}", BODY, now=NOW + timedelta(seconds=n))

    first = queries.list_tasks(1, URLS)
    last = queries.list_tasks(3, URLS)
    beyond = queries.list_tasks(4, URLS)

    assert (first["total"], first["pages"], first["hasNext"], first["hasPrev"]) == (count, 3, True, False)
    assert [item["taskId"] for item in first["items"]] == [
        f"team-app-{n:02}" for n in range(count - 1, count - 1 - per_page, -1)
    ]
    assert first["nextUrl"] == "http://api.test/tasks/?page=2"
    assert [item["taskId"] for item in last["items"]] == ["team-app-02", "team-app-01", "team-app-00"]
    assert last["hasNext"] is False and beyond["items"] == []


def test_a_search_finds_tasks_by_a_whole_word_of_their_id(fakes: Fakes) -> None:
    for task_id in ("hello-world", "world-peace", "worldly"):
        jobs.enqueue(task_id, BODY, now=NOW)

    found = queries.search_tasks("world", 1, URLS)

    assert sorted(item["taskId"] for item in found["items"]) == ["hello-world", "world-peace"]
    assert found["total"] == 2


def test_a_jobs_executions_are_paged_newest_first(fakes: Fakes) -> None:
    per_page = get_settings().executions_per_page
    ids = [str(jobs.enqueue(TASK, BODY, job_id=JOB, now=NOW).execution_id) for _ in range(per_page + 2)]

    first = queries.job_details(TASK, JOB, 1, URLS)["job"]
    second = queries.job_details(TASK, JOB, 2, URLS)["job"]
    beyond = queries.job_details(TASK, JOB, 3, URLS)["job"]

    assert first["executionCount"] == per_page + 2
    assert (len(first["executions"]), len(second["executions"]), beyond["executions"]) == (per_page, 2, [])
    shown = [item["executionId"] for item in first["executions"] + second["executions"]]
    assert shown == sorted(ids, reverse=True)  # newest first: the sort key, a time-ordered id
    paging = first["executionsPagination"]
    assert (paging["page"], paging["pages"], paging["hasNext"], paging["total"]) == (1, 2, True, per_page + 2)


def test_details_of_what_does_not_exist_are_not_found(fakes: Fakes) -> None:
    with pytest.raises(NotFound):
        queries.task_details("no-such-task", 1, URLS)
    jobs.enqueue(TASK, BODY, job_id=JOB, now=NOW)
    assert queries.task_details(TASK, 1, URLS)["jobs"][0]["id"] == JOB
    with pytest.raises(NotFound, match="does not exist in task"):
        queries.job_details(TASK, "0b6c1a52-0000-4000-8000-000000000000", 1, URLS)


def test_a_tasks_jobs_come_a_page_at_a_time(fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_JOBS_PER_PAGE", "2")
    get_settings.cache_clear()
    try:
        for _ in range(5):
            jobs.enqueue(TASK, BODY, now=NOW)
        pages = [queries.task_details(TASK, page, URLS) for page in (1, 2, 3, 4)]
    finally:
        get_settings.cache_clear()

    assert [len(page["jobs"]) for page in pages] == [2, 2, 1, 0]
    assert len({ref["id"] for page in pages for ref in page["jobs"]}) == 5
    first = pages[0]["jobsPagination"]
    assert (first["total"], first["pages"], first["hasNext"]) == (5, 3, True)
    assert first["nextUrl"] == f"{URLS.base}/tasks/{TASK}/?page=2"


def test_a_jobs_history_is_its_newest_runs_oldest_first_with_their_summary(fakes: Fakes) -> None:
    ids = [str(jobs.enqueue(TASK, BODY, job_id=JOB, now=NOW).execution_id) for _ in range(5)]
    for n, execution_id in enumerate(ids[:4]):
        stored = fakes.tables.stored(JOB, execution_id)
        stored.status = "failed" if n == 1 else "done"
        stored.started_at = NOW + timedelta(seconds=n)
        stored.finished_at = stored.started_at + timedelta(seconds=n + 1)
        stored.exit_code = 1 if n == 1 else 0

    whole = queries.job_history(TASK, JOB, 200, URLS)
    newest = queries.job_history(TASK, JOB, 2, URLS)

    assert [run["executionId"] for run in whole["executions"]] == ids  # oldest first
    assert [run["durationSeconds"] for run in whole["executions"]] == [1.0, 2.0, 3.0, 4.0, None]
    assert whole["summary"] == {
        "runs": 5,
        "byStatus": {"done": 3, "enqueued": 1, "failed": 1},
        "timed": 4,
        "durationP50": 2.0,
        "durationP90": 4.0,
    }
    assert (whole["limit"], whole["executionCount"]) == (200, 5)
    assert [run["executionId"] for run in newest["executions"]] == ids[-2:]
    assert (newest["summary"]["runs"], newest["executionCount"]) == (2, 5)
    with pytest.raises(NotFound):
        queries.job_history(TASK, "0b6c1a52-0000-4000-8000-000000000000", 200, URLS)
