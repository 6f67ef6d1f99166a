"""Does Slipway cost the same on a full database as on an empty one, and how fast does it take a burst?

``python -m bench.data_scaling [--executions N] [--jobs N] [--tasks N] [--sustained N] [--burst N] [--quick]``
starts two local stacks in one run (``StackProcess``: the emulator, the API, one runner each, on
free ports and stages of their own):

- **empty**: only a probe, made through the API: ``PROBE_TASKS`` tasks ``probe-<k>``, each with
  one job, and the first job run ``PROBE_RUNS`` times (one POST, then retries).
- **loaded**: the same probe, then ``--executions`` finished executions over ``--jobs`` jobs in
  ``--tasks`` tasks, written straight into its tables with the service's own model classes
  (``batch_write``), the S3 objects of their stdout/stderr, the task word index and the task,
  job and execution counters: every item a real run writes, copied from the probe's real items
  so nothing is missed. Loading takes a minute or two (mostly the S3 objects; some 15 s
  without them, ``--no-log-objects``) instead of hours of containers. Before anything
  is measured, loaded jobs, executions, tasks, the search and ``/status/`` are read back through
  the API and checked (status 200, counts, same JSON shape as the probe's real runs).

Then, on both stacks, requests alternate (empty, loaded / loaded, empty) and their round trips
are timed (client wall clock, keep-alive session):

1. **Flat cost with data**: p50 and p90 of ``POST /tasks/<t>/`` (an enqueue of ``true`` in an
   existing task; each pair waits for both runs to end before the next), job details, execution
   details, ``GET /tasks/``, ``GET /search/?query=<word>`` and ``GET /status/``; target: loaded
   p50 / empty p50 ≤ 1.2 on each route. The loaded side reads random loaded jobs and executions
   (ten executions each, as the probe job); the empty side reads the probe's.
2. **Throughput** (loaded stack), in two phases of POSTs from 20 client threads to loaded tasks,
   each followed by the wait until all its executions are final:

   (2a) ``--sustained`` POSTs with the stack's runner paused (SIGSTOP, then SIGCONT) while they
        are sent: the enqueue rate of the API and its emulator alone, as in a deployment whose
        runners are other hosts (target ≥ 50/s); then the runner drains the queue it finds.
   (2b) ``--burst`` POSTs with the runner running: the enqueue rate while the runner starts the
        containers on the same machine, and the drain rate.

   For each: the drain rate (executions / (last ``finishedAt`` − first ``startedAt``)), none
   lost (every POST answered 200 and every execution reached a final status), and the drain
   rate against raw Docker (docker SDK create+start+wait+remove of ``true``, same image) at the
   runner's concurrency (``settings.runner_concurrency``), measured before, between and after.

Where time goes: each route is also run in a helper process per stack (``--agent``) through the
same Chalice gateway the local server uses, with every botocore call timed (operation, table,
index, items returned, and for a Query the size of the partition it reads); the CPU used by each
process of the loaded stack is read from ``/proc`` during (2). The calls are printed for every
route, flagged where a figure misses.
Figures are written to ``bench/results/data_scaling.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import docker
import requests

from bench.figures import IMAGE, RESULTS, iso_seconds, parse_env, percentile
from infra.local.harness import ROOT, StackProcess

FINISHED = frozenset({"done", "failed", "timedout", "stopped", "expired"})
PROBE_TASKS = 10
PROBE_RUNS = 10
PROBE_COMMAND = "echo slipway data-scaling probe"
PROBE_WORD = "probe"
ENQUEUE_COMMAND = "true"
CLIENT_THREADS = 20
TARGET_RATIO = 1.2
TARGET_ENQUEUES_PER_S = 50.0
# bench.runner_throughput's target for the runner against a raw Docker loop.
REFERENCE_DRAIN_RATIO = 0.9
LOG_DIR = ROOT / ".local" / "bench-logs"
# Words of the loaded task ids, ``<team>-<app>-<n>``: a team's or an app's word is in a tenth of them.
TEAMS = ("payments", "search", "billing", "ingest", "mobile", "growth", "identity", "reports", "platform", "ml")
APPS = ("api", "worker", "etl", "cron", "sync", "backfill", "export", "audit", "index", "cleanup")
# One in this many loaded executions failed (exit 1, a line on stderr).
FAILED_ONE_IN = 10
FAILED_STDERR = "flaky check failed\n"
HISTORY_DAYS = 30


# -- statistics --------------------------------------------------------------------------------


def p50(values: Sequence[float]) -> float:
    return percentile(list(values), 50) if values else float("nan")


def p90(values: Sequence[float]) -> float:
    return percentile(list(values), 90) if values else float("nan")


# -- the API of one stack ----------------------------------------------------------------------


class Api:
    """A keep-alive session on one stack, timing each round trip."""

    def __init__(self, name: str, stack: StackProcess) -> None:
        self.name = name
        self.stack = stack
        self.base_url = stack.base_url
        self.session = requests.Session()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[float, requests.Response]:
        began = time.perf_counter()
        response = self.session.request(method, self.base_url + path, json=body, timeout=60)
        return (time.perf_counter() - began) * 1000, response

    def get_ok(self, path: str) -> dict[str, Any]:
        _, response = self.call("GET", path)
        if response.status_code != 200:
            raise AssertionError(f"{self.name}: GET {path} answered {response.status_code}: {response.text[:300]}")
        return response.json()

    def post_ok(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        _, response = self.call("POST", path, body)
        if response.status_code != 200:
            raise AssertionError(f"{self.name}: POST {path} answered {response.status_code}: {response.text[:300]}")
        return response.json()

    def wait_finished(self, path: str, timeout: float = 120.0, interval: float = 0.02) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            execution = self.get_ok(path)["execution"]
            if execution["status"] in FINISHED:
                return execution
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: {path} still {execution['status']} after {timeout} s")
            time.sleep(interval)


def path_of(url: str) -> str:
    """The path (and query) of an absolute URL of the API."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def job_path(task_id: str, job_id: str) -> str:
    return f"/tasks/{task_id}/jobs/{job_id}/"


def execution_path(task_id: str, job_id: str, execution_id: str) -> str:
    return f"/tasks/{task_id}/jobs/{job_id}/executions/{execution_id}/"


# -- the probe: what both stacks get through the API -------------------------------------------


@dataclass
class Probe:
    task_ids: list[str]
    job_id: str
    execution_ids: list[str]

    @property
    def task_id(self) -> str:
        return self.task_ids[0]


def make_probe(api: Api) -> Probe:
    """``PROBE_TASKS`` tasks with a job each, the first job run ``PROBE_RUNS`` times; all ended."""
    task_ids = [f"{PROBE_WORD}-{k}" for k in range(PROBE_TASKS)]
    body = {"image": IMAGE, "command": PROBE_COMMAND}
    answers = [api.post_ok(f"/tasks/{task_id}/", body) for task_id in task_ids]
    first = answers[0]
    execution_ids = [first["executionId"]]
    pending = [path_of(answer["executionUrl"]) for answer in answers]
    latest = pending[0]
    for _ in range(PROBE_RUNS - 1):
        # One at a time, so the job's executions end in the order they were made.
        api.wait_finished(latest)
        retried = api.post_ok(f"/tasks/{first['taskId']}/jobs/{first['jobId']}/retry/")
        execution_ids.append(retried["executionId"])
        latest = path_of(retried["executionUrl"])
        pending.append(latest)
    for path in pending:
        execution = api.wait_finished(path)
        if execution["status"] != "done":
            raise AssertionError(f"{api.name}: probe execution {path} ended {execution['status']}")
    return Probe(task_ids, first["jobId"], execution_ids)


# -- the loaded data ---------------------------------------------------------------------------


@dataclass
class Sizes:
    executions: int
    jobs: int
    tasks: int


@dataclass
class LoadedJob:
    task_id: str
    job_id: str
    # (execution id, status, exit code, stdout) oldest first.
    executions: list[tuple[str, str, int, str]] = field(default_factory=list)


@dataclass
class Loaded:
    tasks: list[str]
    jobs: list[LoadedJob]
    items: dict[str, int]
    objects: int
    build_seconds: float
    write_seconds: float
    upload_seconds: float

    def tasks_with_word(self, word: str) -> list[str]:
        return [task for task in self.tasks if word in task.split("-")]

    def common_word(self) -> str:
        """The word (of letters) in the most loaded task ids: what a search would look for."""
        counts = Counter(word for task in self.tasks for word in task.split("-") if word.isalpha())
        return min(counts, key=lambda word: (-counts[word], word))


