"""Does a job's history (``GET /tasks/<t>/jobs/<j>/history/``) cost the same whatever the length
of the job's history? It should: one Query of the newest ``limit`` runs, never the whole history.

``python -m bench.job_history [--many 5000] [--samples 100]`` starts a local stack of its own (no
runner) and writes three jobs straight into its tables with the service's models, each run
finished as a runner leaves it (status, timestamps, exit code, a line of stdout inline):

- **few**: 10 runs (the answer is smaller: 10 runs, not 200);
- **limit**: exactly the route's default limit (200) of runs: the answer of the many job;
- **many**: ``--many`` runs (5,000 by default).

Then it times the route's round trips (client wall clock, keep-alive session) on the three jobs
in turn, the order rotated each round, with the default limit, and prints p50/p90 of each and
the ratio many / limit. In the same rounds it times the job details of the limit and many jobs
and the bare Query the route makes (boto3, in this process), because the emulator's Query costs
more on a bigger partition whatever it returns (it evaluates and sorts the whole partition
before it applies ``Limit``; DynamoDB reads only the items it returns): the route's time less
its Query's is what the route itself adds.

It also reads each job's history once in this process through
``execution_repository.execution_history``, the function the route calls, counting what
DynamoDB reports for each Query (``ScannedCount``: the items read and billed; ``Count``: those
returned): for the many job that must be the limit, not its thousands.

Targets (the exit status): items read for the many job ≤ the limit, and the route's time less
its Query's, many / limit, ≤ 1.2. Figures are written to ``bench/results/job_history.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from bench.figures import IMAGE, RESULTS, percentile
from infra.local.harness import ROOT, StackProcess

TARGET_RATIO = 1.2
FEW = 10
LOG_DIR = ROOT / ".local" / "bench-logs"


def store_job(task_id: str, runs: int) -> str:
    """A job with ``runs`` finished runs, a minute apart, counted on the job; its id."""
    from chalicelib.adapters import job_repository
    from chalicelib.adapters.models import ExecutionModel, JobModel
    from chalicelib.domain.ids import new_execution_id, new_job_id
    from chalicelib.domain.payload import parse_job
    from chalicelib.services.executions import new_execution

    spec = parse_job({"image": IMAGE, "command": "echo history"})
    job_id = new_job_id()
    began = datetime.now(UTC) - timedelta(minutes=runs + 60)
    job_repository.save_job(task_id, job_id, spec.to_dict(), began, None, new_job=True)
    items = []
    for n in range(runs):
        created = began + timedelta(minutes=n)
        execution = new_execution(
            task_id, job_id, spec, created, execution_id=new_execution_id(int(created.timestamp() * 1000))
        )
        failed = n % 10 == 9
        execution.status = "failed" if failed else "done"
        execution.awaiting_shard = None
        execution.dispatch_at = None
        execution.started_at = created + timedelta(seconds=0.4)
        execution.finished_at = execution.started_at + timedelta(seconds=0.2 + (n % 13) * 0.3)
        execution.exit_code = 1 if failed else 0
        execution.host = "bench"
        execution.log = f"history run {n}\n"
        items.append(execution)

    def write(chunk: Sequence[Any]) -> None:
        with ExecutionModel.batch_write() as batch:
            for item in chunk:
                batch.save(item)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, [items[i : i + 500] for i in range(0, len(items), 500)]))
    JobModel(task_id, job_id).update(
        actions=[JobModel.execution_count.add(runs), JobModel.last_execution_id.set(items[-1].execution_id)]
    )
    return job_id


def reads_of(task_id: str, job_id: str, limit: int) -> dict[str, int]:
    """What DynamoDB reports for the history read of one job: Queries, items read, items returned."""
    from chalicelib.adapters import execution_repository
    from chalicelib.adapters.aws import connection

    seen: list[dict[str, Any]] = []

    def record(parsed: dict[str, Any], **_: Any) -> None:
        seen.append(parsed)

    events = connection().client.meta.events
    events.register("after-call.dynamodb.Query", record, unique_id="bench-history")
    try:
        found = execution_repository.execution_history(task_id, job_id, limit)
    finally:
        events.unregister("after-call.dynamodb.Query", unique_id="bench-history")
    return {
        "queries": len(seen),
        "items_read": sum(int(page.get("ScannedCount", 0)) for page in seen),
        "items_returned": sum(int(page.get("Count", 0)) for page in seen),
        "runs": len(found),
    }


def bare_query(job_id: str, limit: int) -> float:
    """Milliseconds of the bare DynamoDB Query the route makes (boto3: same key, order, Limit and
    projection): the emulator's own part of the route's time."""
    from chalicelib.adapters.aws import client
    from chalicelib.adapters.execution_repository import HISTORY_ATTRIBUTES
    from chalicelib.settings import get_settings

    names = {f"#a{i}": name for i, name in enumerate(HISTORY_ATTRIBUTES)}
    start = time.perf_counter()
    client("dynamodb").query(
        TableName=get_settings().executions_table,
        KeyConditionExpression="job_id = :job",
        ExpressionAttributeValues={":job": {"S": job_id}},
        ScanIndexForward=False,
        Limit=limit,
        ProjectionExpression=", ".join(names),
        ExpressionAttributeNames=names,
    )
    return (time.perf_counter() - start) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--many", type=int, default=5000, help="runs of the long job")
    parser.add_argument("--samples", type=int, default=100, help="timed requests per job")
    parser.add_argument("--warm-up", type=int, default=10)
    args = parser.parse_args(argv)

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    stack = StackProcess(runners=0, log_path=LOG_DIR / "job_history-stack.log")
    os.environ.update(stack.client_env())
    with stack:
        from chalicelib.settings import get_settings

        limit = get_settings().history_default_limit
        task_id = "bench-history"
        sizes = {"few": FEW, "limit": limit, "many": args.many}
        began = time.perf_counter()
        jobs = {name: store_job(task_id, runs) for name, runs in sizes.items()}
        print(f"stored {sum(sizes.values())} runs over {len(jobs)} jobs in {time.perf_counter() - began:.1f} s")

        session = requests.Session()

        def get(name: str) -> float:
            url = f"{stack.base_url}/tasks/{task_id}/jobs/{jobs[name]}/history/"
            start = time.perf_counter()
            response = session.get(url, timeout=60)
            elapsed = (time.perf_counter() - start) * 1000
            if response.status_code != 200:
                raise AssertionError(f"GET {url}: {response.status_code} {response.text[:300]}")
            answer = response.json()
            expected = min(sizes[name], limit)
            if len(answer["executions"]) != expected or answer["executionCount"] != sizes[name]:
                raise AssertionError(f"{name}: {len(answer['executions'])} runs of {answer['executionCount']}")
            return elapsed

        def get_details(name: str) -> float:
            url = f"{stack.base_url}/tasks/{task_id}/jobs/{jobs[name]}/"
            start = time.perf_counter()
            response = session.get(url, timeout=60)
            elapsed = (time.perf_counter() - start) * 1000
            if response.status_code != 200:
                raise AssertionError(f"GET {url}: {response.status_code} {response.text[:300]}")
            return elapsed

        names = list(sizes)
        for _ in range(args.warm_up):
            for name in names:
                get(name)
        times: dict[str, list[float]] = {name: [] for name in names}
        # The job details of the same jobs, for reference: a Query of 20 runs of the same partition.
        details: dict[str, list[float]] = {name: [] for name in ("limit", "many")}
        bare: dict[str, list[float]] = {name: [] for name in ("limit", "many")}
        for round_number in range(args.samples):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                times[name].append(get(name))
            for name in ("limit", "many") if round_number % 2 else ("many", "limit"):
                details[name].append(get_details(name))
                bare[name].append(bare_query(jobs[name], limit))
        reads = {name: reads_of(task_id, jobs[name], limit) for name in names}
        emulator = {name: round(percentile(values, 50), 2) for name, values in bare.items()}

    figures = {
        name: {
            "runs_stored": sizes[name],
            "p50_ms": round(percentile(times[name], 50), 2),
            "p90_ms": round(percentile(times[name], 90), 2),
            **reads[name],
        }
        for name in names
    }
    ratio = figures["many"]["p50_ms"] / figures["limit"]["p50_ms"]
    print(f"\nGET …/history/ (limit {limit}), {args.samples} samples each:")
    print("| job | runs stored | p50 | p90 | Queries | items read | items returned |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, row in figures.items():
        print(
            f"| {name} | {row['runs_stored']:,} | {row['p50_ms']:.1f} ms | {row['p90_ms']:.1f} ms | "
            f"{row['queries']} | {row['items_read']} | {row['items_returned']} |"
        )
    flat_reads = figures["many"]["items_read"] <= limit
    print(f"\nratio many / limit p50: {ratio:.2f} (the emulator's Query included)")
    reference = {name: round(percentile(values, 50), 2) for name, values in details.items()}
    print(
        f"for reference, job details (20 runs of the same partitions) p50: limit {reference['limit']:.1f} ms, "
        f"many {reference['many']:.1f} ms, ratio {reference['many'] / reference['limit']:.2f}"
    )
    # The emulator evaluates and sorts a whole partition before it applies Limit (DynamoDB reads
    # only the items it returns): what is left of the route's time once its Query is taken out.
    own = {name: figures[name]["p50_ms"] - emulator[name] for name in ("limit", "many")}
    print(
        f"the bare Query in the emulator p50: limit {emulator['limit']:.1f} ms, many {emulator['many']:.1f} ms; "
        f"the route without it: limit {own['limit']:.1f} ms, many {own['many']:.1f} ms, "
        f"ratio {own['many'] / own['limit']:.2f} (target ≤ {TARGET_RATIO}): "
        f"{'met' if own['many'] / own['limit'] <= TARGET_RATIO else 'MISSED'}"
    )
    print(f"items read for {args.many:,} runs stored: {figures['many']['items_read']} (≤ {limit}): {flat_reads}")

    RESULTS.mkdir(exist_ok=True)
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "limit": limit,
        "samples": args.samples,
        "jobs": figures,
        "ratio_many_over_limit_p50": round(ratio, 3),
        "job_details_p50_ms": reference,
        "emulator_query_p50_ms": emulator,
        "route_without_its_query_p50_ms": {name: round(value, 2) for name, value in own.items()},
        "target_ratio": TARGET_RATIO,
    }
    (RESULTS / "job_history.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0 if own["many"] / own["limit"] <= TARGET_RATIO and flat_reads else 1


if __name__ == "__main__":
    raise SystemExit(main())
