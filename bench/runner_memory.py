"""The runner's memory on huge outputs, through the real stack: is everything it holds bounded?

``python -m bench.runner_memory [--line-bytes N] [--log-bytes N]`` starts a local stack with no
runner of its own, then one ``python -m runner`` process (its pid is the one sampled). Cases:

- idle: the runner polling, nothing to run (the baseline);
- one line with no newline: ``head -c N /dev/zero`` (N = ``--line-bytes``, 2 GiB by default);
- a line-by-line log: ``yes 0123456789abcdef | head -c N`` (N = ``--log-bytes``, 200 MiB).

While a case runs, the runner's resident memory (``VmRSS`` of ``/proc/<pid>/status``) is read
every 50 ms; its peak is printed against the idle baseline of the same run. Afterwards the run's
stdout is read back whole through the API (``…/stdout/``, which redirects to S3 above 5 MB) and
hashed: the whole output is readable when its size and SHA-256 equal those of what the job
wrote (computed here from the same pattern), not just when an object of the right size exists.
Target (the issue): peak RSS under 200 MB, whole output readable. Figures are printed and
written to ``bench/results/runner_memory.json``; nothing here asserts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import boto3
import requests

from bench.figures import IMAGE, RESULTS, parse_env
from infra.local.harness import ROOT, StackProcess
from infra.local.stack import FAKE_CREDENTIALS, stop_process

LOG_DIR = ROOT / ".local" / "bench-logs"
FINISHED = frozenset({"done", "failed", "timedout", "stopped", "expired"})
TARGET_RSS_MB = 200.0
MIB = 1024 * 1024


@dataclass
class Case:
    name: str
    command: str
    bytes_written: int
    # What the command writes, repeated and cut at ``bytes_written``.
    pattern: bytes
    status: str = ""
    # The execution's error when it did not end done (the tail of its stderr, or the fault).
    error: str = ""
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    over_baseline_mb: float = 0.0
    stdout_object_bytes: int | None = None
    stdout_read_bytes: int = 0
    stdout_sha256_matches: bool = False
    whole_output_readable: bool = False
    under_target: bool = False


class RssSampler:
    """The peak VmRSS (MB) of one process between ``start`` and ``stop``."""

    def __init__(self, pid: int, period: float = 0.05) -> None:
        self.pid = pid
        self.period = period
        self.peak_kb = 0
        self.samples = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _read_kb(self) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def _loop(self) -> None:
        while not self._done.is_set():
            try:
                self.peak_kb = max(self.peak_kb, self._read_kb())
                self.samples += 1
            except OSError:
                return
            self._done.wait(self.period)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024


class Runner:
    """One ``python -m runner`` process on the stack."""

    def __init__(self, stack: StackProcess, extra: dict[str, str]) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SLIPWAY_"))}
        env.update(stack.client_env())
        env.update(extra)
        env["SLIPWAY_RUNNER_HOST"] = f"bench-memory-{uuid.uuid4().hex[:6]}"
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / "runner-memory.log"
        # The log is appended to run after run: only what this process writes counts.
        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed below, the child keeps its copy
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runner", "--log-level", "INFO"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        log.close()

    def wait_polling(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the runner exited with {self.process.returncode}; see {self.log_path}")
            if b"taking work" in self.log_path.read_bytes()[self._offset :]:
                return
            time.sleep(0.2)
        raise SystemExit(f"the runner did not start within {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        stop_process(self.process, "the benchmark's runner", grace=60)


def expected_sha256(pattern: bytes, size: int) -> str:
    """SHA-256 of ``pattern`` repeated and cut at ``size`` bytes, made a MiB at a time."""
    block = pattern * (MIB // len(pattern) + 1)
    digest = hashlib.sha256()
    offset = 0  # where in the pattern the next block starts
    left = size
    while left:
        chunk = (block[offset:] + block[:offset])[: min(MIB, left)]
        digest.update(chunk)
        offset = (offset + len(chunk)) % len(pattern)
        left -= len(chunk)
    return digest.hexdigest()


def read_back(session: requests.Session, url: str) -> Iterator[bytes]:
    """The execution's whole stdout through the API, as it streams (following the S3 redirect)."""
    with session.get(url, stream=True, allow_redirects=True, timeout=300) as answer:
        answer.raise_for_status()
        yield from answer.iter_content(MIB)


