"""Runner throughput against a raw Docker loop, at concurrency 1, 2 and 4, in the same run.

``python -m bench.runner_throughput [--jobs N] [--concurrency 1 2 4]`` starts a local stack
with no runner of its own. For each concurrency c:

- Slipway: N trivial jobs (``true``) are enqueued through the API *before* a runner starts
  (so the API's speed is not measured), then ``python -m runner`` starts with
  ``SLIPWAY_RUNNER_CONCURRENCY=c``. containers/s = N / (last ``finishedAt`` − first
  ``startedAt``), both read from the executions: the window opens once the first container has
  started and closes when the last one's result is stored.
- Raw Docker: the same N containers through the docker SDK on c threads, each doing
  create → start → wait → logs → remove. The window opens when the first ``start`` returns and
  closes when the last one's logs are read: the same two points as the runner's timestamps.

The ratio is Slipway / raw (target ≥ 0.9): the median of the ratios of ``--rounds`` rounds, each
a raw loop then the Slipway run, so both sides of a ratio share the machine's load
of that moment. The rates shown are the medians of each side. Figures are printed and written
to ``bench/results/runner_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import requests

from infra.local.harness import ROOT, StackProcess
from infra.local.stack import stop_process

IMAGE = os.environ.get("SLIPWAY_TEST_IMAGE", "slipway-test/busybox:latest")
COMMAND = "true"
RAW_LABEL = "slipway-bench.throughput"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
LOG_DIR = ROOT / ".local" / "bench-logs"
FINISHED = frozenset({"done", "failed", "timedout", "stopped", "expired"})
TARGET_RATIO = 0.9


@dataclass
class Figure:
    concurrency: int
    jobs: int
    slipway_per_s: float
    raw_per_s: float
    # Median of the per-round ratios: each round's raw and Slipway share that moment's load.
    ratio: float
    rounds: list[tuple[float, float]]


def parse_iso(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC).timestamp()


# -- raw Docker ----------------------------------------------------------------------------------


def raw_rate(client: docker.DockerClient, jobs: int, concurrency: int) -> float:
    api = client.api
    run_label = uuid.uuid4().hex[:8]
    starts: list[float] = []
    ends: list[float] = []
    lock = threading.Lock()

    def one(_: int) -> None:
        container = api.create_container(IMAGE, [COMMAND], labels={RAW_LABEL: run_label}, detach=True)
        api.start(container["Id"])
        started = time.time()
        api.wait(container["Id"])
        api.logs(container["Id"], stdout=True, stderr=True)
        ended = time.time()
        api.remove_container(container["Id"], force=True)
        with lock:
            starts.append(started)
            ends.append(ended)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(jobs)))
    return jobs / (max(ends) - min(starts))


# -- Slipway ---------------------------------------------------------------------------------------


class Runner:
    """One ``python -m runner`` process on the stack."""

    def __init__(self, stack: StackProcess, concurrency: int) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SLIPWAY_"))}
        env.update(stack.client_env())
        env["SLIPWAY_RUNNER_CONCURRENCY"] = str(concurrency)
        env["SLIPWAY_RUNNER_HOST"] = f"bench-c{concurrency}-{uuid.uuid4().hex[:6]}"
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = open(LOG_DIR / f"runner-throughput-c{concurrency}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen([sys.executable, "-m", "runner"], cwd=ROOT, env=env, stdout=log, stderr=log)
        log.close()

    def stop(self) -> None:
        stop_process(self.process, "the benchmark's runner", grace=60)


def slipway_rate(stack: StackProcess, session: requests.Session, jobs: int, concurrency: int) -> float:
    task_id = f"throughput-c{concurrency}-{uuid.uuid4().hex[:6]}"
    urls: list[str] = []
    for _ in range(jobs):
        response = session.post(
            f"{stack.base_url}/tasks/{task_id}/", json={"image": IMAGE, "command": COMMAND}, timeout=30
        )
        response.raise_for_status()
        urls.append(response.json()["executionUrl"])
    # Nothing polls the API while the runner works (it would compete with it for the CPU): the
    # end is seen in Docker's events, the runner removing each container after storing its result.
    removed = ContainerRemovals(stack.stage)
    runner = Runner(stack, concurrency)
    try:
        removed.wait(jobs)
        executions = [wait_finished(session, url) for url in urls]
    finally:
        runner.stop()
        removed.close()
    failed = [e for e in executions if e["status"] != "done"]
    if failed:
        raise RuntimeError(f"{len(failed)} job(s) did not end done, e.g. {failed[0]}")
    first = min(parse_iso(e["startedAt"]) for e in executions)
    last = max(parse_iso(e["finishedAt"]) for e in executions)
    return jobs / (last - first)


class ContainerRemovals:
    """Counts the ``destroy`` events of one stage's containers, from a ``docker events`` stream."""

    def __init__(self, stage: str) -> None:
        self._stream = docker.from_env().api.events(
            decode=True, filters={"type": "container", "event": "destroy", "label": f"slipway.stage={stage}"}
        )
        self._count = 0
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for _ in self._stream:
                with self._changed:
                    self._count += 1
                    self._changed.notify_all()
        except Exception:  # noqa: BLE001 - the stream ends with an error when closed
            return

    def wait(self, count: int, timeout: float = 600) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self._count >= count, timeout=timeout):
                raise TimeoutError(f"only {self._count} of {count} containers ended within {timeout} s")

    def close(self) -> None:
        self._stream.close()


