"""Ctrl-C during ``slipway run -f``, typed into a real terminal: tmux runs the CLI in a pane,
sends C-c and the answer to the CLI's question, and the pane's text is read back."""

from __future__ import annotations

import shlex
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infra.local.harness import StackProcess
from tests.cli.support import ROOT, SLIPWAY, cli_env
from tests.conftest import TEST_IMAGE, Api


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True, timeout=30).stdout


class Pane:
    def __init__(self, name: str) -> None:
        self.name = name

    def text(self) -> str:
        return tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", self.name)

    def wait_for(self, words: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.text()
            if words in shown:
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{words!r} never appeared in the pane; it shows:\n{self.text()}")

    def keys(self, *keys: str) -> None:
        tmux("send-keys", "-t", self.name, *keys)


@pytest.fixture
def pane_running(tmp_path: Path, stack: StackProcess) -> Iterator[Callable[[str], Pane]]:
    """Start ``slipway run -f`` of a long container in a tmux pane (a real terminal), under a
    task of the test's; the pane's shell prints the CLI's exit code when it ends."""
    names: list[str] = []

    def start(task_id: str) -> Pane:
        env = cli_env(stack.base_url)
        exports = "".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items() if key.isidentifier())
        command = [
            *SLIPWAY,
            "run",
            "-t",
            task_id,
            TEST_IMAGE,
            "sh",
            "-c",
            "while true; do echo tick; sleep 1; done",
            "-f",
        ]
        script = tmp_path / "run.sh"
        script.write_text(f'{exports}cd {shlex.quote(str(ROOT))}\n{shlex.join(command)}\necho "EXIT=$?"\nsleep 600\n')
        name = f"slipway-test-{uuid.uuid4().hex[:8]}"
        tmux("new-session", "-d", "-s", name, "-x", "200", "-y", "50", f"bash {shlex.quote(str(script))}")
        names.append(name)
        return Pane(name)

    yield start
    for name in names:
        subprocess.run(["tmux", "kill-session", "-t", name], check=False, capture_output=True, timeout=30)


def _latest_execution_url(api: Api, task_id: str) -> str:
    jobs = api.wait_for(f"/tasks/{task_id}/", lambda b: len(b["jobs"]) == 1)["jobs"]
    job = api.wait_for(jobs[0]["url"], lambda b: len(b["job"]["executions"]) == 1)["job"]
    return str(job["executions"][0]["url"])


def test_ctrl_c_then_stop_stops_the_execution(pane_running: Callable[[str], Pane], api: Api, task_id: str) -> None:
    pane = pane_running(task_id)
    pane.wait_for("tick")  # its lines are live in the terminal
    execution_url = _latest_execution_url(api, task_id)

    pane.keys("C-c")
    pane.wait_for("stop the execution, detach")
    pane.keys("stop", "Enter")

    assert api.wait_finished(execution_url)["status"] == "stopped"
    shown = pane.wait_for("EXIT=")
    assert "EXIT=130" in shown, shown
    assert "execution stopped" in shown


def test_ctrl_c_then_detach_leaves_it_running(pane_running: Callable[[str], Pane], api: Api, task_id: str) -> None:
    pane = pane_running(task_id)
    pane.wait_for("tick")
    execution_url = _latest_execution_url(api, task_id)

    pane.keys("C-c")
    pane.wait_for("stop the execution, detach")
    pane.keys("detach", "Enter")

    shown = pane.wait_for("EXIT=")
    assert "EXIT=0" in shown and "detached; follow it again with: slipway logs -f" in shown, shown
    time.sleep(2)
    assert api.get(execution_url).json()["execution"]["status"] == "running"
    api.post(execution_url + "stop/")
    assert api.wait_finished(execution_url)["status"] == "stopped"
