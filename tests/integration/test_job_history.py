"""GET /tasks/<t>/jobs/<j>/history/ on the session's local stack: the newest runs in compact form,
oldest first, with their summary; what it reads of DynamoDB stays within ``limit`` however long
the job's history is."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.adapters import execution_repository
from chalicelib.adapters.aws import connection
from chalicelib.adapters.models import ExecutionModel
from chalicelib.domain.clock import utcnow
from chalicelib.domain.payload import parse_job
from chalicelib.services.executions import new_execution
from chalicelib.settings import get_settings
from infra.local.harness import StackProcess
from tests.conftest import TEST_IMAGE, Api
from tests.integration.stored_runs import store_finished_runs, stored_duration, stored_status

FIELDS = {"executionId", "status", "createdAt", "startedAt", "finishedAt", "durationSeconds", "exitCode"}


def nearest_rank(values: list[float], q: int) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered) / 100)) - 1]


def history(api: Api, task_id: str, job_id: str, query: str = "", form: str = "jobs") -> dict[str, Any]:
    response = api.get(f"/tasks/{task_id}/{form}/{job_id}/history/{query}")
    assert response.status_code == 200, response.text
    return response.json()


def test_the_newest_runs_oldest_first_each_in_compact_form_with_their_summary(
    stack: StackProcess, api: Api, task_id: str
) -> None:
    job_id, runs = store_finished_runs(task_id, 30)

    whole = history(api, task_id, job_id)

    assert (whole["taskId"], whole["jobId"], whole["limit"], whole["executionCount"]) == (task_id, job_id, 200, 30)
    assert [run["executionId"] for run in whole["executions"]] == [run.execution_id for run in runs]
    assert all(set(run) == FIELDS for run in whole["executions"])
    first = whole["executions"][0]
    assert (first["status"], first["exitCode"], first["durationSeconds"]) == ("done", 0, stored_duration(0))
    assert whole["executions"][3]["status"] == "failed" and whole["executions"][3]["exitCode"] == 1
    durations = [stored_duration(n) for n in range(30)]
    assert whole["summary"] == {
        "runs": 30,
        "byStatus": {"done": sum(stored_status(n) == "done" for n in range(30)), "failed": 30 // 4},
        "timed": 30,
        "durationP50": nearest_rank(durations, 50),
        "durationP90": nearest_rank(durations, 90),
    }
    assert whole["job"]["url"] == f"{api.base_url}/tasks/{task_id}/jobs/{job_id}"

    # ?limit= keeps the newest that many, still oldest first, and the summary is theirs.
    newest = history(api, task_id, job_id, "?limit=10")
    assert [run["executionId"] for run in newest["executions"]] == [run.execution_id for run in runs[-10:]]
    assert (newest["limit"], newest["executionCount"], newest["summary"]["runs"]) == (10, 30, 10)
    assert newest["summary"]["byStatus"] == {
        "done": sum(stored_status(n) == "done" for n in range(20, 30)),
        "failed": sum(stored_status(n) == "failed" for n in range(20, 30)),
    }
    # The older singular form answers the same.
    assert history(api, task_id, job_id, "?limit=10", form="job") == newest


def test_a_real_run_is_in_its_jobs_history_as_the_runner_stored_it(api: Api, task_id: str) -> None:
    enqueued = api.enqueue(task_id, "sh -c 'echo hi; exit 4'")
    execution = api.wait_finished(enqueued["executionUrl"])

    answer = history(api, task_id, enqueued["jobId"])

    (run,) = answer["executions"]
    assert {key: run[key] for key in FIELDS - {"durationSeconds"}} == {
        key: execution[key] for key in FIELDS - {"durationSeconds"}
    }
    assert (run["status"], run["exitCode"]) == ("failed", 4)
    assert run["durationSeconds"] is not None and 0 <= run["durationSeconds"] < 30
    assert answer["summary"]["durationP50"] == answer["summary"]["durationP90"] == run["durationSeconds"]


def test_runs_of_a_job_of_the_same_id_in_another_task_are_not_in_its_history(
    api: Api, task_id: str, queries_read: list[dict[str, Any]]
) -> None:
    job_id, runs = store_finished_runs(task_id, 5)
    # The same job id in another task (a PUT may name any id): its runs share the partition and,
    # made later, come first in it.
    _, others = store_finished_runs(f"{task_id}-other", 3, job_id=job_id)

    assert [run["executionId"] for run in history(api, task_id, job_id)["executions"]] == [
        run.execution_id for run in runs
    ]
    assert [run["executionId"] for run in history(api, f"{task_id}-other", job_id)["executions"]] == [
        run.execution_id for run in others
    ]
    found = execution_repository.execution_history(task_id, job_id, 4)
    assert [item.execution_id for item in found] == [run.execution_id for run in reversed(runs[-4:])]
    # A page of 4 (the other task's 3 left out), then one of the 3 runs still missing.
    assert [(read["scanned"], read["count"]) for read in queries_read] == [(4, 4), (3, 3)]


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1.5", "+5", " 5", "1001", "99999999999999999999"])
def test_a_bad_limit_is_a_400_naming_the_field(api: Api, task_id: str, limit: str) -> None:
    job_id, _ = store_finished_runs(task_id, 1)

    response = api.get(f"/tasks/{task_id}/jobs/{job_id}/history/", params={"limit": limit})

    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["field"] == "limit" and f"1 to {get_settings().history_max_limit}" in body["error"]


def test_an_unknown_job_or_task_is_a_404(api: Api, task_id: str) -> None:
    store_finished_runs(task_id, 1)
    unknown = str(uuid.uuid4())

    missing_job = api.get(f"/tasks/{task_id}/jobs/{unknown}/history/")
    missing_task = api.get(f"/tasks/no-such-task-{uuid.uuid4().hex[:8]}/jobs/{unknown}/history/")

    assert missing_job.status_code == 404 and "does not exist in task" in missing_job.json()["error"]
    assert missing_task.status_code == 404 and missing_task.json()["error"].startswith("task ")


@pytest.fixture
def queries_read() -> Iterator[list[dict[str, Any]]]:
    """Each DynamoDB Query this process makes: (items read, items returned) as DynamoDB counts them."""
    seen: list[dict[str, Any]] = []

    def record(parsed: dict[str, Any], **_: Any) -> None:
        seen.append({"scanned": parsed.get("ScannedCount"), "count": parsed.get("Count")})

    events = connection().client.meta.events
    events.register("after-call.dynamodb.Query", record, unique_id="history-test")
    yield seen
    events.unregister("after-call.dynamodb.Query", unique_id="history-test")


def test_the_read_stays_within_the_limit_however_long_the_history(
    stack: StackProcess, task_id: str, queries_read: list[dict[str, Any]]
) -> None:
    job_id, runs = store_finished_runs(task_id, 600)
    # A run made ahead of its instant (the newest id): not a run yet, so not in the history.
    spec = parse_job({"image": TEST_IMAGE, "command": "true"})
    ahead = new_execution(task_id, job_id, spec, utcnow(), scheduled_for=utcnow() + timedelta(hours=1), ahead=True)
    ahead.save()
    try:
        found = execution_repository.execution_history(task_id, job_id, 50)
    finally:
        ExecutionModel(job_id, ahead.execution_id).delete()

    assert [item.execution_id for item in found] == [run.execution_id for run in reversed(runs[-50:])]
    # One page of 50 (the scheduled run among them, left out), then one of the one run missing:
    # 51 items read of the 601 stored.
    assert [(read["scanned"], read["count"]) for read in queries_read] == [(50, 50), (1, 1)]
    # Only the answer's attributes came back (the projection), not the runs' whole items.
    assert found[0].image is None and found[0].command is None and found[0].status == stored_status(599)
