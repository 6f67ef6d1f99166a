"""``prune`` on the real Docker Engine: leftovers of finished executions go, nothing else does."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import docker
import pytest

from chalicelib.settings import get_settings
from runner.docker_engine import DockerEngine
from runner.prune import prune
from tests.conftest import TEST_IMAGE, Api


@pytest.fixture
def made() -> Iterator[list[str]]:
    """Containers this test makes by hand; whatever prune left is removed at the end."""
    ids: list[str] = []
    yield ids
    client = docker.from_env()
    for container_id in ids:
        with contextlib.suppress(docker.errors.NotFound):
            client.api.remove_container(container_id, force=True)


def _leftover(made: list[str], stage: str, task_id: str, job_id: str, execution_id: str) -> str:
    labels = {
        "slipway.stage": stage,
        "slipway.host": "a-runner-that-died",
        "slipway.task": task_id,
        "slipway.job": job_id,
        "slipway.execution": execution_id,
    }
    container = docker.from_env().api.create_container(TEST_IMAGE, ["true"], labels=labels)
    made.append(container["Id"])
    return container["Id"]


def _exists(container_id: str) -> bool:
    return bool(docker.from_env().api.containers(all=True, filters={"id": container_id}))


def test_prune_removes_leftovers_of_finished_executions_only(api: Api, task_id: str, made: list[str]) -> None:
    stage = get_settings().stage
    finished = api.enqueue(task_id, "true")
    api.wait_finished(finished["executionUrl"])
    of_finished = _leftover(made, stage, task_id, finished["jobId"], finished["executionId"])
    dangling = _leftover(made, stage, task_id, str(uuid.uuid4()), str(uuid.uuid4()))
    other_stage = _leftover(made, f"other-{uuid.uuid4().hex[:6]}", task_id, finished["jobId"], finished["executionId"])
    running = api.enqueue(task_id, "sleep 4")
    execution = api.wait_for(running["executionUrl"], lambda b: b["execution"]["status"] == "running")["execution"]
    of_running = execution["metadata"]["container_id"]

    planned = prune(get_settings(), DockerEngine(), dry_run=True)
    assert _exists(of_finished)
    removed = prune(get_settings(), DockerEngine())

    assert [p.container_id for p in planned] == [p.container_id for p in removed] == [of_finished]
    assert removed[0].reason == "execution done" and removed[0].execution_id == finished["executionId"]
    assert not _exists(of_finished)
    assert _exists(dangling) and _exists(other_stage) and _exists(of_running)

    removed = prune(get_settings(), DockerEngine(), dangling_after=0)

    assert [(p.container_id, p.reason) for p in removed] == [(dangling, "no such execution")]
    assert _exists(other_stage) and _exists(of_running)
    assert api.wait_finished(running["executionUrl"])["status"] == "done"