def wait_finished(session: requests.Session, url: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = session.get(url, timeout=30).json()["execution"]
        if execution["status"] in FINISHED:
            return execution
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not finish within {timeout} s")


# -- report --------------------------------------------------------------------------------------


def report(figures: list[Figure]) -> str:
    lines = [
        f"{'concurrency':>11}  {'jobs':>5}  {'slipway c/s':>11}  {'raw c/s':>8}  {'ratio':>6}  target ≥ {TARGET_RATIO}",
    ]
    for f in figures:
        verdict = "ok" if f.ratio >= TARGET_RATIO else "BELOW"
        rates = f"{f.slipway_per_s:>11.2f}  {f.raw_per_s:>8.2f}"
        lines.append(f"{f.concurrency:>11}  {f.jobs:>5}  {rates}  {f.ratio:>6.2f}  {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.runner_throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=40, help="containers per measurement")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--rounds", type=int, default=5, help="alternating raw/Slipway rounds; medians are kept")
    args = parser.parse_args(argv)
    client = docker.from_env()
    session = requests.Session()
    figures: list[Figure] = []
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with StackProcess(runners=0, log_path=LOG_DIR / "runner-throughput-stack.log") as stack:
        raw_rate(client, 4, 1)  # warm the image and the daemon
        for concurrency in args.concurrency:
            raws: list[float] = []
            slipways: list[float] = []
            for _ in range(args.rounds):
                raws.append(raw_rate(client, args.jobs, concurrency))
                slipways.append(slipway_rate(stack, session, args.jobs, concurrency))
                print(f"  c={concurrency}: slipway {slipways[-1]:.2f} c/s, raw {raws[-1]:.2f} c/s", flush=True)
            ratio = statistics.median(s / r for s, r in zip(slipways, raws, strict=True))
            rounds = list(zip(slipways, raws, strict=True))
            figures.append(
                Figure(concurrency, args.jobs, statistics.median(slipways), statistics.median(raws), ratio, rounds)
            )
            print(report(figures[-1:]).splitlines()[-1], flush=True)
    print()
    print(report(figures))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    result = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "command": COMMAND,
        "target_ratio": TARGET_RATIO,
        "figures": [asdict(f) for f in figures],
    }
    (RESULTS_DIR / "runner_throughput.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
