"""Core latency of Slipway on the local stack, against Docker baselines measured in the same run.

``python -m bench.core_latency [--jobs N] [--runs N]`` starts a whole local stack (the emulator, the API,
one runner on the local Docker Engine) and measures, one job at a time:

(a) start latency: the wall clock just before ``POST /tasks/<t>/`` is sent → the Docker ``start``
    event of the job's container (its ``timeNano``, matched by the ``slipway.execution`` label),
    against a raw ``create_container`` + ``start`` through the docker SDK of the same image and
    command, measured the same way (wall clock just before ``create`` → its ``start`` event).
    Jobs and raw starts alternate, so both sides share the machine's noise; the overhead is the
    difference of their percentiles.
(b) end-to-end: ``POST`` → status ``done`` read from the ``executionUrl`` (polled every 5 ms),
    divided by ``docker run --rm <image> <command>`` run through the CLI right after it; the
    figure is the median of the per-pair ratios.

It prints a table with the targets and writes the figures to ``bench/results/core_latency.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import requests

from bench.figures import parse_env
from infra.local.harness import StackProcess

IMAGE = os.environ.get("SLIPWAY_TEST_IMAGE", "slipway-test/busybox:latest")
COMMAND = "echo hi"
EXECUTION_LABEL = "slipway.execution"
RAW_LABEL = "slipway-bench.raw"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
FINISHED = frozenset({"done", "failed", "timedout", "stopped", "expired"})

TARGET_OVERHEAD_P50_MS = 30.0
TARGET_OVERHEAD_P99_MS = 150.0
TARGET_RATIO = 1.3

START_DEFINITION = (
    "wall clock (time.time_ns) just before the POST / the create_container call → "
    "timeNano of the container's Docker 'start' event"
)


# -- statistics --------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linearly interpolated between ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "min": min(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": sum(values) / len(values),
    }


# -- Docker events -----------------------------------------------------------------------------


class ContainerEvents:
    """``start`` and ``destroy`` events of containers carrying one of ``labels``, keyed by the
    label's value, read from one ``docker events`` stream on a thread.

    The runner removes its containers once they end, so their start instant is captured here
    rather than inspected afterwards.
    """

    def __init__(self, client: docker.DockerClient, labels: tuple[str, ...]) -> None:
        self._labels = labels
        self._seen: dict[tuple[str, str], int] = {}
        self._changed = threading.Condition()
        self._stream = client.api.events(decode=True, filters={"type": "container", "event": ["start", "destroy"]})
        self._thread = threading.Thread(target=self._read, name="docker-events", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self._stream:
                attributes = (event.get("Actor") or {}).get("Attributes") or {}
                action = event.get("Action") or event.get("status") or ""
                for label in self._labels:
                    key = attributes.get(label)
                    if key:
                        with self._changed:
                            self._seen[(action, key)] = int(event["timeNano"])
                            self._changed.notify_all()
        except Exception:  # noqa: BLE001 - the stream ends with an error when closed
            return

    def wait(self, action: str, key: str, timeout: float = 60.0) -> int:
        """The event's timeNano (epoch ns, the daemon's clock); waits for it when not seen yet."""
        with self._changed:
            if not self._changed.wait_for(lambda: (action, key) in self._seen, timeout=timeout):
                raise TimeoutError(f"no Docker {action!r} event for {key} within {timeout} s")
            return self._seen.pop((action, key))

    def close(self) -> None:
        self._stream.close()


def parse_docker_time(text: str) -> int:
    """An RFC 3339 instant of Docker (nanoseconds, UTC) as epoch nanoseconds."""
    main, _, fraction = text.rstrip("Z").partition(".")
    seconds = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return int(seconds) * 1_000_000_000 + int((fraction + "000000000")[:9])


# -- the two sides -----------------------------------------------------------------------------


@dataclass
class JobStart:
    """One job of (a): instants in epoch ns."""

    sent_ns: int
    answered_ns: int
    started_ns: int
    execution_id: str

    @property
    def start_ms(self) -> float:
        return (self.started_ns - self.sent_ns) / 1e6

    @property
    def post_ms(self) -> float:
        return (self.answered_ns - self.sent_ns) / 1e6

    @property
    def after_answer_ms(self) -> float:
        return (self.started_ns - self.answered_ns) / 1e6


@dataclass
class RawStart:
    """One raw create+start of (a): instants in epoch ns."""

    before_create_ns: int
    created_ns: int
    start_returned_ns: int
    started_ns: int
    started_at_ns: int

    @property
    def start_ms(self) -> float:
        return (self.started_ns - self.before_create_ns) / 1e6

    @property
    def create_ms(self) -> float:
        return (self.created_ns - self.before_create_ns) / 1e6

    @property
    def returned_ms(self) -> float:
        return (self.start_returned_ns - self.before_create_ns) / 1e6

    @property
    def event_lag_ms(self) -> float:
        """How much later the 'start' event is stamped than the container's State.StartedAt."""
        return (self.started_ns - self.started_at_ns) / 1e6


