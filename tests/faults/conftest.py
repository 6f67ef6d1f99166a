"""The fault-injection suite's fixtures: a whole local stack of its own (no runner of its own;
each test starts real ``python -m runner`` processes), a real webhook receiver, and the report.

Each test plays one fault while a batch of runs is in flight and adds its row to the report
(fault | runs | lost | duplicated | notifications missed), printed at the end of the session.
The suite runs after the rest of ``bin/test``, in one process (``-n 0``): it pauses processes
and restarts a Docker daemon, which must not share the machine's cores with timing-sensitive
tests.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from infra.local.harness import StackProcess
from tests.conftest import LOG_DIR, Api
from tests.faults.runs import Row
from tests.integration.receivers import WebhookReceiver
from tests.integration.test_self_healing import SETTINGS, Runners

# A silent runner is given up after this long: more than the 10 s the AWS endpoint is paused.
STALE_SECONDS = 20
# The self-healing suite's short settings, plus: webhook retries at most 4 s apart, and a
# runner's open circuit (Docker faults) probing again after 5 s instead of a minute, so the
# runs a Docker fault hands back start again within the suite's time.
FAULT_SETTINGS = {
    **SETTINGS,
    "SLIPWAY_EXECUTION_STALE_SECONDS": str(STALE_SECONDS),
    "SLIPWAY_WEBHOOK_BACKOFF_MAX_MS": "4000",
    "SLIPWAY_CIRCUIT_RESET_SECONDS": "5",
}
# The Docker-daemon restart runs on CI, or when asked for (SLIPWAY_FAULTS_DOCKER=1).
DOCKER_FAULTS = os.environ.get("CI") == "true" or os.environ.get("SLIPWAY_FAULTS_DOCKER") == "1"

REPORT: list[Row] = []


@pytest.fixture(scope="session")
def fault_stack() -> Iterator[StackProcess]:
    stack = StackProcess(runners=0, extra_env=FAULT_SETTINGS, log_path=LOG_DIR / "faults-stack.log")
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def fault_api(fault_stack: StackProcess) -> Api:
    return Api(fault_stack.base_url)


class FaultRunners(Runners):
    """Runners with the suite's settings (the same as the stack's reconciler and dispatcher)."""

    def start(self, host: str, env_extra: dict[str, str] | None = None, **settings: str) -> subprocess.Popen[bytes]:
        # ``Runners`` applies the self-healing settings over ``env_extra``: the stale threshold,
        # which differs, goes as a setting, applied last.
        env = {**FAULT_SETTINGS, **(env_extra or {})}
        return super().start(host, env, execution_stale_seconds=str(STALE_SECONDS), **settings)


@pytest.fixture
def fault_runners(fault_stack: StackProcess) -> Iterator[FaultRunners]:
    started = FaultRunners(fault_stack)
    yield started
    started.stop_all()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    started = WebhookReceiver().start()
    yield started
    started.stop()


def report(row: Row) -> None:
    """Add ``row`` to the session's table and print it (``-s`` shows it at once)."""
    REPORT.append(row)
    print(f"\n{format_table([row])}")
    for problem in row.problems:
        print(f"  {problem}")


def format_table(rows: list[Row]) -> str:
    header = ("fault", "runs", "attempts", "lost", "duplicated", "notifications missed", "notifications extra")
    lines = [header] + [
        (
            row.fault,
            str(row.runs),
            str(row.attempts),
            str(row.lost),
            str(row.duplicated),
            str(row.notifications_missed),
            str(row.notifications_extra),
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    text = [" | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in lines]
    text.insert(1, "-|-".join("-" * width for width in widths))
    return "\n".join(text)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT:
        terminalreporter.write_sep("=", "fault injection")
        terminalreporter.write_line(format_table(REPORT))
