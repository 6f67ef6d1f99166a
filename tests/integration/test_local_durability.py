"""The embedded stack keeps its data across a stop and a start (``bin/serve`` with ``--data-dir``).

A stack of its own, with a data folder: tasks, jobs, executions, their logs, a queued (delayed)
message and a cron schedule stored before a SIGTERM are all there after the next start, the
delayed job runs, and the cron job goes on ticking. ``--fresh`` then starts empty.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.harness import StackProcess
from tests.conftest import LOG_DIR, TEST_IMAGE, Api, parse_iso

FINISHED = {"done", "failed", "timedout", "stopped", "expired"}


@pytest.fixture(scope="module")
def durable_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    data_dir: Path = tmp_path_factory.mktemp("slipway-data")
    stack = StackProcess(data_dir=data_dir, log_path=LOG_DIR / "durable-stack.log")
    stack.start()
    yield stack
    stack.stop()


def _restart(stack: StackProcess, *extra: str) -> None:
    stack.stop()
    assert stack.process is not None and stack.process.returncode == 0, "the stack did not stop cleanly"
    stack.start(extra_args=list(extra))


def _executions(api: Api, job_url: str) -> list[dict]:
    response = api.get(job_url)
    assert response.status_code == 200, response.text
    return response.json()["job"]["executions"]


@pytest.mark.slow
def test_a_stop_and_start_keeps_every_task_job_execution_log_message_and_schedule(
    durable_stack: StackProcess, task_id: str
) -> None:
    api = Api(durable_stack.base_url)
    # GIVEN a finished run with output, a job waiting in SQS (DelaySeconds) and a cron job
    ran = api.enqueue(task_id, "bash -c 'echo kept-out; echo kept-err >&2; exit 3'")
    finished = api.wait_finished(ran["executionUrl"])
    assert finished["status"] == "failed" and finished["exitCode"] == 3
    delayed = api.enqueue(task_id, "echo after-restart", startIn="25s")
    assert delayed["executionId"] is None
    # Its execution is made (``scheduled``, its message delayed in SQS) but not a run yet (looked at
    # at once: the cron's first run below can take a minute to be listed, past this one's instant).
    waiting = api.get(delayed["jobUrl"]).json()["job"]
    assert waiting["executions"] == [] and waiting["scheduled"] is True and waiting["nextRunAt"]
    cron = api.enqueue(f"{task_id}-cron", "echo tick", cron="* * * * *")
    # The cron job's first execution is listed once a runner claimed it at its instant.
    api.wait_for(cron["jobUrl"], lambda b: len(b["job"]["executions"]) >= 1, timeout=90, interval=0.5)
    tasks_before = api.get("/tasks/").json()["total"]

    # WHEN the whole stack is stopped (SIGTERM, as Ctrl-C) and started again on the same data
    _restart(durable_stack)
    api = Api(durable_stack.base_url)

    # THEN what was stored is all there
    assert api.get("/tasks/").json()["total"] == tasks_before
    again = api.get(ran["executionUrl"]).json()["execution"]
    assert again["status"] == "failed" and again["exitCode"] == 3
    assert api.get(ran["executionUrl"] + "stdout/").text == "kept-out\n"
    assert api.get(ran["executionUrl"] + "stderr/").text == "kept-err\n"
    assert api.get(f"/search/?query={task_id.split('-')[0]}").json()["total"] >= 1
    # the delayed message survived in the queue and runs at its time
    done = api.wait_for(
        delayed["jobUrl"],
        lambda b: b["job"]["executions"] and b["job"]["executions"][0]["status"] in FINISHED,
        timeout=60,
        interval=0.5,
    )["job"]["executions"][0]
    assert done["status"] == "done" and done["log"] == "after-restart\n"
    # and the cron job goes on ticking after the restart
    restarted_at = time.time()
    ticked = api.wait_for(
        cron["jobUrl"],
        lambda b: any(
            e["status"] == "done" and e["startedAt"] and _epoch(e["startedAt"]) > restarted_at
            for e in b["job"]["executions"]
        ),
        timeout=90,
        interval=0.5,
    )["job"]
    assert ticked["scheduled"] is True
    api.post(cron["jobUrl"] + "/stop/")


def test_fresh_starts_empty(durable_stack: StackProcess, task_id: str) -> None:
    api = Api(durable_stack.base_url)
    response = api.post(f"/tasks/{task_id}/", json={"image": TEST_IMAGE, "command": "true", "startIn": "1h"})
    assert response.status_code == 200
    assert api.get("/tasks/").json()["total"] >= 1

    _restart(durable_stack, "--fresh")

    api = Api(durable_stack.base_url)
    assert api.get("/tasks/").json()["total"] == 0
    assert api.get(response.json()["jobUrl"]).status_code == 404


def _epoch(text: str) -> float:
    return parse_iso(text).timestamp()
