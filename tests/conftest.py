"""Session fixtures: one real local stack (the MiniStack emulator, API over HTTP, a runner on the real
Docker Engine), started once and shared; the test process reaches the same emulator.

The stack's ports and stage are chosen at import, and the test process's environment points at
them before any test asks for the settings (``get_settings()`` reads the environment once).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import pytest
import requests

from infra.local.harness import StackProcess

TEST_IMAGE = os.environ.get("SLIPWAY_TEST_IMAGE", "slipway-test/busybox:latest")
LOG_DIR = Path(__file__).resolve().parents[1] / ".local" / "test-logs"
LOG_DIR.mkdir(parents=True, exist_ok=True)

# Reconcile after 3 s (30 s by default) so the lost-message test does not wait long.
STACK = StackProcess(log_path=LOG_DIR / "stack.log", extra_env={"SLIPWAY_RECONCILE_AFTER_SECONDS": "3"})
os.environ.update(STACK.client_env())


@pytest.fixture(scope="session")
def stack() -> Iterator[StackProcess]:
    STACK.start()
    yield STACK
    STACK.stop()


class Api:
    """A requests session bound to the stack's base URL, with the waits tests need."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base_url + path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url(path), timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self.url(path), timeout=30, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.put(self.url(path), timeout=30, **kwargs)

    def enqueue(self, task_id: str, command: str, **body: Any) -> dict[str, Any]:
        response = self.post(f"/tasks/{task_id}/", json={"image": TEST_IMAGE, "command": command, **body})
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for(
        self, url: str, until: Callable[[dict[str, Any]], bool], timeout: float = 30.0, interval: float = 0.05
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = self.get(url)
            if response.status_code == 200:
                body = response.json()
                if until(body):
                    return body
            time.sleep(interval)
        raise AssertionError(f"{url} did not reach the expected state within {timeout} s; last: {body}")

    def wait_finished(self, execution_url: str, timeout: float = 30.0) -> dict[str, Any]:
        finished = {"done", "failed", "timedout", "stopped", "expired"}
        return self.wait_for(execution_url, lambda b: b["execution"]["status"] in finished, timeout)["execution"]


def containers_of(execution_id: str) -> list[str]:
    """Ids of the containers labelled with ``execution_id``, present or not yet removed.

    ``sparse=True`` lists without inspecting each container, so one being removed meanwhile
    cannot turn the listing into a 404.
    """
    found = docker.from_env().containers.list(
        all=True, sparse=True, filters={"label": f"slipway.execution={execution_id}"}
    )
    return [container.id for container in found]


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)


@pytest.fixture(scope="session")
def api(stack: StackProcess) -> Api:
    return Api(stack.base_url)


@pytest.fixture
def task_id(request: pytest.FixtureRequest) -> str:
    """A task id unique to the test (``test-name-<n>``)."""
    name = request.node.name.replace("_", "-").replace("[", "-").replace("]", "")[:60]
    return f"{name}-{time.monotonic_ns() % 10**9}"