def split_evenly(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


def loaded_task_id(index: int) -> str:
    return f"{TEAMS[index % len(TEAMS)]}-{APPS[index // len(TEAMS) % len(APPS)]}-{index // (len(TEAMS) * len(APPS))}"


def load(sizes: Sizes, probe: Probe, upload_objects: bool, seed: int = 12) -> Loaded:
    """Write the loaded stack's data with the service's models (this process's environment points
    at the loaded stack). Every attribute a real run leaves is copied from the probe's items."""
    from chalicelib.adapters import counters, log_store
    from chalicelib.adapters.aws import client
    from chalicelib.adapters.models import CounterModel, ExecutionModel, JobModel, TaskModel, TaskWordModel, new_task
    from chalicelib.domain.ids import derived_execution_id, new_job_id
    from chalicelib.domain.payload import parse_job
    from chalicelib.domain.task_words import task_words
    from chalicelib.settings import get_settings

    began = time.perf_counter()
    rng = random.Random(seed)
    # Real items of the probe, as the API and the runner wrote them: the templates.
    template_execution = ExecutionModel.get(probe.job_id, probe.execution_ids[0], consistent_read=True)
    template_job = JobModel.get(probe.task_id, probe.job_id, consistent_read=True)
    if template_execution.status != "done":
        raise AssertionError(f"the probe's execution is {template_execution.status}, not done")
    execution_values = {
        name: value
        for name, value in template_execution.attribute_values.items()
        if name not in ("job_id", "execution_id")
    }
    job_values = {
        name: value for name, value in template_job.attribute_values.items() if name not in ("task_id", "job_id")
    }

    end = datetime.now(UTC) - timedelta(hours=1)
    start = end - timedelta(days=HISTORY_DAYS)
    span = (end - start).total_seconds()
    tasks: list[TaskModel] = []
    words: list[TaskWordModel] = []
    job_items: list[JobModel] = []
    execution_items: list[ExecutionModel] = []
    objects: list[tuple[str, bytes]] = []
    loaded_jobs: list[LoadedJob] = []
    jobs_per_task = split_evenly(sizes.jobs, sizes.tasks)
    runs_per_job = split_evenly(sizes.executions, sizes.jobs)
    job_index = 0
    for task_index, job_count in enumerate(jobs_per_task):
        task_id = loaded_task_id(task_index)
        # Tasks appear over the first half of the history, their jobs after them.
        task_created = start + timedelta(seconds=span / 2 * task_index / sizes.tasks)
        last_job_created = task_created
        for job_number in range(job_count):
            job_id = new_job_id()
            runs = runs_per_job[job_index]
            job_index += 1
            job_created = task_created + timedelta(seconds=60 * (job_number + 1) * rng.uniform(0.5, 1.5))
            last_job_created = job_created
            command = (
                f"sh -c 'echo {task_id} job {job_number}; "
                f"[ $((RANDOM % {FAILED_ONE_IN})) -ne 0 ] || {{ echo flaky check failed >&2; exit 1; }}'"
            )
            spec = parse_job({"image": IMAGE, "command": command}).to_dict()
            loaded_job = LoadedJob(task_id, job_id)
            step = (end - job_created).total_seconds() / max(runs, 1)
            created = job_created
            for run in range(runs):
                if run:
                    created = job_created + timedelta(seconds=step * run + rng.uniform(0, step / 2))
                execution_id = derived_execution_id(job_id, int(created.timestamp() * 1000), "data-scaling")
                started = created + timedelta(seconds=rng.uniform(0.2, 1.5))
                finished = started + timedelta(seconds=rng.uniform(0.1, 5.0))
                failed = rng.randrange(FAILED_ONE_IN) == 0
                stdout = f"{task_id} job {job_number}\n"
                values = dict(execution_values)
                values.update(
                    task_id=task_id,
                    command=command,
                    image=IMAGE,
                    created_at=created,
                    started_at=started,
                    finished_at=finished,
                    heartbeat_at=round(started.timestamp() - 0.05, 3),
                    container_id=secrets.token_hex(32),
                    queue_message_id=str(uuid.uuid4()),
                    status="failed" if failed else "done",
                    exit_code=1 if failed else 0,
                    log=stdout,
                    stdout_bytes=len(stdout.encode()),
                    stdout_key=log_store.object_key(task_id, job_id, execution_id, "stdout"),
                )
                objects.append((values["stdout_key"], stdout.encode()))
                if failed:
                    stderr = FAILED_STDERR
                    values.update(
                        error=stderr,
                        stderr_bytes=len(stderr.encode()),
                        stderr_key=log_store.object_key(task_id, job_id, execution_id, "stderr"),
                    )
                    objects.append((values["stderr_key"], stderr.encode()))
                execution_items.append(ExecutionModel(job_id, execution_id, **values))
                loaded_job.executions.append((execution_id, values["status"], values["exit_code"], stdout))
            values = dict(job_values)
            values.update(
                spec=spec,
                created_at=job_created,
                last_modified_at=created,
                execution_count=runs,
                last_execution_id=loaded_job.executions[-1][0] if runs else None,
            )
            job_items.append(JobModel(task_id, job_id, **values))
            loaded_jobs.append(loaded_job)
        tasks.append(new_task(task_id, task_created, last_job_created, job_count))
        words += [TaskWordModel(word, task_id) for word in task_words(task_id)]
    built = time.perf_counter()

    def write(items: Sequence[Any]) -> None:
        with type(items[0]).batch_write() as batch:
            for item in items:
                batch.save(item)

    chunks = [
        chunk[offset : offset + 500]
        for chunk in (tasks, words, job_items, execution_items)
        for offset in range(0, len(chunk), 500)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, chunks))
    # What save_job's transactions add up to: one task and one job counted per creation.
    CounterModel(counters.TASKS).update(actions=[CounterModel.value.add(len(tasks))])
    CounterModel(counters.JOBS).update(actions=[CounterModel.value.add(len(job_items))])
    written = time.perf_counter()
    if upload_objects:
        s3 = client("s3")
        bucket = get_settings().logs_bucket

        def upload(entry: tuple[str, bytes]) -> None:
            s3.put_object(Bucket=bucket, Key=entry[0], Body=entry[1], ContentType="text/plain; charset=utf-8")

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(upload, objects))
    uploaded = time.perf_counter()
    return Loaded(
        tasks=[task.task_id for task in tasks],
        jobs=loaded_jobs,
        items={
            "tasks": len(tasks),
            "task words": len(words),
            "jobs": len(job_items),
            "executions": len(execution_items),
            "counters": 2,
        },
        objects=len(objects) if upload_objects else 0,
        build_seconds=built - began,
        write_seconds=written - built,
        upload_seconds=uploaded - written,
    )


# -- verification: the loaded stack looks like one where the jobs ran --------------------------


