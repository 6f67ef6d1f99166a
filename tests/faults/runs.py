"""A batch of short runs with known output and webhooks, and what a fault cost them.

Each run prints ``start-<n>``, sleeps, prints ``end-<n>``, and has a ``starts`` and a
``finishes`` webhook (with retries) on the fault's own paths of a real receiver. Once a fault
has been played, ``measure`` reads every execution (attempt) of every job back through the API
and counts, for the report's row:

- lost: a run whose last attempt did not end ``done`` with its whole stdout, or any attempt
  whose stored stdout is not what its container printed up to its end (a prefix of the whole,
  never empty once it started), or whose inline ``log`` disagrees with the stored stdout;
- duplicated: attempts for which Docker started more than one container;
- notifications missed / extra: per attempt, a ``starts`` POST is owed when its container
  started and a ``finishes`` POST when it ended; each must arrive exactly once.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import Api
from tests.faults.containers import ContainerStarts
from tests.integration.receivers import WebhookReceiver

FINISHED = {"done", "failed", "timedout", "stopped", "expired"}
KINDS = ("starts", "finishes")


@dataclass
class Row:
    fault: str
    runs: int = 0
    attempts: int = 0
    lost: int = 0
    duplicated: int = 0
    notifications_missed: int = 0
    notifications_extra: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.notifications_missed or self.notifications_extra)


@dataclass
class Run:
    index: int
    body: dict[str, Any]
    retries: int

    @property
    def expected(self) -> str:
        return f"start-{self.index}\nend-{self.index}\n"


class Batch:
    def __init__(self, api: Api, receiver: WebhookReceiver, task_id: str, fault: str) -> None:
        self.api = api
        self.receiver = receiver
        self.task_id = task_id
        self.fault = fault
        self.runs: list[Run] = []

    def _hook(self, kind: str) -> list[dict[str, Any]]:
        return [{"url": self.receiver.url(f"/{self.fault}/{kind}"), "retries": 6}]

    def enqueue(self, count: int, sleep: float = 3, retries: int = 1) -> list[Run]:
        added = []
        for _ in range(count):
            index = len(self.runs)
            command = f"sh -c 'echo start-{index}; sleep {sleep}; echo end-{index}'"
            hooks = {kind: self._hook(kind) for kind in KINDS}
            body = self.api.enqueue(self.task_id, command, retries=retries, webhooks=hooks)
            run = Run(index, body, retries)
            self.runs.append(run)
            added.append(run)
        return added

    def wait_running(self, at_least: int, timeout: float = 60) -> None:
        """Until ``at_least`` of the batch's runs are ``running``."""
        deadline = time.monotonic() + timeout
        running = 0
        while time.monotonic() < deadline:
            running = sum(
                self.api.get(run.body["executionUrl"]).json()["execution"]["status"] == "running" for run in self.runs
            )
            if running >= at_least:
                return
            time.sleep(0.2)
        raise AssertionError(f"{running} of {len(self.runs)} runs running after {timeout} s, expected {at_least}")

    def wait_settled(self, timeout: float = 120) -> list[list[dict[str, Any]]]:
        """Every run's attempts, oldest first, once its newest attempt has ended and owes no retry."""
        deadline = time.monotonic() + timeout
        settled: list[list[dict[str, Any]]] = []
        while time.monotonic() < deadline:
            settled = [self._attempts(run) for run in self.runs]
            if all(self._over(run, attempts) for run, attempts in zip(self.runs, settled, strict=True)):
                return settled
            time.sleep(0.5)
        states = [[attempt["status"] for attempt in attempts] for attempts in settled]
        raise AssertionError(f"the runs did not settle within {timeout} s: {states}")

    def attempts(self) -> list[dict[str, Any]]:
        """Every attempt of every run of the batch, as the API shows them now."""
        return [attempt for run in self.runs for attempt in self._attempts(run)]

    def _attempts(self, run: Run) -> list[dict[str, Any]]:
        job = self.api.get(run.body["jobUrl"]).json()["job"]
        return sorted(job["executions"], key=lambda execution: execution["executionId"])

    @staticmethod
    def _over(run: Run, attempts: list[dict[str, Any]]) -> bool:
        if not attempts or attempts[-1]["status"] not in FINISHED:
            return False
        # A failed attempt with retries left is followed by its retry (written in one transaction).
        return attempts[-1]["status"] == "done" or len(attempts) > run.retries

    def _owed(self, attempts: list[list[dict[str, Any]]]) -> Counter[tuple[str, str]]:
        owed: Counter[tuple[str, str]] = Counter()
        for execution in (attempt for run in attempts for attempt in run):
            if execution.get("startedAt"):
                owed[(execution["executionId"], "starts")] = 1
            owed[(execution["executionId"], "finishes")] = 1
        return owed

    def _delivered(self) -> Counter[tuple[str, str]]:
        delivered: Counter[tuple[str, str]] = Counter()
        for kind in KINDS:
            for hit in self.receiver.at(f"/{self.fault}/{kind}"):
                if hit.status < 400:
                    delivered[(str(hit.json["executionId"]), kind)] += 1
        return delivered

    def measure(self, starts: ContainerStarts, settle: float = 60, quiet: float = 3) -> Row:
        """Wait for the runs to settle and their notifications to arrive; count what was lost."""
        attempts = self.wait_settled()
        owed = self._owed(attempts)
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline and any(self._delivered()[key] < 1 for key in owed):
            time.sleep(0.2)
        time.sleep(quiet)  # a second delivery of any of them would have come by now
        delivered = self._delivered()
        row = Row(self.fault, runs=len(self.runs), attempts=sum(map(len, attempts)))
        for run, tries in zip(self.runs, attempts, strict=True):
            self._check_output(row, run, tries)
            for attempt in tries:
                made = starts.started(attempt["executionId"])
                if made > 1:
                    row.duplicated += 1
                    row.problems.append(f"{attempt['executionId']}: {made} containers started")
        for key, count in owed.items():
            if delivered[key] < count:
                row.notifications_missed += 1
                row.problems.append(f"{key[1]} of {key[0]}: not delivered")
        for key, count in delivered.items():
            if count > owed[key]:
                row.notifications_extra += count - owed[key]
                row.problems.append(f"{key[1]} of {key[0]}: delivered {count} times, owed {owed[key]}")
        return row

    def _check_output(self, row: Row, run: Run, attempts: list[dict[str, Any]]) -> None:
        last = attempts[-1]
        problems = []
        if last["status"] != "done":
            problems.append(f"run {run.index} ended {last['status']}: {last.get('error')!r}")
        for attempt in attempts:
            stdout = self.api.get(attempt["url"] + "stdout/").text
            if (attempt["log"] or "") != stdout:
                problems.append(f"{attempt['executionId']}: inline log {attempt['log']!r} but stdout {stdout!r}")
            if attempt["status"] == "done" and stdout != run.expected:
                problems.append(f"{attempt['executionId']}: done with stdout {stdout!r}, not {run.expected!r}")
            elif attempt.get("startedAt") and not (stdout and run.expected.startswith(stdout)):
                problems.append(f"{attempt['executionId']} ({attempt['status']}): stdout {stdout!r} lost")
        if problems:
            row.lost += 1
            row.problems += problems
