"""Cron ticks in real time on the session stack: two minute ticks, each started within a second,
then a stop that ends the schedule. Apart from test_scheduling.py because it waits minutes: as a
file of its own it starts early on a test worker instead of ending the run alone."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import pytest

from tests.conftest import Api, parse_iso


@pytest.mark.slow
def test_cron_ticks_run_every_minute_and_stop_job_ends_them(api: Api, task_id: str) -> None:
    body = api.enqueue(task_id, "sleep 100", cron="* * * * *")
    assert body["executionId"] is None

    def running(b: dict) -> list[dict]:
        return [e for e in b["job"]["executions"] if e["status"] == "running"]

    job = api.wait_for(body["jobUrl"], lambda b: len(running(b)) == 2, timeout=150, interval=0.5)["job"]

    # The dispatcher works ahead: the next tick's execution may already wait, enqueued.
    assert {e["status"] for e in job["executions"]} <= {"running", "enqueued"}
    started = running({"job": job})
    ticks = sorted(parse_iso(e["scheduledFor"]) for e in started)
    assert all(t.second == 0 and t.microsecond == 0 for t in ticks)
    assert (ticks[1] - ticks[0]).total_seconds() == 60
    for execution in started:
        skew = parse_iso(execution["startedAt"]) - parse_iso(execution["scheduledFor"])
        assert 0 <= skew.total_seconds() <= 1.0
    assert job["scheduled"] is True and parse_iso(job["nextRunAt"]) > ticks[1]

    api.post(body["jobUrl"] + "/stop/")
    stopped = api.wait_for(
        body["jobUrl"], lambda b: all(e["status"] == "stopped" for e in b["job"]["executions"]), timeout=5
    )["job"]
    assert stopped["scheduled"] is False and stopped["nextRunAt"] is None
    count = len(stopped["executions"])
    next_minute = math.ceil(time.time() / 60) * 60
    time.sleep(max(0.0, next_minute - time.time()) + 2)
    assert datetime.now(UTC).timestamp() > next_minute
    after = api.get(body["jobUrl"]).json()["job"]["executions"]
    assert len(after) == count and all(e["status"] == "stopped" for e in after)