def shape(value: Any) -> Any:
    """The JSON's keys and value types (None kept apart), not its values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None if value is None else type(value).__name__


def verify(api: Api, probe: Probe, loaded: Loaded, sizes: Sizes, rng: random.Random) -> list[str]:
    """Read loaded data back through the API; raise at the first difference. Returns what was checked."""
    checks: list[str] = []
    probe_job = api.get_ok(job_path(probe.task_id, probe.job_id))
    probe_execution = api.get_ok(execution_path(probe.task_id, probe.job_id, probe.execution_ids[0]))
    total_tasks = sizes.tasks + PROBE_TASKS
    total_jobs = sizes.jobs + PROBE_TASKS

    listing = api.get_ok("/tasks/")
    assert listing["total"] == total_tasks, f"GET /tasks/ total {listing['total']}, expected {total_tasks}"
    last = api.get_ok(f"/tasks/?page={listing['pages']}")
    assert last["items"], "the last page of GET /tasks/ is empty"
    oldest = last["items"][-1]["taskId"]
    assert oldest == loaded.tasks[0], f"the oldest task is {oldest}, expected {loaded.tasks[0]}"
    checks.append(f"GET /tasks/: total {listing['total']} over {listing['pages']} pages, oldest {oldest}")

    status = api.get_ok("/status/")
    assert status["tasks"]["count"] == total_tasks, f"/status/ tasks.count {status['tasks']['count']}"
    assert status["jobs"]["count"] == total_jobs, f"/status/ jobs.count {status['jobs']['count']}"
    checks.append(f"GET /status/: tasks.count {total_tasks}, jobs.count {total_jobs}")

    for job in rng.sample(loaded.jobs, min(5, len(loaded.jobs))):
        details = api.get_ok(job_path(job.task_id, job.job_id))["job"]
        runs = len(job.executions)
        shown = min(runs, 20)
        assert details["executionCount"] == runs, f"job {job.job_id}: executionCount {details['executionCount']}"
        assert details["executionsPagination"]["total"] == runs
        listed = [item["executionId"] for item in details["executions"]]
        expected = [execution[0] for execution in reversed(job.executions)][:shown]
        assert listed == expected, f"job {job.job_id}: executions {listed[:3]}…, expected {expected[:3]}…"
        assert all(item["status"] in FINISHED for item in details["executions"])
        assert details["metadata"]["enqueued_id"] == details["executions"][0]["metadata"]["queue_message_id"]
        assert shape(details) == shape(probe_job["job"]), f"job {job.job_id}: JSON shape differs from the probe's"
        execution_id, status_text, exit_code, stdout = rng.choice(job.executions)
        execution = api.get_ok(execution_path(job.task_id, job.job_id, execution_id))
        assert execution["execution"]["status"] == status_text
        assert execution["execution"]["exitCode"] == exit_code
        assert execution["execution"]["log"] == stdout
        assert shape(execution) == shape(probe_execution), f"execution {execution_id}: shape differs from the probe's"
        _, response = api.call("GET", execution_path(job.task_id, job.job_id, execution_id) + "stdout/")
        assert response.status_code == 200 and response.text == stdout, f"stdout of {execution_id}: {response.text!r}"
        task = api.get_ok(f"/tasks/{job.task_id}/")
        count = sum(1 for other in loaded.jobs if other.task_id == job.task_id)
        assert len(task["jobs"]) == count, f"task {job.task_id}: {len(task['jobs'])} jobs, expected {count}"
        checks.append(
            f"job {job.task_id}/{job.job_id[:8]}…: {runs} executions newest first, same JSON shape as the probe's; "
            f"execution {execution_id[:13]}… {status_text} exit {exit_code}, stdout served; task lists {count} jobs"
        )

    failed = [(job, run) for job in loaded.jobs for run in job.executions if run[1] == "failed"]
    if failed:
        job, (execution_id, _, exit_code, _) = rng.choice(failed)
        path = execution_path(job.task_id, job.job_id, execution_id)
        execution = api.get_ok(path)["execution"]
        assert execution["status"] == "failed" and execution["exitCode"] == exit_code
        assert execution["error"] == FAILED_STDERR, f"execution {execution_id}: error {execution['error']!r}"
        _, response = api.call("GET", path + "stderr/")
        assert response.status_code == 200 and response.text == FAILED_STDERR, f"stderr: {response.text!r}"
        checks.append(f"failed execution {execution_id[:13]}…: exit {exit_code}, error and stderr served")

    word = loaded.common_word()
    found = api.get_ok(f"/search/?query={word}")
    expected = loaded.tasks_with_word(word)
    assert found["total"] == len(expected), f"/search/?query={word}: total {found['total']}, expected {len(expected)}"
    assert {item["taskId"] for item in found["items"]} <= set(expected)
    hits = api.get_ok(f"/search/?query={PROBE_WORD}")
    assert hits["total"] == PROBE_TASKS
    checks.append(f"GET /search/?query={word}: {len(expected)} tasks; ?query={PROBE_WORD}: {PROBE_TASKS}")
    return checks


# -- (1) latency on both stacks, interleaved ---------------------------------------------------


class Settler:
    """Waits until the runs that requests made are over (final, and their container removed), so
    no container competes for the CPU with the requests measured next."""

    def __init__(self, apis: dict[str, Api], client: docker.DockerClient) -> None:
        self.apis = apis
        self.removals = {side: ContainerRemovals(client, api.stack.stage) for side, api in apis.items()}

    def settle(self, posted: dict[str, list[str]]) -> None:
        for side, paths in posted.items():
            for path in paths:
                self.apis[side].wait_finished(path)
            ids = {path.rstrip("/").rsplit("/", 1)[-1] for path in paths}
            if not self.removals[side].wait(ids, timeout=60, label=""):
                raise TimeoutError(f"{side}: the containers of {sorted(ids - self.removals[side].seen)} remain")

    def close(self) -> None:
        for removals in self.removals.values():
            removals.close()


@dataclass
class Route:
    key: str
    label: str
    # A new request (method, path, body) for a side: "empty" or "loaded".
    request: Callable[[str], tuple[str, str, dict[str, Any] | None]]
    note: str = ""


@dataclass
class RouteFigures:
    key: str
    label: str
    note: str
    empty_ms: list[float]
    loaded_ms: list[float]
    empty_bytes: int
    loaded_bytes: int

    @property
    def ratio(self) -> float:
        return p50(self.loaded_ms) / p50(self.empty_ms)

    @property
    def verdict(self) -> str:
        return "PASS" if self.ratio <= TARGET_RATIO else "MISS"


def make_routes(probe: Probe, loaded: Loaded, rng: random.Random) -> list[Route]:
    word = loaded.common_word()
    word_hits = len(loaded.tasks_with_word(word))

    def job_details(side: str) -> tuple[str, str, None]:
        if side == "empty":
            return "GET", job_path(probe.task_id, probe.job_id), None
        job = rng.choice(loaded.jobs)
        return "GET", job_path(job.task_id, job.job_id), None

    def execution_details(side: str) -> tuple[str, str, None]:
        if side == "empty":
            return "GET", execution_path(probe.task_id, probe.job_id, rng.choice(probe.execution_ids)), None
        job = rng.choice(loaded.jobs)
        return "GET", execution_path(job.task_id, job.job_id, rng.choice(job.executions)[0]), None

    def search_common(side: str) -> tuple[str, str, None]:
        return "GET", f"/search/?query={PROBE_WORD if side == 'empty' else word}", None

    return [
        Route("job", "GET /tasks/<t>/jobs/<j>/", job_details, f"{PROBE_RUNS} executions each side; loaded: random job"),
        Route(
            "execution",
            "GET …/executions/<e>/",
            execution_details,
            "loaded: random execution of a random job",
        ),
        Route("tasks", "GET /tasks/", lambda side: ("GET", "/tasks/", None), "page 1 (10 tasks) both sides"),
        Route(
            "search",
            "GET /search/?query=<word>",
            search_common,
            f"a word shared by many tasks: empty '{PROBE_WORD}' ({PROBE_TASKS} tasks), loaded '{word}' "
            f"({word_hits} tasks); a page shows 10",
        ),
        Route(
            "search-probe",
            f"GET /search/?query={PROBE_WORD}",
            lambda side: ("GET", f"/search/?query={PROBE_WORD}", None),
            f"the same {PROBE_TASKS} tasks found on both sides",
        ),
        Route("status", "GET /status/", lambda side: ("GET", "/status/", None)),
    ]


def measure_gets(apis: dict[str, Api], routes: list[Route], samples: int, warmup: int) -> dict[str, RouteFigures]:
    times: dict[str, dict[str, list[float]]] = {route.key: {"empty": [], "loaded": []} for route in routes}
    sizes: dict[str, dict[str, list[int]]] = {route.key: {"empty": [], "loaded": []} for route in routes}
    for index in range(warmup + samples):
        for position, route in enumerate(routes):
            sides = ("empty", "loaded") if (index + position) % 2 == 0 else ("loaded", "empty")
            for side in sides:
                method, path, body = route.request(side)
                ms, response = apis[side].call(method, path, body)
                if response.status_code != 200:
                    raise AssertionError(f"{side}: {method} {path} answered {response.status_code}")
                if index >= warmup:
                    times[route.key][side].append(ms)
                    sizes[route.key][side].append(len(response.content))
        if index >= warmup:
            progress("(1) GET routes", index - warmup + 1, samples)
    return {
        route.key: RouteFigures(
            route.key,
            route.label,
            route.note,
            times[route.key]["empty"],
            times[route.key]["loaded"],
            round(statistics.mean(sizes[route.key]["empty"])),
            round(statistics.mean(sizes[route.key]["loaded"])),
        )
        for route in routes
    }


def measure_posts(
    apis: dict[str, Api], targets: dict[str, list[str]], samples: int, warmup: int, settler: Settler
) -> RouteFigures:
    """Enqueues of ``true`` in existing tasks, a pair at a time; both runs end before the next pair."""
    times: dict[str, list[float]] = {"empty": [], "loaded": []}
    sizes: dict[str, list[int]] = {"empty": [], "loaded": []}
    body = {"image": IMAGE, "command": ENQUEUE_COMMAND}
    for index in range(warmup + samples):
        pending: dict[str, list[str]] = {}
        for side in ("empty", "loaded") if index % 2 == 0 else ("loaded", "empty"):
            task_id = targets[side][index % len(targets[side])]
            ms, response = apis[side].call("POST", f"/tasks/{task_id}/", body)
            if response.status_code != 200:
                raise AssertionError(f"{side}: POST /tasks/{task_id}/ answered {response.status_code}")
            pending[side] = [path_of(response.json()["executionUrl"])]
            if index >= warmup:
                times[side].append(ms)
                sizes[side].append(len(response.content))
        settler.settle(pending)
        if index >= warmup:
            progress("(1) POST enqueues", index - warmup + 1, samples)
    return RouteFigures(
        "enqueue",
        "POST /tasks/<t>/ (true)",
        "existing task; empty: the probe tasks, loaded: loaded tasks",
        times["empty"],
        times["loaded"],
        round(statistics.mean(sizes["empty"])),
        round(statistics.mean(sizes["loaded"])),
    )


# -- where time goes: each route's AWS calls, in a helper process per stack ---------------------


class Agent:
    """A helper process running one stack's app in-process (through the gateway the local server
    uses) with every botocore call timed; requests go one at a time, as JSON lines."""

    def __init__(self, side: str, stack: StackProcess) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SLIPWAY_"))}
        env.update(stack.client_env())
        env.update(stack.extra_env)
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = open(LOG_DIR / f"data-scaling-agent-{side}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.data_scaling", "--agent", f"localhost:{stack.port}"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        log.close()
        self.request({"ping": True})

    def request(self, message: dict[str, Any]) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the profile helper exited ({self.process.wait()}); see {LOG_DIR}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the profile helper failed: {answer['error']}")
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def agent_main(host: str) -> int:
    """The helper process: reads a request per line on stdin, answers its timings on stdout."""
    import botocore.client

    # The protocol keeps the real stdout; anything the app prints goes to stderr.
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    stage = os.environ["SLIPWAY_STAGE"]
    calls: list[dict[str, Any]] = []
    # (client, parameters) of each Query, to count its partition once the request is answered.
    queries: list[tuple[Any, dict[str, Any]] | None] = []
    main_thread = threading.get_ident()
    original = botocore.client.BaseClient._make_api_call

    def partition_size(client: Any, params: dict[str, Any]) -> int:
        """Items matching the Query's key condition alone (no Limit, no filter): what an
        emulator that filters before it limits has to look at."""
        dropped = ("Limit", "ExclusiveStartKey", "FilterExpression", "ProjectionExpression", "AttributesToGet")
        count_params = {key: value for key, value in params.items() if key not in dropped}
        count_params["Select"] = "COUNT"
        expression = count_params.get("KeyConditionExpression", "")
        for field_name in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            kept = {
                name: value
                for name, value in count_params.get(field_name, {}).items()
                if re.search(re.escape(name) + r"(?!\w)", expression)
            }
            if kept:
                count_params[field_name] = kept
            else:
                count_params.pop(field_name, None)
        total = 0
        while True:
            page = original(client, "Query", count_params)
            total += page["Count"]
            if "LastEvaluatedKey" not in page:
                return total
            count_params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def short(name: str | None) -> str | None:
        return None if name is None else name.rsplit("/", 1)[-1].removeprefix(f"{stage}-slipway-")

    def timed(self: Any, operation: str, params: dict[str, Any]) -> Any:
        began = time.perf_counter()
        result: dict[str, Any] = {}
        try:
            result = original(self, operation, params)
            return result
        finally:
            if threading.get_ident() == main_thread:
                target = short(params.get("TableName") or params.get("QueueUrl") or params.get("Bucket"))
                if operation == "TransactWriteItems":
                    items = params["TransactItems"]
                    parts = [(kind, short(item[kind]["TableName"])) for item in items for kind in item]
                    target = ", ".join(f"{kind} {table}" for kind, table in parts)
                calls.append(
                    {
                        "service": self.meta.service_model.service_name,
                        "operation": operation,
                        "target": target,
                        "index": params.get("IndexName"),
                        "limit": params.get("Limit"),
                        "count": result.get("Count"),
                        "scanned": result.get("ScannedCount"),
                        "ms": (time.perf_counter() - began) * 1000,
                        "partition": None,
                    }
                )
                queries.append((self, dict(params)) if operation == "Query" else None)

    botocore.client.BaseClient._make_api_call = timed  # type: ignore[method-assign]

    import app as chalice_module
    from chalicelib.adapters.warm_up import warm_up
    from infra.local.gateway import RestGateway

    warm_up()
    gateway = RestGateway([chalice_module.app])
    headers = {"host": host, "content-type": "application/json", "x-forwarded-for": "127.0.0.1"}
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("ping"):
            answer: dict[str, Any] = {"pong": True}
        else:
            calls.clear()
            queries.clear()
            body = message.get("body")
            began = time.perf_counter()
            result = gateway.handle(
                message["method"], message["path"], headers, json.dumps(body).encode() if body else None
            )
            total = (time.perf_counter() - began) * 1000
            for call, query in zip(calls, queries, strict=True):
                if query is not None:
                    call["partition"] = partition_size(*query)
            answer = {"total_ms": total, "calls": list(calls), "status": result["statusCode"]}
            if result["statusCode"] != 200:
                answer = {"error": f"{message['method']} {message['path']} answered {result['statusCode']}"}
            elif message["method"] == "POST":
                answer["execution_url"] = json.loads(result["body"])["executionUrl"]
        protocol.write(json.dumps(answer) + "\n")
        protocol.flush()
    return 0


def profile_routes(
    stacks: dict[str, StackProcess],
    requests_: dict[str, list[tuple[str, str, str, Any]]],
    runs: int,
    settle: Callable[[dict[str, list[str]]], None],
) -> dict[str, dict[str, list[Any]]]:
    """Each route ``runs`` times (after one warm-up round) on both stacks' helpers, alternating;
    ``settle`` waits for the runs a round's POSTs made (the POSTs go last), so no container
    competes with the next round's requests for the CPU."""
    agents = {side: Agent(side, stack) for side, stack in stacks.items()}
    results: dict[str, dict[str, list[Any]]] = {side: {} for side in stacks}
    try:
        for run in range(runs + 1):
            posted: dict[str, list[str]] = {side: [] for side in stacks}
            for position in range(len(requests_["empty"])):
                order = ("empty", "loaded") if (run + position) % 2 == 0 else ("loaded", "empty")
                for side in order:
                    label, method, path, body = requests_[side][position]
                    answer = agents[side].request({"method": method, "path": path, "body": body})
                    if "execution_url" in answer:
                        posted[side].append(path_of(answer["execution_url"]))
                    if run:
                        results[side].setdefault(label, []).append(answer)
            settle(posted)
    finally:
        for agent in agents.values():
            agent.close()
    return results