class Bench:
    def __init__(self, stack: StackProcess, client: docker.DockerClient, events: ContainerEvents) -> None:
        self.stack = stack
        self.client = client
        self.api = client.api
        self.events = events
        self.session = requests.Session()
        self.task_id = f"bench-{uuid.uuid4().hex[:10]}"
        self.argv = shlex.split(COMMAND)
        self.docker_cli = shutil.which("docker") or "docker"

    # -- Slipway -------------------------------------------------------------------------------

    def post_job(self) -> tuple[int, int, dict[str, Any]]:
        sent = time.time_ns()
        response = self.session.post(
            f"{self.stack.base_url}/tasks/{self.task_id}/", json={"image": IMAGE, "command": COMMAND}, timeout=30
        )
        answered = time.time_ns()
        if response.status_code != 200:
            raise RuntimeError(f"POST answered {response.status_code}: {response.text[:500]}")
        return sent, answered, response.json()

    def execution_status(self, url: str) -> str:
        response = self.session.get(url, timeout=30)
        response.raise_for_status()
        return str(response.json()["execution"]["status"])

    def job_start(self) -> JobStart:
        sent, answered, body = self.post_job()
        execution_id = body["executionId"]
        started = self.events.wait("start", execution_id)
        # One job at a time: the next is sent only once the runner removed this one's container.
        self.events.wait("destroy", execution_id)
        status = self.execution_status(body["executionUrl"])
        if status != "done":
            raise RuntimeError(f"execution {execution_id} ended {status}, not done")
        return JobStart(sent, answered, started, execution_id)

    def job_done_ms(self, poll_seconds: float = 0.005) -> float:
        began = time.perf_counter()
        _, _, body = self.post_job()
        url = body["executionUrl"]
        while True:
            status = self.execution_status(url)
            if status in FINISHED:
                break
            time.sleep(poll_seconds)
        elapsed = (time.perf_counter() - began) * 1000
        if status != "done":
            raise RuntimeError(f"execution {body['executionId']} ended {status}, not done")
        self.events.wait("destroy", body["executionId"])
        return elapsed

    # -- Docker --------------------------------------------------------------------------------

    def raw_start(self) -> RawStart:
        key = uuid.uuid4().hex
        before = time.time_ns()
        container = self.api.create_container(
            image=IMAGE,
            command=self.argv,
            environment={},
            labels={RAW_LABEL: key},
            name=f"slipway-bench-{key}",
            detach=True,
            host_config=self.api.create_host_config(),
        )
        created = time.time_ns()
        try:
            self.api.start(container["Id"])
            returned = time.time_ns()
            started = self.events.wait("start", key)
            started_at = parse_docker_time(self.api.inspect_container(container["Id"])["State"]["StartedAt"])
            self.api.wait(container["Id"], timeout=30)
        finally:
            self.api.remove_container(container["Id"], force=True)
        self.events.wait("destroy", key)
        return RawStart(before, created, returned, started, started_at)

    def docker_run_ms(self) -> float:
        began = time.perf_counter()
        result = subprocess.run(
            [self.docker_cli, "run", "--rm", IMAGE, *self.argv], capture_output=True, check=False, timeout=60
        )
        elapsed = (time.perf_counter() - began) * 1000
        if result.returncode != 0:
            raise RuntimeError(f"docker run failed ({result.returncode}): {result.stderr.decode()[:500]}")
        return elapsed


# -- the run -----------------------------------------------------------------------------------


