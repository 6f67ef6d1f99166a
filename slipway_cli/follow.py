"""Following an execution to its end: a spinner while it waits for a runner, pulls its image and
starts its container, then its lines live over the execution's WebSocket (stdout to stdout,
stderr to stderr, coloured on a terminal), and its outcome.

Ctrl-C asks whether to stop the execution (it is then followed until it ends ``stopped``), to
detach (it goes on running; ``slipway logs -f`` follows it again) or to go on following.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import click
from rich.console import Console
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect

from slipway_cli.client import ApiError, Client
from slipway_cli.targets import Target

FINISHED = frozenset({"done", "failed", "timedout", "stopped", "expired"})
# Seconds between two reads of an execution that has not started yet.
POLL_SECONDS = 0.25
# Seconds without a frame after which the execution's status is read again.
QUIET_SECONDS = 5.0
# Attempts to (re)open the WebSocket before giving up on live lines.
CONNECT_ATTEMPTS = 6
_WAITING = {
    "enqueued": "waiting for a runner",
    "pulling": "pulling the image and creating the container",
}
_RED, _RESET = "\x1b[31m", "\x1b[0m"
CHOICES = ("stop", "detach", "continue")


@dataclass(frozen=True)
class Outcome:
    status: str | None
    exit_code: int | None = None
    detached: bool = False
    error: str = ""


class Follower:
    def __init__(
        self,
        client: Client,
        target: Target,
        console: Console,
        out: TextIO | None = None,
        err: TextIO | None = None,
        ask: Callable[[], str] | None = None,
    ) -> None:
        self.client = client
        self.target = target
        self.console = console
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.colour = self.err.isatty() and "NO_COLOR" not in os.environ
        self.ask = ask or ask_on_interrupt
        self.shown = 0  # the highest seq printed: a reconnect's replay is not printed twice
        self.stop_requested = False

    # -- the whole follow, with Ctrl-C ---------------------------------------------------------

    def follow(self) -> Outcome:
        while True:
            try:
                return self._follow_once()
            except KeyboardInterrupt:
                if self.stop_requested:
                    return Outcome(None, detached=True)
                choice = self._choice()
                if choice == "detach":
                    self.console.print(f"detached; follow it again with: slipway logs -f {self._url()}")
                    return Outcome(None, detached=True)
                if choice == "stop":
                    self.client.post(self.target.path() + "stop/", base=self.target.base)
                    self.stop_requested = True
                    self.console.print("stop requested; waiting for the execution to end")

    def _choice(self) -> str:
        try:
            return self.ask()
        except (KeyboardInterrupt, EOFError, click.Abort):
            return "detach"

    def _follow_once(self) -> Outcome:
        execution = self.wait_started()
        if execution["status"] in FINISHED and self.shown == 0 and not execution.get("startedAt"):
            # Ended before it ran (stopped while enqueued, expired, its image not pulled).
            return self._outcome(execution)
        return self.stream()

    # -- before the container runs -------------------------------------------------------------

    def details(self) -> dict[str, Any]:
        return dict(self.client.get(self.target.path(), base=self.target.base)["execution"])

    def wait_started(self) -> dict[str, Any]:
        """The execution once it runs or has ended; a spinner (or, off a terminal, one line per
        state) meanwhile."""
        execution = self.details()
        if execution["status"] not in _WAITING:
            return execution
        with _Spinner(self.console, waiting_words(execution)) as update:
            while execution["status"] in _WAITING:
                time.sleep(POLL_SECONDS)
                execution = self.details()
                if execution["status"] in _WAITING:
                    update(waiting_words(execution))
        return execution

    # -- the live lines ------------------------------------------------------------------------

    def stream(self) -> Outcome:
        url = self.client.ws_url(self.target.path() + "ws/", base=self.target.base)
        failures = 0
        while True:
            try:
                with connect(url, additional_headers=self.client.config.headers, open_timeout=20) as socket:
                    failures = 0
                    done = self._read(socket)
                if done is not None:
                    return Outcome(str(done.get("status")), _int(done.get("exitCode")))
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError) as exc:
                if isinstance(exc, InvalidStatus) and exc.response.status_code in (401, 403, 404):
                    raise ApiError(f"the log stream refused the connection: {exc}") from exc
                failures += 1
                if failures >= CONNECT_ATTEMPTS:
                    return self._without_stream(f"the log stream kept failing ({exc})")
                time.sleep(min(0.5 * 2**failures, 5.0))

    def _read(self, socket: Any) -> dict[str, Any] | None:
        """Print frames until the done message (returned) or a close without one (None)."""
        quiet_since = time.monotonic()
        while True:
            try:
                raw = socket.recv(timeout=1.0)
            except TimeoutError:
                if time.monotonic() - quiet_since > QUIET_SECONDS:
                    quiet_since = time.monotonic()
                    execution = self.details()
                    if execution["status"] in FINISHED:
                        # Ended and its done message lost: the next connection replays it whole.
                        return None
                continue
            except ConnectionClosed:
                return None
            quiet_since = time.monotonic()
            message = json.loads(raw)
            self.print_lines(message.get("lines") or [])
            if message.get("done"):
                return dict(message)

    def print_lines(self, lines: list[dict[str, Any]]) -> None:
        wrote_out = wrote_err = False
        for line in lines:
            seq = int(line.get("seq") or 0)
            if seq and seq <= self.shown:
                continue
            self.shown = max(self.shown, seq)
            text = str(line.get("text", ""))
            if line.get("stream") == "stderr":
                self.err.write(f"{_RED}{text}{_RESET}\n" if self.colour else text + "\n")
                wrote_err = True
            else:
                self.out.write(text + "\n")
                wrote_out = True
        if wrote_out:
            self.out.flush()
        if wrote_err:
            self.err.flush()

    def _without_stream(self, why: str) -> Outcome:
        """No live lines: wait for the end by polling, then print the stored output."""
        self.console.print(f"{why}; waiting for the end and printing the stored output")
        execution = self.details()
        while execution["status"] not in FINISHED:
            time.sleep(1.0)
            execution = self.details()
        if self.shown == 0:
            self.out.write(self.client.text(self.target.path() + "stdout/", base=self.target.base))
            self.out.flush()
            self.err.write(self.client.text(self.target.path() + "stderr/", base=self.target.base))
            self.err.flush()
        return self._outcome(execution)

    def _outcome(self, execution: dict[str, Any]) -> Outcome:
        return Outcome(execution["status"], _int(execution.get("exitCode")), error=execution.get("error") or "")

    def _url(self) -> str:
        return self.client.url(self.target.path(), base=self.target.base)


class _Spinner:
    """A spinner on a terminal; elsewhere one line on stderr each time the words change."""

    def __init__(self, console: Console, words: str) -> None:
        self.console = console
        self.words = words
        self._live: Any = None

    def __enter__(self) -> Callable[[str], None]:
        if self.console.is_terminal:
            self._live = self.console.status(self.words)
            self._live.__enter__()
        else:
            self.console.print(self.words, highlight=False)
        return self.update

    def update(self, words: str) -> None:
        if words == self.words:
            return
        self.words = words
        if self._live is not None:
            self._live.update(words)
        else:
            self.console.print(words, highlight=False)

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)


def waiting_words(execution: dict[str, Any]) -> str:
    """What a run that has not started is waiting for, in words (no clock in them, so the
    line changes only when the state does)."""
    status = execution["status"]
    due = execution.get("scheduledFor")
    if status == "enqueued" and due and _in_future(due):
        return f"enqueued: scheduled for {due[:19].replace('T', ' ')} UTC…"
    return f"{status}: {_WAITING.get(status, status)}…"


def _in_future(iso: str) -> bool:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC) > datetime.now(UTC)


def ask_on_interrupt() -> str:
    """The question Ctrl-C asks (on a terminal); off one, the CLI detaches without asking."""
    if not sys.stdin.isatty():
        return "detach"
    answer: str = click.prompt(
        "\nCtrl-C: stop the execution, detach (it goes on running), or continue following?",
        type=click.Choice([*CHOICES, "s", "d", "c"]),
        default="detach",
        show_choices=True,
        err=True,
    )
    return next(choice for choice in CHOICES if choice.startswith(answer))


def wait_for_execution(client: Client, target: Target, console: Console) -> Target:
    """A job's latest execution, waiting (a spinner) while the job has none yet: a delayed or
    cron job's first run appears at its instant."""
    path = target.job_path()
    job = client.get(path, base=target.base)["job"]
    spinner: AbstractContextManager[Any] = nullcontext()
    if not job["executions"]:
        due = job.get("nextRunAt")
        words = f"waiting for the job's first run (due {due} UTC)" if due else "waiting for the job's first run"
        if console.is_terminal:
            spinner = console.status(words)
        else:
            console.print(words)
    with spinner:
        while not job["executions"]:
            time.sleep(POLL_SECONDS * 2)
            job = client.get(path, base=target.base)["job"]
    latest = job["executions"][0]["executionId"]
    return Target(target.task_id, target.job_id, latest, base=target.base)


def _int(value: object) -> int | None:
    return None if value is None else int(str(value))