def run_case(stack: StackProcess, runner: Runner, case: Case, baseline_mb: float, timeout: float) -> Case:
    session = requests.Session()
    task = f"bench-memory-{case.name}-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    with RssSampler(runner.process.pid) as sampler:
        answer = session.post(
            f"{stack.base_url}/tasks/{task}/", json={"image": IMAGE, "command": case.command}, timeout=30
        )
        answer.raise_for_status()
        body = answer.json()
        execution: dict[str, Any] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                execution = session.get(body["executionUrl"], timeout=30).json()["execution"]
            except requests.RequestException as exc:  # a loaded machine: ask again
                print(f"  polling the execution failed ({exc}); asking again")
                continue
            if execution["status"] in FINISHED:
                break
            time.sleep(0.5)
    case.seconds = round(time.monotonic() - started, 1)
    case.status = execution.get("status", "?")
    case.error = "" if case.status == "done" else str(execution.get("error") or "")[-500:]
    case.peak_rss_mb = round(sampler.peak_mb, 1)
    case.over_baseline_mb = round(sampler.peak_mb - baseline_mb, 1)
    case.under_target = case.peak_rss_mb < TARGET_RSS_MB
    s3 = boto3.client(
        "s3",
        endpoint_url=stack.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    key = f"logs/{task}/{body['jobId']}/{body['executionId']}/stdout.log"
    try:
        head = s3.head_object(Bucket=f"{stack.stage}-slipway-logs", Key=key)
        case.stdout_object_bytes = int(head["ContentLength"])
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        print(f"  {case.name}: no stdout object ({exc})")
    digest = hashlib.sha256()
    for chunk in read_back(session, body["executionUrl"] + "stdout/"):
        digest.update(chunk)
        case.stdout_read_bytes += len(chunk)
    case.stdout_sha256_matches = digest.hexdigest() == expected_sha256(case.pattern, case.bytes_written)
    case.whole_output_readable = (
        case.status == "done"
        and case.stdout_object_bytes == case.bytes_written
        and case.stdout_read_bytes == case.bytes_written
        and case.stdout_sha256_matches
    )
    return case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--line-bytes", type=int, default=2048 * MIB, help="bytes of the one line (no newline)")
    parser.add_argument("--log-bytes", type=int, default=200 * MIB, help="bytes of the line-by-line log")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds each case may take")
    parser.add_argument("--stack-env", action="append", default=[], help="NAME=VALUE for the stack and runner")
    args = parser.parse_args()
    extra = parse_env(args.stack_env)
    # The job's own limit: a 2 GiB line through Docker's json-file log takes minutes on a busy host.
    extra.setdefault("SLIPWAY_HARD_TIMEOUT_SECONDS", str(int(args.timeout)))
    cases = [
        Case("one-line", f"head -c {args.line_bytes} /dev/zero", args.line_bytes, b"\0"),
        Case(
            "line-by-line",
            f"sh -c 'yes 0123456789abcdef | head -c {args.log_bytes}'",
            args.log_bytes,
            b"0123456789abcdef\n",
        ),
    ]
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with StackProcess(runners=0, extra_env=extra, log_path=LOG_DIR / "runner-memory-stack.log") as stack:
        runner = Runner(stack, extra)
        try:
            runner.wait_polling()
            time.sleep(3)  # the start's own allocations settle
            with RssSampler(runner.process.pid) as idle:
                time.sleep(5)
            baseline = round(idle.peak_mb, 1)
            print(f"runner pid {runner.process.pid}; idle baseline peak RSS {baseline} MB")
            for case in cases:
                print(f"{case.name}: {case.command} ({case.bytes_written} bytes = {case.bytes_written / MIB:.0f} MiB)")
                run_case(stack, runner, case, baseline, args.timeout)
                print(
                    f"  status {case.status} in {case.seconds} s; peak RSS {case.peak_rss_mb} MB"
                    f" (+{case.over_baseline_mb} MB over idle; target < {TARGET_RSS_MB:.0f} MB:"
                    f" {'yes' if case.under_target else 'NO'}); stdout object {case.stdout_object_bytes} bytes,"
                    f" read back {case.stdout_read_bytes} bytes of {case.bytes_written}, SHA-256"
                    f" {'matches' if case.stdout_sha256_matches else 'DIFFERS'}:"
                    f" whole output readable {'yes' if case.whole_output_readable else 'NO'}"
                )
                if case.error:
                    print(f"  error: {case.error}")
        finally:
            runner.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "baseline_rss_mb": baseline,
        "target_rss_mb": TARGET_RSS_MB,
        "cases": [{key: value for key, value in asdict(case).items() if key != "pattern"} for case in cases],
    }
    (RESULTS / "runner_memory.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS / 'runner_memory.json'}")


if __name__ == "__main__":
    main()