def progress(label: str, done: int, total: int) -> None:
    if not sys.stderr.isatty():
        if done == total:
            print(f"  {label}: {done}/{total}", file=sys.stderr, flush=True)
        return
    print(f"\r  {label}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def thirds(count: int) -> list[slice]:
    """The first, middle and last third of ``count`` samples (as slices)."""
    bounds = [round(count * part / 3) for part in range(4)]
    starts = [min(bounds[part], count - 1) for part in range(3)]
    return [slice(start, max(bounds[part + 1], start + 1)) for part, start in enumerate(starts)]


def measure_starts(bench: Bench, jobs: int, warmup: int, settle: float) -> dict[str, Any]:
    cold: list[JobStart] = []
    job_starts: list[JobStart] = []
    raw_starts: list[RawStart] = []
    for index in range(warmup + jobs):
        # Alternate which side goes first, so neither always follows the other's clean-up.
        def job(index: int = index) -> None:
            (cold if index < warmup else job_starts).append(bench.job_start())

        def raw(index: int = index) -> None:
            sample = bench.raw_start()
            if index >= warmup:
                raw_starts.append(sample)

        sides: list[Callable[[], None]] = [job, raw] if index % 2 == 0 else [raw, job]
        for side in sides:
            side()
            time.sleep(settle)
        if index >= warmup:
            progress("(a) start latency", index - warmup + 1, jobs)
    job_ms = [sample.start_ms for sample in job_starts]
    raw_ms = [sample.start_ms for sample in raw_starts]
    return {
        "definition": START_DEFINITION,
        "warmup_jobs_ms": [round(sample.start_ms, 3) for sample in cold],
        "job_ms": job_ms,
        "raw_ms": raw_ms,
        "job": summary(job_ms),
        "raw": summary(raw_ms),
        "job_post_response": summary([sample.post_ms for sample in job_starts]),
        "job_answer_to_start": summary([sample.after_answer_ms for sample in job_starts]),
        "raw_create_call": summary([sample.create_ms for sample in raw_starts]),
        "raw_start_call_returned": summary([sample.returned_ms for sample in raw_starts]),
        "raw_event_lag_after_started_at": summary([sample.event_lag_ms for sample in raw_starts]),
        "overhead_ms": {
            "p50": percentile(job_ms, 50) - percentile(raw_ms, 50),
            "p99": percentile(job_ms, 99) - percentile(raw_ms, 99),
            "max": max(job_ms) - max(raw_ms),
        },
        "overhead_paired_ms": summary([j - r for j, r in zip(job_ms, raw_ms, strict=True)]),
        # The emulator slows down as its tables fill, so say whether the overhead drifted in the run.
        "overhead_p50_by_third_ms": [
            percentile(job_ms[part], 50) - percentile(raw_ms[part], 50) for part in thirds(len(job_ms))
        ],
        # Instants (epoch ns) of each counted job, to line them up with the stack's own logs.
        "job_samples": [asdict(sample) for sample in job_starts],
    }


def measure_end_to_end(bench: Bench, runs: int, warmup: int, settle: float) -> dict[str, Any]:
    job_ms: list[float] = []
    run_ms: list[float] = []
    for index in range(warmup + runs):
        job = bench.job_done_ms()
        time.sleep(settle)
        run = bench.docker_run_ms()
        time.sleep(settle)
        if index >= warmup:
            job_ms.append(job)
            run_ms.append(run)
            progress("(b) end-to-end", index - warmup + 1, runs)
    ratios = [j / r for j, r in zip(job_ms, run_ms, strict=True)]
    return {
        "definition": "POST sent → GET of the executionUrl (polled every 5 ms) answers status done; "
        "vs `docker run --rm` through the CLI (subprocess), interleaved job then docker run",
        "job_ms": job_ms,
        "docker_run_ms": run_ms,
        "ratios": ratios,
        "job": summary(job_ms),
        "docker_run": summary(run_ms),
        "ratio": summary(ratios),
        "ratio_of_medians": percentile(job_ms, 50) / percentile(run_ms, 50),
    }


def verdict(value: float, limit: float) -> str:
    return "PASS" if value <= limit else "MISS"


def targets(starts: dict[str, Any], end_to_end: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": "start overhead p50 (ms)",
            "value": starts["overhead_ms"]["p50"],
            "limit": TARGET_OVERHEAD_P50_MS,
        },
        {
            "name": "start overhead p99 (ms)",
            "value": starts["overhead_ms"]["p99"],
            "limit": TARGET_OVERHEAD_P99_MS,
        },
        {
            "name": "end-to-end ratio, median (x)",
            "value": end_to_end["ratio"]["p50"],
            "limit": TARGET_RATIO,
        },
    ]


def row(label: str, stats: dict[str, float], unit: str = "ms") -> str:
    digits = 3 if unit == "x" else 1
    cells = "".join(f"{stats[key]:>10.{digits}f}" for key in ("p50", "p99", "max", "mean"))
    return f"  {label:<44}{cells}  {unit}"