@dataclass
class CallFigure:
    operation: str
    target: str | None
    index: str | None
    limit: int | None
    count: int | None
    scanned: int | None
    empty_ms: float
    loaded_ms: float
    # Items under the Query's key condition on each side (None: not a Query).
    empty_partition: int | None = None
    loaded_partition: int | None = None

    @property
    def grew(self) -> bool:
        """Markedly slower on the loaded stack (beyond the noise of a few runs)."""
        return self.loaded_ms > 1.5 * self.empty_ms + 1.0


@dataclass
class RouteProfile:
    label: str
    empty_total_ms: float
    loaded_total_ms: float
    calls: list[CallFigure]

    def outside_calls_ms(self, side: str) -> float:
        total = self.empty_total_ms if side == "empty" else self.loaded_total_ms
        return total - sum(call.empty_ms if side == "empty" else call.loaded_ms for call in self.calls)


def merge_profiles(empty: dict[str, list[Any]], loaded: dict[str, list[Any]]) -> dict[str, RouteProfile]:
    """Per route: the median total and, call by call (same order on both stacks), the median time."""
    merged: dict[str, RouteProfile] = {}
    for label, loaded_runs in loaded.items():
        empty_runs = empty[label]
        figures: list[CallFigure] = []
        shapes = [len(run["calls"]) for run in empty_runs + loaded_runs]
        width = min(shapes)
        for position in range(width):
            reference = loaded_runs[0]["calls"][position]
            figures.append(
                CallFigure(
                    reference["operation"],
                    reference["target"],
                    reference["index"],
                    reference["limit"],
                    max((run["calls"][position]["count"] or 0 for run in loaded_runs), default=None)
                    if reference["count"] is not None
                    else None,
                    max((run["calls"][position]["scanned"] or 0 for run in loaded_runs), default=None)
                    if reference["scanned"] is not None
                    else None,
                    statistics.median(run["calls"][position]["ms"] for run in empty_runs),
                    statistics.median(run["calls"][position]["ms"] for run in loaded_runs),
                    max((run["calls"][position].get("partition") or 0 for run in empty_runs), default=None)
                    if reference.get("partition") is not None
                    else None,
                    max((run["calls"][position].get("partition") or 0 for run in loaded_runs), default=None)
                    if reference.get("partition") is not None
                    else None,
                )
            )
        merged[label] = RouteProfile(
            label,
            statistics.median(run["total_ms"] for run in empty_runs),
            statistics.median(run["total_ms"] for run in loaded_runs),
            figures,
        )
    return merged


