"""Schedule skew: container start (Docker's 'start' event) minus the run's due instant.

Runs, on a fresh local stack: ≥ 30 ``startIn`` jobs, ≥ 30 ``startAt`` jobs (due instants spread
over 30 s: two a second) and ≥ 3 ticks of a ``* * * * *`` cron, and prints p50/p99/max per group against the target
p99 ≤ 1 s. The due instant is the execution's ``scheduledFor``. Baseline: how late a plain
``time.sleep`` in this process wakes for the same instants (the machine's own jitter).
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from typing import Any

import docker
import requests

from bench.figures import IMAGE, RESULTS, iso_seconds, percentile
from infra.local.harness import StackProcess


class StartEvents:
    """Docker 'start' events of Slipway containers, by execution id."""

    def __init__(self) -> None:
        self.starts: dict[str, float] = {}
        self._client = docker.from_env()
        self._stream = self._client.events(decode=True, filters={"event": "start", "label": "slipway.execution"})
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for event in self._stream:
            execution = event.get("Actor", {}).get("Attributes", {}).get("slipway.execution")
            if execution:
                self.starts[execution] = event["timeNano"] / 1e9

    def close(self) -> None:
        self._stream.close()


def _sleep_jitter(dues: list[float]) -> list[float]:
    lateness: list[float] = []
    for due in sorted(dues):
        time.sleep(max(0.0, due - time.time()))
        lateness.append(time.time() - due)
    return lateness


def run(jobs: int, cron_ticks: int, spread: float, concurrency: int) -> dict[str, Any]:
    env = {"SLIPWAY_RUNNER_CONCURRENCY": str(concurrency)}
    with StackProcess(log_path=RESULTS / "schedule_skew_stack.log", extra_env=env) as stack:
        events = StartEvents()
        session = requests.Session()
        post = f"{stack.base_url}/tasks/skew/"
        cron_job = session.post(post, json={"image": IMAGE, "command": "true", "cron": "* * * * *"}).json()
        job_urls: dict[str, list[str]] = {"startIn": [], "startAt": []}
        dues: list[float] = []
        # Due instants spread over `spread` seconds: startIn ones at fractional instants, startAt
        # ones on whole seconds. A runner's slots are the capacity; the spread keeps the load
        # under it, so what is measured is timing precision, not queueing (bench/ has a
        # throughput benchmark for that).
        start = time.time()
        for n in range(jobs):
            wait = max(1, round(2 + n * spread / jobs - (time.time() - start)))
            dues.append(time.time() + wait)
            body = session.post(post, json={"image": IMAGE, "command": "true", "startIn": f"{wait}s"}).json()
            job_urls["startIn"].append(body["jobUrl"])
            at = int(start) + 3 + round(n * spread / jobs)
            body = session.post(post, json={"image": IMAGE, "command": "true", "startAt": at}).json()
            job_urls["startAt"].append(body["jobUrl"])
            dues.append(at)
        baseline = _sleep_jitter([due for due in dues if due > time.time()])
        deadline = time.time() + 60 * (cron_ticks + 1) + 10
        cron_runs: list[dict[str, Any]] = []
        while time.time() < deadline:
            runs = session.get(cron_job["jobUrl"]).json()["job"]["executions"]
            cron_runs = [r for r in runs if r["status"] == "done"]
            if len(cron_runs) >= cron_ticks:
                break
            time.sleep(1)
        session.post(cron_job["jobUrl"] + "/stop/")
        skews: dict[str, list[float]] = {"startIn": [], "startAt": [], "cron": []}
        for group, urls in job_urls.items():
            for url in urls:
                for execution in session.get(url).json()["job"]["executions"]:
                    started = events.starts.get(execution["executionId"])
                    if started is not None and execution["scheduledFor"]:
                        skews[group].append(started - iso_seconds(execution["scheduledFor"]))
        for execution in cron_runs:
            started = events.starts.get(execution["executionId"])
            if started is not None:
                skews["cron"].append(started - iso_seconds(execution["scheduledFor"]))
        events.close()
    skews["all"] = skews["startIn"] + skews["startAt"] + skews["cron"]
    return {"skew_seconds": skews, "sleep_baseline_seconds": baseline}


def report(results: dict[str, Any]) -> None:
    print("Slipway schedule skew — container start ('start' event) − due instant (scheduledFor)")
    print(f"  {'group':<10}{'n':>5}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'min ms':>10}")
    rows = {**results["skew_seconds"], "sleep()": results["sleep_baseline_seconds"]}
    for group, values in rows.items():
        if not values:
            print(f"  {group:<10}{0:>5}   (no sample)")
            continue
        p50, p99 = statistics.median(values) * 1000, percentile(values, 99) * 1000
        high, low = max(values) * 1000, min(values) * 1000
        print(f"  {group:<10}{len(values):>5}{p50:>10.1f}{p99:>10.1f}{high:>10.1f}{low:>10.1f}")
    overall = results["skew_seconds"]["all"]
    p99 = percentile(overall, 99) if overall else float("inf")
    print(f"Target p99 ≤ 1000 ms: {p99 * 1000:.1f} ms {'PASS' if p99 <= 1.0 else 'MISS'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=30, help="startIn jobs and startAt jobs (each)")
    parser.add_argument("--cron-ticks", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4, help="the runner's slots (SLIPWAY_RUNNER_CONCURRENCY)")
    parser.add_argument("--spread", type=float, default=30.0, help="seconds over which the due instants are spread")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    results = run(args.jobs, args.cron_ticks, args.spread, args.concurrency)
    (RESULTS / "schedule_skew.json").write_text(json.dumps(results, indent=2))
    report(results)


if __name__ == "__main__":
    main()
