"""Starting a whole local stack in a child process, for tests and benchmarks.

Each harness gets free ports and its own stage (so its own tables, queues and bucket), so
several can run at once on one machine without seeing each other's data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from infra.local.stack import FAKE_CREDENTIALS, free_port, stop_process, wait_for_http

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class StackProcess:
    runners: int = 1
    # One runner per entry, each with these extra variables (e.g. its pool); replaces ``runners``.
    runner_envs: list[dict[str, str]] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    stage: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:8]}")
    port: int = field(default_factory=free_port)
    emulator_port: int = field(default_factory=free_port)
    # Keep the emulator's state in this folder (None: in memory only, gone with the stack).
    data_dir: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    def client_env(self) -> dict[str, str]:
        """The environment a process needs to reach this stack's AWS resources directly."""
        return {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "SLIPWAY_STAGE": self.stage,
        }

    def start(self, timeout: float = 60.0, extra_args: list[str] | None = None) -> StackProcess:
        """Start it (again, after ``stop``: same ports, stage and data folder); ``extra_args`` go
        to ``python -m infra.local`` (e.g. ``--fresh``)."""
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SLIPWAY_"))}
        env.update(self.client_env())
        env.update(self.extra_env)
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        command = [sys.executable, "-m", "infra.local", "--port", str(self.port)]
        command += ["--emulator-port", str(self.emulator_port), "--stage", self.stage, "--runners", str(self.runners)]
        command += ["--ephemeral"] if self.data_dir is None else ["--data-dir", str(self.data_dir)]
        for runner_env in self.runner_envs:
            command += ["--runner-env", json.dumps(runner_env)]
        command += extra_args or []
        env.pop("AWS_ENDPOINT_URL")  # the stack starts its own emulator on --emulator-port
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)
        wait_for_http(f"{self.base_url}/healthcheck/", timeout=timeout, process=self.process)
        return self

    def emulator_pid(self) -> int:
        """The pid of the stack's own AWS emulator (a child of the stack process), for tests that
        pause it (SIGSTOP/SIGCONT) as an AWS endpoint that stops answering."""
        assert self.process is not None, "the stack is not started"
        for child in _children(self.process.pid):
            with open(f"/proc/{child}/cmdline", "rb") as cmdline:
                if b"ministack_main.py" in cmdline.read():
                    return child
        raise LookupError(f"no emulator among the children of the stack process {self.process.pid}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, "local stack", grace=40)

    def __enter__(self) -> StackProcess:
        return self.start()

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.stop()


def _children(pid: int) -> list[int]:
    """The pids of ``pid``'s child processes (Linux: ``/proc/<pid>/task/*/children``)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found