def profile_requests(
    probe: Probe, loaded: Loaded, rng: random.Random
) -> dict[str, list[tuple[str, str, str, dict[str, Any] | None]]]:
    """The same routes as (1), the loaded side on a few random loaded jobs."""
    body = {"image": IMAGE, "command": ENQUEUE_COMMAND}
    job = rng.choice(loaded.jobs)
    execution_id = rng.choice(job.executions)[0]
    word = loaded.common_word()
    shared = [
        ("tasks", "GET", "/tasks/", None),
        ("search-probe", "GET", f"/search/?query={PROBE_WORD}", None),
        ("status", "GET", "/status/", None),
    ]
    return {
        "empty": [
            ("job", "GET", job_path(probe.task_id, probe.job_id), None),
            ("execution", "GET", execution_path(probe.task_id, probe.job_id, probe.execution_ids[-1]), None),
            ("search", "GET", f"/search/?query={PROBE_WORD}", None),
            *shared,
            ("enqueue", "POST", f"/tasks/{probe.task_ids[1]}/", body),
        ],
        "loaded": [
            ("job", "GET", job_path(job.task_id, job.job_id), None),
            ("execution", "GET", execution_path(job.task_id, job.job_id, execution_id), None),
            ("search", "GET", f"/search/?query={word}", None),
            *shared,
            ("enqueue", "POST", f"/tasks/{job.task_id}/", body),
        ],
    }


# -- (2) throughput on the loaded stack ---------------------------------------------------------


class ContainerRemovals:
    """The executions whose container was removed (Docker ``destroy`` events of one stage's
    containers, read from one ``docker events`` stream on a thread). The runner removes a
    container once the execution's end is stored."""

    def __init__(self, client: docker.DockerClient, stage: str) -> None:
        self._stream = client.api.events(
            decode=True, filters={"type": "container", "event": "destroy", "label": f"slipway.stage={stage}"}
        )
        self.seen: set[str] = set()
        self._changed = threading.Condition()
        threading.Thread(target=self._read, name="docker-events", daemon=True).start()

    def _read(self) -> None:
        try:
            for event in self._stream:
                execution_id = ((event.get("Actor") or {}).get("Attributes") or {}).get("slipway.execution")
                with self._changed:
                    self.seen.add(execution_id or "")
                    self._changed.notify_all()
        except Exception:  # noqa: BLE001 - the stream ends with an error when closed
            return

    def wait(self, execution_ids: set[str], timeout: float, label: str) -> bool:
        """True once all ``execution_ids`` were removed; False when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                done = len(execution_ids & self.seen)
                progress(label, done, len(execution_ids))
                if done == len(execution_ids):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 5.0))

    def close(self) -> None:
        self._stream.close()


def raw_docker_rate(client: docker.DockerClient, count: int, concurrency: int) -> float:
    """Containers/s of ``true`` through the docker SDK on ``concurrency`` threads, each doing
    create → start → wait → remove; the window runs from the first ``start`` returned to the
    last ``wait`` returned (the runner's first ``startedAt`` and last ``finishedAt``)."""
    api = client.api
    label = uuid.uuid4().hex[:8]
    starts: list[float] = []
    ends: list[float] = []
    lock = threading.Lock()

    def one(_: int) -> None:
        container = api.create_container(IMAGE, [ENQUEUE_COMMAND], labels={"slipway-bench.data-scaling": label})
        try:
            api.start(container["Id"])
            started = time.time()
            api.wait(container["Id"], timeout=60)
            ended = time.time()
        finally:
            api.remove_container(container["Id"], force=True)
        with lock:
            starts.append(started)
            ends.append(ended)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(count)))
    return count / (max(ends) - min(starts))


@dataclass
class Post:
    sent: float
    answered: float
    status_code: int
    execution_path: str | None


def post_burst(base_url: str, tasks: list[str], count: int, threads: int) -> list[Post]:
    """``count`` POSTs of ``true`` from ``threads`` client threads, round robin over ``tasks``."""
    posts: list[Post | None] = [None] * count
    next_index = iter(range(count))
    lock = threading.Lock()
    body = {"image": IMAGE, "command": ENQUEUE_COMMAND}

    def worker() -> None:
        session = requests.Session()
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            task_id = tasks[index % len(tasks)]
            sent = time.time()
            try:
                response = session.post(f"{base_url}/tasks/{task_id}/", json=body, timeout=120)
                answered = time.time()
                path = path_of(response.json()["executionUrl"]) if response.status_code == 200 else None
                posts[index] = Post(sent, answered, response.status_code, path)
            except (requests.RequestException, ValueError, KeyError):
                posts[index] = Post(sent, time.time(), -1, None)

    workers = [threading.Thread(target=worker, name=f"client-{n}") for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return [post for post in posts if post is not None]


def read_executions(base_url: str, paths: list[str], threads: int) -> list[dict[str, Any] | None]:
    local = threading.local()

    def one(path: str) -> dict[str, Any] | None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        response = local.session.get(base_url + path, timeout=60)
        return response.json()["execution"] if response.status_code == 200 else None

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, paths))