def report(result: dict[str, Any]) -> str:
    starts, end_to_end = result["start_latency"], result["end_to_end"]
    header = f"  {'':<44}{'p50':>10}{'p99':>10}{'max':>10}{'mean':>10}"
    overhead = starts["overhead_ms"]
    lines = [
        "",
        f"Slipway core latency — local stack, image {IMAGE}, command `{COMMAND}`, jobs one at a time",
        f"  run at {result['run_at']} on {result['machine']['cpus']} CPUs; stage {result['stage']}",
        "",
        f"(a) start latency, {starts['job']['n']} jobs and {starts['raw']['n']} raw starts, alternating",
        f"    measured as: {starts['definition']}",
        header,
        row("job: POST → container started", starts["job"]),
        row("raw: docker SDK create+start → started", starts["raw"]),
        row(
            "overhead (job − raw, per percentile)", {**overhead, "mean": starts["job"]["mean"] - starts["raw"]["mean"]}
        ),
        row("overhead (job − raw, per pair)", starts["overhead_paired_ms"]),
        "    breakdown:",
        row("job: POST round trip (answer received)", starts["job_post_response"]),
        row("job: answer received → container started", starts["job_answer_to_start"]),
        row("raw: create_container call", starts["raw_create_call"]),
        row("raw: create+start calls returned", starts["raw_start_call_returned"]),
        row("raw: 'start' event − State.StartedAt", starts["raw_event_lag_after_started_at"]),
        "    overhead p50 in the first, middle and last third of the run: "
        + " / ".join(f"{ms:.1f}" for ms in starts["overhead_p50_by_third_ms"])
        + " ms",
        "    warm-up jobs, not counted (the first one also pays the runner's start-up and first-use clients): "
        + ", ".join(f"{ms:.1f}" for ms in starts["warmup_jobs_ms"])
        + " ms",
        "",
        f"(b) end-to-end, {end_to_end['job']['n']} pairs, a job then a `docker run --rm`",
        f"    measured as: {end_to_end['definition']}",
        header,
        row("job: POST → status done (GET, 5 ms polling)", end_to_end["job"]),
        row("docker run --rm (CLI)", end_to_end["docker_run"]),
        row("ratio job / docker run (per pair)", end_to_end["ratio"], unit="x"),
        f"  {'ratio of the medians':<44}{end_to_end['ratio_of_medians']:>10.3f}  x",
        "",
        "Targets",
    ]
    for target in result["targets"]:
        unit = "x" if "ratio" in target["name"] else "ms"
        lines.append(
            f"  {target['name']:<34} {target['value']:>9.{3 if unit == 'x' else 1}f}  ≤ {target['limit']:<7g}"
            f"{target['verdict']}"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.core_latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=60, help="jobs (and raw starts) measured in (a); at least 50")
    parser.add_argument("--runs", type=int, default=20, help="job / docker run pairs measured in (b); at least 20")
    parser.add_argument("--warmup", type=int, default=3, help="pairs run first and not counted, in each part")
    parser.add_argument("--settle", type=float, default=0.02, help="pause after each sample (seconds)")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "core_latency.json")
    parser.add_argument(
        "--stack-env", action="append", default=[], metavar="NAME=VALUE", help="extra environment of the stack"
    )
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.runs < 1 or args.warmup < 0:
        parser.error("--jobs and --runs must be positive, --warmup not negative")
    return args


@contextmanager
def open_bench(args: argparse.Namespace) -> Iterator[Bench]:
    """The Docker client, its event stream and a started stack; all released on the way out."""
    client = docker.from_env(timeout=60)
    client.images.get(IMAGE)  # fails early when bin/build-test-images was not run
    log_path = RESULTS_DIR / "stack.log"
    log_path.unlink(missing_ok=True)
    events = ContainerEvents(client, (EXECUTION_LABEL, RAW_LABEL))
    try:
        with StackProcess(log_path=log_path, extra_env=parse_env(args.stack_env)) as stack:
            yield Bench(stack, client, events)
    finally:
        events.close()
        client.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.jobs < 50 or args.runs < 20:
        print("note: fewer than 50 jobs or 20 runs: the percentiles are indicative only", file=sys.stderr)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    print("starting the local stack …", file=sys.stderr)
    with open_bench(args) as bench:
        starts = measure_starts(bench, args.jobs, args.warmup, args.settle)
        end_to_end = measure_end_to_end(bench, args.runs, args.warmup, args.settle)
        result: dict[str, Any] = {
            "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "image": IMAGE,
            "command": COMMAND,
            "stage": bench.stack.stage,
            "stack_env": parse_env(args.stack_env),
            "start_latency": starts,
            "end_to_end": end_to_end,
        }
        result["targets"] = [
            {**target, "verdict": verdict(target["value"], target["limit"])} for target in targets(starts, end_to_end)
        ]
    print(report(result))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nfigures written to {args.output}")
    return 0 if all(target["verdict"] == "PASS" for target in result["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
