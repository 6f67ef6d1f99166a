"""Session fixtures of the deployed-stack tests: the CDK app (``infra/cdk``) deployed once onto a
fresh local emulator by ``infra.local.deployed`` (``cdk bootstrap`` + ``cdk deploy``), with a
runner on the real Docker Engine configured from the stack's outputs.

Everything is reached the way a user reaches it: the REST API and the WebSocket API through the
emulator's API Gateway (the ``ApiUrl`` and ``WebSocketUrl`` outputs), which invokes the Lambda
functions packaged by ``chalice package``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.local.deployed import DeployedOptions, DeployedStack

ROOT = Path(__file__).resolve().parents[2]
WORK_DIR = ROOT / ".local" / "test-logs" / "deployed"
TEST_IMAGE = "slipway-test/busybox:latest"
FINISHED = {"done", "failed", "timedout", "stopped", "expired"}
# A run due later than the dispatcher's look-ahead (70 s) at enqueue: only a tick of the
# EventBridge schedule (each minute) can create it.
SCHEDULED_START_SECONDS = 75


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


class DeployedApi:
    """HTTP calls to the deployed REST API (through the emulator's API Gateway)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base_url + path

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Answer:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url(path), data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return Answer(response.status, response.read(), time.monotonic() - started)
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, exc.read(), time.monotonic() - started)

    def get(self, path: str) -> Answer:
        return self.call("GET", path)

    def enqueue(self, task_id: str, command: str, **extra: Any) -> dict[str, Any]:
        answer = self.call("POST", f"/tasks/{task_id}/", {"image": TEST_IMAGE, "command": command, **extra})
        assert answer.status == 200, answer.body
        return answer.json()

    def execution(self, url: str) -> dict[str, Any]:
        answer = self.get(url)
        assert answer.status == 200, answer.body
        return answer.json()["execution"]

    def wait_finished(self, url: str, timeout: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        execution: dict[str, Any] = {}
        while time.monotonic() < deadline:
            execution = self.execution(url)
            if execution["status"] in FINISHED:
                return execution
            time.sleep(0.1)
        raise AssertionError(f"{url} did not finish within {timeout} s; last: {execution}")


@pytest.fixture(scope="session")
def deployed() -> Iterator[DeployedStack]:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    stage = f"d{uuid.uuid4().hex[:7]}"
    options = DeployedOptions(
        stage=stage,
        work_dir=WORK_DIR,
        runner_log=WORK_DIR / "runner.log",
        # The runner's metrics go where the stack says (RunnerEnvironment: PutMetricData), every
        # second here rather than every minute.
        runner_env={"SLIPWAY_RUNNER_HOST": f"deployed-{stage}", "SLIPWAY_METRICS_FLUSH_SECONDS": "1"},
    )
    stack = DeployedStack(options).start()
    print(f"\ndeployed {stack.stack_name}: " + ", ".join(f"{k} {v:.1f} s" for k, v in stack.timings.items()))
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def api(deployed: DeployedStack) -> DeployedApi:
    return DeployedApi(deployed.rest_url)


@pytest.fixture(scope="session", autouse=True)
def scheduled_job(api: DeployedApi) -> dict[str, Any]:
    """Enqueued once the stack is up, before the first test, so its wait overlaps the others."""
    before = time.time()
    answer = api.enqueue("scheduled", "echo from the schedule", startIn=f"{SCHEDULED_START_SECONDS}s")
    return {**answer, "postedBetween": (before, time.time())}