class CpuMeter:
    """Cores used by the loaded stack's processes, the idle empty stack, Docker and everything
    else between two snapshots of /proc (processes that end in between are not seen)."""

    TICKS = os.sysconf("SC_CLK_TCK")
    GROUPS = ("api (infra.local)", "emulator", "runner", "dockerd+containerd", "empty stack (idle)")

    def __init__(self, loaded: StackProcess, empty: StackProcess) -> None:
        assert loaded.process is not None and empty.process is not None
        self.loaded = loaded.process.pid
        self.empty = empty.process.pid

    @staticmethod
    def _processes() -> dict[int, tuple[int, str, float]]:
        """pid → (parent pid, name, CPU seconds)."""
        found: dict[int, tuple[int, str, float]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                text = (entry / "stat").read_text()
            except OSError:
                continue
            name = text[text.index("(") + 1 : text.rindex(")")]
            fields = text[text.rindex(")") + 2 :].split()
            found[int(entry.name)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / CpuMeter.TICKS)
        return found

    def _group(self, pid: int, processes: dict[int, tuple[int, str, float]]) -> str | None:
        ppid, name, _ = processes[pid]
        if pid == self.loaded:
            return "api (infra.local)"
        if ppid == self.loaded:
            try:
                args = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                return "runner"
            return "emulator" if b"ministack" in args else "runner"
        if self.empty in (pid, ppid):
            return "empty stack (idle)"
        if name in ("dockerd", "containerd"):
            return "dockerd+containerd"
        if pid == os.getpid():
            return "benchmark (this process)"
        return None

    def _snapshot(self) -> tuple[dict[int, tuple[int, str, float]], float]:
        with open("/proc/stat") as stat_file:
            values = [int(value) for value in stat_file.readline().split()[1:]]
        return self._processes(), (sum(values) - values[3] - values[4]) / self.TICKS

    @contextmanager
    def measure(self, into: dict[str, float], others: dict[str, float]) -> Iterator[None]:
        """``into``: cores per group, the machine's busy cores, and the rest ("other processes");
        ``others``: the busiest of the rest by process name."""
        (before, busy_before), began = self._snapshot(), time.monotonic()
        yield
        (after, busy_after), elapsed = self._snapshot(), time.monotonic() - began
        groups = dict.fromkeys((*self.GROUPS, "benchmark (this process)"), 0.0)
        by_name: dict[str, float] = {}
        for pid, (_, name, seconds) in after.items():
            used = (seconds - before[pid][2] if pid in before else seconds) / elapsed
            group = self._group(pid, after)
            if group is None:
                by_name[name] = by_name.get(name, 0.0) + used
            else:
                groups[group] += used
        into.update(groups)
        into["machine busy"] = (busy_after - busy_before) / elapsed
        into["other processes"] = max(0.0, into["machine busy"] - sum(groups.values()))
        others.update(sorted(by_name.items(), key=lambda item: -item[1])[:4])


@dataclass
class Phase:
    """One batch of POSTs from the client threads, then the wait until all its executions are final."""

    name: str
    count: int
    runner_paused: bool
    posts_ok: int
    enqueue_seconds: float
    enqueue_per_s: float
    enqueue_steady_per_s: float
    post_ms_p50: float
    post_ms_p90: float
    final: int
    done: int
    drain_seconds: float
    drain_per_s: float
    wall_seconds: float
    run_ms_p50: float
    cpu_enqueue: dict[str, float]
    cpu_drain: dict[str, float]
    others_enqueue: dict[str, float]
    others_drain: dict[str, float]

    @property
    def lost(self) -> int:
        return self.count - self.final

    @property
    def all_ok(self) -> bool:
        return self.posts_ok == self.count and self.final == self.count


@dataclass
class Throughput:
    threads: int
    concurrency: int
    sustained: Phase | None
    burst: Phase
    raw_per_s: list[float]
    raw_count: int
    cpu_idle: dict[str, float]
    others_idle: dict[str, float]

    @property
    def raw_mean_per_s(self) -> float:
        return statistics.mean(self.raw_per_s)

    def drain_ratio(self, phase: Phase) -> float:
        return phase.drain_per_s / self.raw_mean_per_s

    @property
    def enqueue_per_s(self) -> float:
        """The figure held against the target: the API alone when measured so, else the burst's."""
        return (self.sustained or self.burst).enqueue_per_s

    @property
    def lost(self) -> int:
        return sum(phase.lost for phase in self.phases)

    @property
    def phases(self) -> list[Phase]:
        return [phase for phase in (self.sustained, self.burst) if phase is not None]


def runner_pids(stack: StackProcess) -> list[int]:
    """The stack's runner processes (children of the stack's process running ``-m runner``)."""
    assert stack.process is not None
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(text[text.rindex(")") + 2 :].split()[1]) == stack.process.pid and b"runner" in args:
            found.append(int(entry.name))
    return found


@contextmanager
def runner_paused(stack: StackProcess, paused: bool) -> Iterator[None]:
    """With ``paused``, the stack's runners are stopped (SIGSTOP) inside the block and continued
    after it, so the enqueues measured do not share the CPU with the containers they start (in a
    deployment the runners are other hosts). Messages just wait in the queue meanwhile."""
    pids = runner_pids(stack) if paused else []
    if paused and not pids:
        raise RuntimeError("no runner process found to pause")
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def run_phase(
    name: str,
    api: Api,
    client: docker.DockerClient,
    meter: CpuMeter,
    tasks: list[str],
    count: int,
    pause_runner: bool,
) -> Phase:
    stack = api.stack
    removals = ContainerRemovals(client, stack.stage)
    cpu_enqueue: dict[str, float] = {}
    cpu_drain: dict[str, float] = {}
    others_enqueue: dict[str, float] = {}
    others_drain: dict[str, float] = {}
    try:
        with runner_paused(stack, pause_runner), meter.measure(cpu_enqueue, others_enqueue):
            posts = post_burst(api.base_url, tasks, count, CLIENT_THREADS)
        ok = [post for post in posts if post.status_code == 200]
        print(f"  {name}: enqueued {len(ok)}/{count}", file=sys.stderr, flush=True)
        with meter.measure(cpu_drain, others_drain):
            ids = {path.rstrip("/").rsplit("/", 1)[-1] for path in (post.execution_path for post in ok) if path}
            all_removed = removals.wait(ids, timeout=max(300.0, count * 1.0), label=f"  {name}: drained")
    finally:
        removals.close()
    if not all_removed:
        print(f"  only {len(ids & removals.seen)} of {len(ids)} containers ended in time", file=sys.stderr, flush=True)
    executions = read_executions(api.base_url, [post.execution_path for post in ok if post.execution_path], 8)
    final = [execution for execution in executions if execution and execution["status"] in FINISHED]
    first_sent = min(post.sent for post in posts)
    last_answered = max(post.answered for post in posts)
    # The middle 80 % of the answers: the rate once all clients are busy and before they run dry.
    answers = sorted(post.answered for post in ok)
    low, high = answers[len(answers) // 10], answers[len(answers) * 9 // 10 - 1]
    steady = (len(answers) * 9 // 10 - len(answers) // 10 - 1) / (high - low) if high > low else float("nan")
    started = [iso_seconds(execution["startedAt"]) for execution in final if execution["startedAt"]]
    finished = [iso_seconds(execution["finishedAt"]) for execution in final if execution["finishedAt"]]
    runs = [
        (iso_seconds(execution["finishedAt"]) - iso_seconds(execution["startedAt"])) * 1000
        for execution in final
        if execution["startedAt"] and execution["finishedAt"]
    ]
    drain_seconds = max(finished) - min(started) if started and finished else float("nan")
    return Phase(
        name=name,
        count=count,
        runner_paused=pause_runner,
        posts_ok=len(ok),
        enqueue_seconds=last_answered - first_sent,
        enqueue_per_s=len(ok) / (last_answered - first_sent),
        enqueue_steady_per_s=steady,
        post_ms_p50=p50([(post.answered - post.sent) * 1000 for post in ok]),
        post_ms_p90=p90([(post.answered - post.sent) * 1000 for post in ok]),
        final=len(final),
        done=sum(1 for execution in final if execution["status"] == "done"),
        drain_seconds=drain_seconds,
        drain_per_s=len(final) / drain_seconds if drain_seconds else float("nan"),
        wall_seconds=(max(finished) if finished else time.time()) - first_sent,
        run_ms_p50=p50(runs),
        cpu_enqueue=cpu_enqueue,
        cpu_drain=cpu_drain,
        others_enqueue=others_enqueue,
        others_drain=others_drain,
    )


def measure_throughput(
    api: Api,
    empty_stack: StackProcess,
    client: docker.DockerClient,
    loaded: Loaded,
    sustained: int,
    burst: int,
    raw_count: int,
    concurrency: int,
) -> Throughput:
    meter = CpuMeter(api.stack, empty_stack)
    cpu_idle: dict[str, float] = {}
    others_idle: dict[str, float] = {}
    # The machine's load from elsewhere: both stacks idle, no container running.
    with meter.measure(cpu_idle, others_idle):
        time.sleep(5)
    raw = [raw_docker_rate(client, raw_count, concurrency)]
    print(f"  raw docker: {raw[-1]:.2f} containers/s at concurrency {concurrency}", file=sys.stderr, flush=True)
    sustained_phase = None
    if sustained:
        sustained_phase = run_phase("(2a) sustained", api, client, meter, loaded.tasks, sustained, pause_runner=True)
        raw.append(raw_docker_rate(client, raw_count, concurrency))
        print(f"  raw docker: {raw[-1]:.2f} containers/s", file=sys.stderr, flush=True)
    burst_phase = run_phase("(2b) burst", api, client, meter, loaded.tasks, burst, pause_runner=False)
    raw.append(raw_docker_rate(client, raw_count, concurrency))
    print(f"  raw docker: {raw[-1]:.2f} containers/s", file=sys.stderr, flush=True)
    return Throughput(
        threads=CLIENT_THREADS,
        concurrency=concurrency,
        sustained=sustained_phase,
        burst=burst_phase,
        raw_per_s=raw,
        raw_count=raw_count,
        cpu_idle=cpu_idle,
        others_idle=others_idle,
    )


# -- report ------------------------------------------------------------------------------------


def progress(label: str, done: int, total: int) -> None:
    if not label:
        return
    if sys.stderr.isatty():
        print(f"\r  {label}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)
    elif done == total:
        print(f"  {label}: {done}/{total}", file=sys.stderr, flush=True)


def describe_call(call: CallFigure) -> str:
    where = call.target or ""
    if call.index:
        where += f" index {call.index}"
    read = ""
    if call.count is not None:
        read = f" → {call.count} items" + (f" (scanned {call.scanned})" if call.scanned != call.count else "")
        if call.limit:
            read += f", Limit {call.limit}"
    if call.empty_partition is not None:
        read += f"; partition holds {call.empty_partition} → {call.loaded_partition}"
    return f"{call.operation} {where}{read}" + ("  ← grows with the data" if call.grew else "")


def profile_lines(profile: RouteProfile, indent: str = "      ") -> list[str]:
    lines = [
        f"{indent}in the app (helper process, median of runs): empty {profile.empty_total_ms:.1f} ms, "
        f"loaded {profile.loaded_total_ms:.1f} ms"
    ]
    for call in profile.calls:
        lines.append(f"{indent}  {call.empty_ms:>6.1f} → {call.loaded_ms:>6.1f} ms  {describe_call(call)}")
    lines.append(
        f"{indent}  {profile.outside_calls_ms('empty'):>6.1f} → {profile.outside_calls_ms('loaded'):>6.1f} ms  "
        "the app outside the AWS calls (Chalice, parsing, shaping)"
    )
    if any(call.grew and (call.loaded_partition or 0) > (call.empty_partition or 0) for call in profile.calls):
        lines.append(
            f"{indent}  a Query that grew reads a bigger partition: the emulator evaluates the key condition on "
            "every item of the partition before it applies Limit (DynamoDB reads only Limit items)"
        )
    return lines


def verdict_at_least(value: float, limit: float) -> str:
    return "PASS" if value >= limit else "MISS"


def phase_lines(t: Throughput, phase: Phase) -> list[str]:
    ratio = t.drain_ratio(phase)
    how = (
        "the runner paused while they are sent (the API and its emulator alone, as with runners on other hosts)"
        if phase.runner_paused
        else "the runner draining them meanwhile, on the same machine"
    )
    return [
        f"  {phase.name}: {phase.count} POSTs of `{ENQUEUE_COMMAND}` from {t.threads} client threads, {how}",
        f"    enqueue rate        {phase.enqueue_per_s:>8.1f} /s over {phase.enqueue_seconds:.1f} s "
        f"(middle 80 %: {phase.enqueue_steady_per_s:.1f} /s)   target ≥ {TARGET_ENQUEUES_PER_S:g}  "
        f"{verdict_at_least(phase.enqueue_per_s, TARGET_ENQUEUES_PER_S)}",
        f"    POST round trip     p50 {phase.post_ms_p50:.1f} ms, p90 {phase.post_ms_p90:.1f} ms",
        f"    answered 200        {phase.posts_ok}/{phase.count}; final {phase.final}/{phase.count} "
        f"({phase.done} done); lost {phase.lost}   target 0  {'PASS' if phase.all_ok else 'MISS'}",
        f"    drain rate          {phase.drain_per_s:>8.2f} executions/s (first startedAt → last finishedAt, "
        f"{phase.drain_seconds:.1f} s; first POST → last finishedAt {phase.wall_seconds:.1f} s)",
        f"    drain / raw docker  {ratio:>8.2f}   reference ≥ {REFERENCE_DRAIN_RATIO} (bench.runner_throughput's "
        f"target)  {verdict_at_least(ratio, REFERENCE_DRAIN_RATIO)}",
        f"    container runs      p50 {phase.run_ms_p50:.0f} ms startedAt → finishedAt",
    ]


def throughput_lines(t: Throughput, profiles: dict[str, RouteProfile], cpus: int) -> list[str]:
    lines = [
        "",
        f"(2) throughput on the loaded stack, one runner at concurrency {t.concurrency}",
        f"  raw docker            {t.raw_mean_per_s:>8.2f} containers/s (create+start+wait+remove of `true`, "
        f"{t.raw_count} at concurrency {t.concurrency}, before / between / after the phases: "
        + " / ".join(f"{rate:.2f}" for rate in t.raw_per_s)
        + ")",
    ]
    for phase in t.phases:
        lines += phase_lines(t, phase)
    lines += [
        f"  CPU used (cores of {cpus}; 'other processes' includes short-lived ones such as runc, the shims and the"
        " containers):",
        f"    {'':<28}{'idle':>6}"
        + "".join(f"{phase.name.split()[0] + ' enq':>12}{phase.name.split()[0] + ' drain':>12}" for phase in t.phases),
    ]
    for name in t.cpu_idle:
        cells = "".join(f"{phase.cpu_enqueue[name]:>12.2f}{phase.cpu_drain[name]:>12.2f}" for phase in t.phases)
        lines.append(f"    {name:<28}{t.cpu_idle[name]:>6.2f}{cells}")
    windows = [("idle", t.others_idle)]
    for phase in t.phases:
        windows += [(f"{phase.name} enqueueing", phase.others_enqueue), (f"{phase.name} draining", phase.others_drain)]
    for window, others in windows:
        busiest = ", ".join(f"{name} {cores:.2f}" for name, cores in others.items() if cores >= 0.01)
        lines.append(f"    other processes seen at both ends, {window}: {busiest or 'none'}")
    if t.cpu_idle["machine busy"] >= 0.25 * cpus:
        lines.append(
            f"  note: with both stacks idle (5 s before the phases) {t.cpu_idle['machine busy']:.2f} of {cpus} "
            "cores were already busy with other work: the rates here are lower than on a quiet machine"
        )
    missed = [phase for phase in t.phases if phase.enqueue_per_s < TARGET_ENQUEUES_PER_S]
    if missed and "enqueue" in profiles:
        post = profiles["enqueue"]
        serial = 1000 / post.loaded_total_ms if post.loaded_total_ms else float("nan")
        waiting = sum(call.loaded_ms for call in post.calls)
        lines += [
            "  where the enqueue time goes: one app instance serves one request at a time (as a Lambda environment),",
            f"  so one instance is bounded by 1 / (POST service time) = {serial:.0f} /s with the app alone "
            f"({post.loaded_total_ms:.1f} ms in the helper, {waiting:.1f} ms of it waiting on the emulator);",
        ]
        for phase in missed:
            queued = t.threads / phase.enqueue_per_s * 1000
            cores = phase.cpu_enqueue
            ours = cores["api (infra.local)"] + cores["emulator"]
            docker_side = cores["runner"] + cores["dockerd+containerd"] + cores["other processes"]
            lines.append(
                f"  {phase.name}: one POST answered every {1000 / phase.enqueue_per_s:.1f} ms; "
                f"{t.threads} clients / {phase.enqueue_per_s:.1f} per s = {queued:.0f} ms queued per POST "
                f"(measured p50 {phase.post_ms_p50:.0f} ms); the API and the emulator got {ours:.2f} cores, "
                f"the runner, Docker and the rest {docker_side:.2f}, of {cores['machine busy']:.2f} busy"
            )
        lines += profile_lines(post, indent="    ")
    return lines


def report(
    result: dict[str, Any],
    figures: list[RouteFigures],
    profiles: dict[str, RouteProfile],
    throughput: Throughput | None,
) -> str:
    sizes, loaded = result["sizes"], result["load"]
    lines = [
        "",
        f"Slipway data scaling — two local stacks, image {IMAGE}; run at {result['run_at']} on "
        f"{result['machine']['cpus']} CPUs",
        f"  loaded: {sizes['executions']:,} executions over {sizes['jobs']:,} jobs in {sizes['tasks']:,} tasks "
        f"(+ the probe: {PROBE_TASKS} tasks, one job run {PROBE_RUNS} times, on both stacks)",
        "  items written: "
        + ", ".join(f"{count:,} {name}" for name, count in loaded["items"].items())
        + f", {loaded['objects']:,} S3 log objects",
        f"  load time: built {loaded['build_seconds']:.1f} s, DynamoDB batch writes {loaded['write_seconds']:.1f} s, "
        f"S3 uploads {loaded['upload_seconds']:.1f} s",
        "  verified through the API before measuring:",
        *(f"    - {check}" for check in result["verified"]),
        "",
        f"(1) flat cost with data: round trips, {result['samples']} per route and side (POST: "
        f"{result['post_samples']} pairs), empty and loaded alternating",
        f"  {'route':<30}{'empty p50':>10}{'p90':>8}{'loaded p50':>12}{'p90':>8}{'ratio':>8}"
        f"{'target':>9}{'':>6}  bytes e/l",
    ]
    for figure in figures:
        lines.append(
            f"  {figure.label:<30}{p50(figure.empty_ms):>10.1f}{p90(figure.empty_ms):>8.1f}"
            f"{p50(figure.loaded_ms):>12.1f}{p90(figure.loaded_ms):>8.1f}{figure.ratio:>8.2f}"
            f"{'≤ ' + str(TARGET_RATIO):>9}  {figure.verdict:<4}  {figure.empty_bytes}/{figure.loaded_bytes}"
        )
    lines.append("  (ms; ratio = loaded p50 / empty p50)")
    for figure in figures:
        if figure.note:
            lines.append(f"    {figure.label}: {figure.note}")
    scans = sorted({p.label for p in profiles.values() for call in p.calls if call.operation == "Scan"})
    lines += [
        "",
        "  AWS calls per route (helper process through the same gateway; empty → loaded, median ms; "
        + (f"Scan in: {', '.join(scans)})" if scans else "no route makes a Scan)"),
    ]
    for figure in figures:
        profile = profiles.get(figure.key)
        if profile is None:
            continue
        flag = "  ← MISS" if figure.verdict == "MISS" else ""
        lines.append(f"    {figure.label}{flag}")
        lines += profile_lines(profile)

    if throughput is not None:
        lines += throughput_lines(throughput, profiles, result["machine"]["cpus"] or 1)
    return "\n".join(lines)


# -- the run -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.data_scaling", description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, help="loaded executions (default 20000; --quick 2000)")
    parser.add_argument("--jobs", type=int, help="loaded jobs (default 2000; --quick 200)")
    parser.add_argument("--tasks", type=int, help="loaded tasks (default 200; --quick 20)")
    parser.add_argument(
        "--sustained", type=int, help="POSTs of (2a), the runner paused (default 500; --quick 100); 0 skips (2a)"
    )
    parser.add_argument("--burst", type=int, help="POSTs of (2b) (default 1000; --quick 100); 0 skips (2)")
    parser.add_argument("--samples", type=int, help="GETs per route and side (default 100; --quick 20)")
    parser.add_argument("--post-samples", type=int, help="POST pairs (default 60; --quick 10)")
    parser.add_argument(
        "--raw", type=int, help="raw docker runs, before, between and after (2a), (2b) (default 200; --quick 40)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--no-log-objects", action="store_true", help="skip the S3 objects of the loaded executions")
    parser.add_argument("--warmup", type=int, default=3, help="rounds run first and not counted")
    parser.add_argument("--profile-runs", type=int, default=15, help="runs of each route in the profile helper")
    parser.add_argument("--output", type=Path, default=RESULTS / "data_scaling.json")
    parser.add_argument(
        "--stack-env", action="append", default=[], metavar="NAME=VALUE", help="extra environment of both stacks"
    )
    parser.add_argument("--agent", metavar="HOST", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "executions": 2000 if quick else 20000,
        "jobs": 200 if quick else 2000,
        "tasks": 20 if quick else 200,
        "sustained": 100 if quick else 500,
        "burst": 100 if quick else 1000,
        "samples": 20 if quick else 100,
        "post_samples": 10 if quick else 60,
        "raw": 40 if quick else 200,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.agent is None:
        if not 0 < args.tasks <= args.jobs <= args.executions:
            parser.error("want 0 < --tasks ≤ --jobs ≤ --executions")
        if args.samples < 1 or args.post_samples < 1 or args.burst < 0 or args.sustained < 0 or args.raw < 1:
            parser.error("--samples, --post-samples and --raw must be positive, --sustained and --burst not negative")
    return args


def start_stacks(extra_env: dict[str, str]) -> tuple[StackProcess, StackProcess]:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    empty = StackProcess(log_path=LOG_DIR / "data-scaling-empty.log", extra_env=extra_env)
    loaded = StackProcess(log_path=LOG_DIR / "data-scaling-loaded.log", extra_env=extra_env)
    for stack in (empty, loaded):
        assert stack.log_path is not None
        stack.log_path.unlink(missing_ok=True)
    errors: list[BaseException] = []

    def start(stack: StackProcess) -> None:
        try:
            stack.start(timeout=120)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, once both were tried
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(stack,)) for stack in (empty, loaded)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        empty.stop()
        loaded.stop()
        raise errors[0]
    return empty, loaded


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.agent is not None:
        return agent_main(args.agent)
    sizes = Sizes(args.executions, args.jobs, args.tasks)
    extra_env = parse_env(args.stack_env)
    client = docker.from_env(timeout=120)
    client.images.get(IMAGE)  # fails early when bin/build-test-images was not run
    rng = random.Random(2024)
    print("starting two local stacks …", file=sys.stderr, flush=True)
    empty_stack, loaded_stack = start_stacks(extra_env)
    try:
        # This process writes the loaded stack's items: chalicelib reads its settings (stage,
        # table names) and boto3 its endpoint from the environment, so set it before importing.
        os.environ.update(loaded_stack.client_env())
        os.environ.update(extra_env)
        from chalicelib.settings import Settings

        concurrency = Settings.from_env({**loaded_stack.client_env(), **extra_env}).runner_concurrency
        apis = {"empty": Api("empty", empty_stack), "loaded": Api("loaded", loaded_stack)}
        print("making the probe on both stacks through the API …", file=sys.stderr, flush=True)
        with ThreadPoolExecutor(max_workers=2) as pool:
            empty_probe, loaded_probe = pool.map(make_probe, (apis["empty"], apis["loaded"]))
        print(f"loading {sizes.executions:,} executions into the loaded stack …", file=sys.stderr, flush=True)
        loaded = load(sizes, loaded_probe, upload_objects=not args.no_log_objects)
        print(
            f"  loaded in {loaded.build_seconds + loaded.write_seconds + loaded.upload_seconds:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        checks = verify(apis["loaded"], loaded_probe, loaded, sizes, rng)
        # The empty stack answers the same routes for its probe.
        verify_probe(apis["empty"])

        settler = Settler(apis, client)
        print("profiling the routes' AWS calls …", file=sys.stderr, flush=True)
        requests_ = profile_requests(empty_probe, loaded, rng)
        stacks = {"empty": empty_stack, "loaded": loaded_stack}
        raw_profiles = profile_routes(stacks, requests_, args.profile_runs, settler.settle)
        profiles = merge_profiles(raw_profiles["empty"], raw_profiles["loaded"])

        routes = make_routes(empty_probe, loaded, rng)
        post_targets = {"empty": empty_probe.task_ids, "loaded": rng.sample(loaded.tasks, min(10, len(loaded.tasks)))}
        figures = [measure_posts(apis, post_targets, args.post_samples, args.warmup, settler)]
        settler.close()
        figures += list(measure_gets(apis, routes, args.samples, args.warmup).values())

        throughput = None
        if args.burst:
            print("(2) throughput on the loaded stack …", file=sys.stderr, flush=True)
            throughput = measure_throughput(
                apis["loaded"], empty_stack, client, loaded, args.sustained, args.burst, args.raw, concurrency
            )
        result: dict[str, Any] = {
            "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "image": IMAGE,
            "stages": {"empty": empty_stack.stage, "loaded": loaded_stack.stage},
            "stack_env": extra_env,
            "sizes": asdict(sizes),
            "load": {key: value for key, value in asdict(loaded).items() if key not in ("tasks", "jobs")},
            "verified": checks,
            "samples": args.samples,
            "post_samples": args.post_samples,
            "routes": [
                {
                    **asdict(figure),
                    "empty_p50": p50(figure.empty_ms),
                    "empty_p90": p90(figure.empty_ms),
                    "loaded_p50": p50(figure.loaded_ms),
                    "loaded_p90": p90(figure.loaded_ms),
                    "ratio": figure.ratio,
                    "target": TARGET_RATIO,
                    "verdict": figure.verdict,
                }
                for figure in figures
            ],
            "profiles": {key: asdict(profile) for key, profile in profiles.items()},
            "throughput": asdict(throughput) if throughput is not None else None,
        }
    finally:
        for stack in (empty_stack, loaded_stack):
            stack.stop()
        client.close()
    print(report(result, figures, profiles, throughput))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nfigures written to {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    passed = all(figure.verdict == "PASS" for figure in figures)
    if throughput is not None:
        passed = passed and throughput.enqueue_per_s >= TARGET_ENQUEUES_PER_S
        passed = passed and all(phase.all_ok for phase in throughput.phases)
    return 0 if passed else 1


def verify_probe(api: Api) -> None:
    listing = api.get_ok("/tasks/")
    assert listing["total"] == PROBE_TASKS, f"{api.name}: GET /tasks/ total {listing['total']}"
    status = api.get_ok("/status/")
    assert status["tasks"]["count"] == PROBE_TASKS and status["jobs"]["count"] == PROBE_TASKS


if __name__ == "__main__":
    sys.exit(main())
