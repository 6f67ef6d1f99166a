"""GET /metrics on the real local stack: Prometheus' own parser reads it, and its counters move
when jobs run (the runner records them in its own process, the API reads their stored totals)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Api


def scrape(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        assert family.type in {"counter", "gauge", "summary"}, family.name
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def scrape_until(api: Api, ready: Callable[[dict[Any, float]], bool], timeout: float = 10.0) -> dict[Any, float]:
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(api)
        if ready(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


def moved(before: dict[Any, float], after: dict[Any, float], name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after[key] - before.get(key, 0.0)


def test_metrics_parse_and_their_counters_move_after_jobs_run(api: Api, task_id: str) -> None:
    before = scrape(api)
    ok = api.enqueue(task_id, "echo fine")
    failing = api.enqueue(task_id, "sh -c 'exit 4'")
    missing = api.enqueue(task_id, "true", image="slipway-test/no-such-image:latest")
    for enqueued in (ok, failing, missing):
        api.wait_finished(enqueued["executionUrl"], timeout=60)
    # The runner adds to the stored totals every half second.
    after = scrape_until(api, lambda now: moved(before, now, "slipway_executions_finished_total", status="failed") >= 2)

    assert moved(before, after, "slipway_executions_started_total") >= 2
    assert moved(before, after, "slipway_executions_finished_total", status="done") >= 1
    assert moved(before, after, "slipway_executions_finished_total", status="failed") >= 2
    # The missing image failed the run, not the job's own command.
    assert moved(before, after, "slipway_executions_failed_by_infrastructure_total") >= 1
    assert moved(before, after, "slipway_dispatch_delay_seconds_count") >= 2
    assert moved(before, after, "slipway_dispatch_delay_seconds_sum") > 0
    assert moved(before, after, "slipway_queue_age_seconds_count") >= 3
    assert after["slipway_tasks", ()] >= 1 and after["slipway_jobs", ()] >= 1
    assert after["slipway_queue_messages", (("pool", "default"), ("queue", "jobs"))] >= 0


def test_the_runners_slots_in_use_is_a_gauge_of_its_running_containers(api: Api, task_id: str) -> None:
    enqueued = api.enqueue(task_id, "sleep 30")
    api.wait_for(enqueued["executionUrl"], lambda b: b["execution"]["status"] == "running", timeout=60)
    (host,) = [h for h in api.get("/status/").json()["hosts"] if h["alive"]]
    labels = (("host", host["id"]), ("pool", host["pool"]))

    # The host item carries its running containers from its next heartbeat on.
    api.wait_for("/status/", lambda b: any(h["running"] >= 1 for h in b["hosts"]), timeout=10)
    assert scrape(api)["slipway_runner_slots_in_use", labels] >= 1
    assert scrape(api)["slipway_host_available", labels] == 1

    api.post(f"{enqueued['executionUrl']}stop/")
    api.wait_finished(enqueued["executionUrl"])
    api.wait_for("/status/", lambda b: all(h["running"] == 0 for h in b["hosts"]), timeout=10)
    assert scrape(api)["slipway_runner_slots_in_use", labels] == 0
