"""The container sandbox on a stack of its own, on the real Docker Engine.

Two pools: ``locked`` (a non-root user, a read-only root with a tmpfs /tmp, NET_BIND_SERVICE
kept, a 1 GiB memory ceiling) and ``rest`` (the service's defaults). Both put their containers
on a Docker network of this module's own, so the tests do not depend on the default bridge.
``docker inspect`` shows what the runner asked for; a fork bomb and a memory hog end ``failed``
with a clear error while another job of the same runner runs to ``done``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker
import pytest

from infra.local.harness import StackProcess
from tests.conftest import LOG_DIR, TEST_IMAGE, Api

NETWORK = f"slipway-sandbox-{uuid.uuid4().hex[:8]}"
MiB = 1024 * 1024
POOLS = [
    {
        "name": "locked",
        "match": "locked-.+",
        "sandbox": {
            "user": "1000:1000",
            "readOnly": True,
            "capAdd": ["NET_BIND_SERVICE"],
            "maxMemory": "1Gi",
            "network": NETWORK,
        },
    },
    {"name": "rest", "match": "", "sandbox": {"network": NETWORK}},
]
STACK = StackProcess(
    log_path=LOG_DIR / "sandbox-stack.log",
    extra_env={
        "SLIPWAY_POOLS": json.dumps(POOLS),
        # Look for a fork bomb every second rather than every 5 s: the test waits less.
        "SLIPWAY_SANDBOX_PIDS_WATCH_SECONDS": "1",
    },
)
FORK_BOMB = "bash -c ':(){ :|:& };:; sleep 120'"
MEMORY_HOG = "sh -c 'head -c 2147483648 /dev/zero | tail'"


@pytest.fixture(scope="module")
def sandboxed() -> Iterator[Api]:
    client = docker.from_env()
    network = client.networks.create(NETWORK, driver="bridge")
    try:
        STACK.start()
        try:
            yield Api(STACK.base_url)
        finally:
            STACK.stop()
    finally:
        network.remove()


def _task(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _enqueue(api: Api, task_id: str, command: str, **body: Any) -> dict[str, Any]:
    response = api.post(f"/tasks/{task_id}/", json={"image": TEST_IMAGE, "command": command, **body})
    assert response.status_code == 200, response.text
    return response.json()


def _wait_running(api: Api, job: dict[str, Any]) -> dict[str, Any]:
    # Generous: the first job of a fresh stack on a loaded 2-core machine can wait a while.
    return api.wait_for(job["executionUrl"], lambda b: b["execution"]["status"] == "running", timeout=90)["execution"]


def _container_of(execution_id: str) -> Any:
    [container] = docker.from_env().containers.list(filters={"label": f"slipway.execution={execution_id}"})
    return container


def test_docker_inspect_shows_the_limits_and_options_the_runner_asked_for(sandboxed: Api) -> None:
    resources = {"memory": "256Mi", "cpus": 0.5, "pids": 64}
    job = _enqueue(sandboxed, _task("locked"), "sleep 60", resources=resources)
    running = _wait_running(sandboxed, job)

    attrs = _container_of(job["executionId"]).attrs
    host = attrs["HostConfig"]
    assert host["Memory"] == 256 * MiB
    assert host["MemorySwap"] == 256 * MiB  # no swap on top of the limit
    assert host["NanoCpus"] == 500_000_000
    assert host["PidsLimit"] == 64
    assert host["SecurityOpt"] == ["no-new-privileges:true"]
    assert host["CapDrop"] == ["ALL"]
    assert host["CapAdd"] == ["NET_BIND_SERVICE"]
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1g", "max-file": "2"}}
    assert host["ReadonlyRootfs"] is True
    assert "/tmp" in host["Tmpfs"]
    assert host["NetworkMode"] == NETWORK
    assert attrs["Config"]["User"] == "1000:1000"
    # The execution and the job say what was applied.
    applied = running["sandbox"]
    assert applied["memory"] == "256Mi" and applied["cpus"] == 0.5 and applied["pids"] == 64
    assert applied["user"] == "1000:1000" and applied["readOnly"] is True and applied["network"] == NETWORK
    assert applied["capDrop"] == ["ALL"] and applied["capAdd"] == ["NET_BIND_SERVICE"]
    metadata = sandboxed.get(job["jobUrl"]).json()["job"]["metadata"]
    assert metadata["resources"] == resources
    assert metadata["sandbox"]["memoryBytes"] == 256 * MiB

    assert sandboxed.post(job["executionUrl"] + "stop/").status_code == 200
    assert sandboxed.wait_finished(job["executionUrl"])["status"] == "stopped"


def test_a_job_without_resources_gets_the_pools_defaults(sandboxed: Api) -> None:
    job = _enqueue(sandboxed, _task("plain"), "sleep 60")
    _wait_running(sandboxed, job)

    host = _container_of(job["executionId"]).attrs["HostConfig"]
    assert (host["Memory"], host["NanoCpus"], host["PidsLimit"]) == (512 * MiB, 1_000_000_000, 256)
    assert host["ReadonlyRootfs"] is False and host["CapAdd"] is None

    sandboxed.post(job["executionUrl"] + "stop/")
    sandboxed.wait_finished(job["executionUrl"])


def test_the_read_only_root_refuses_writes_but_tmp_and_the_user_are_as_the_pool_says(sandboxed: Api) -> None:
    task = _task("locked")
    refused = _enqueue(sandboxed, task, "touch /written")
    allowed = _enqueue(sandboxed, task, "sh -c 'touch /tmp/written && id -u'")

    refused_run = sandboxed.wait_finished(refused["executionUrl"], 90)
    allowed_run = sandboxed.wait_finished(allowed["executionUrl"], 90)

    assert refused_run["status"] == "failed"
    assert "Read-only file system" in refused_run["error"]
    assert allowed_run["status"] == "done", allowed_run
    assert allowed_run["log"].strip() == "1000"


def _run_beside(api: Api, hostile: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``hostile`` and an ordinary job enqueued at once on the same runner: both to their end."""
    calm = _enqueue(api, _task("calm"), "bash -c 'sleep 4; echo still-fine'")
    with ThreadPoolExecutor(max_workers=2) as pool:
        ends = [pool.submit(api.wait_finished, job["executionUrl"], 90) for job in (hostile, calm)]
        return ends[0].result(), ends[1].result()


def test_a_fork_bomb_fails_with_its_process_limit_while_another_job_finishes(sandboxed: Api) -> None:
    bomb = _enqueue(sandboxed, _task("bomb"), FORK_BOMB, resources={"pids": 64}, timeout=80)

    bombed, calm = _run_beside(sandboxed, bomb)

    assert bombed["status"] == "failed", bombed
    assert "reached its limit of 64 processes (pids)" in bombed["error"]
    assert calm["status"] == "done" and calm["log"] == "still-fine\n"
    # The runner goes on taking work.
    after = _enqueue(sandboxed, _task("after"), "echo after-the-bomb")
    assert sandboxed.wait_finished(after["executionUrl"])["log"] == "after-the-bomb\n"


def test_a_memory_hog_is_killed_out_of_memory_while_another_job_finishes(sandboxed: Api) -> None:
    hog = _enqueue(sandboxed, _task("hog"), MEMORY_HOG, resources={"memory": "64Mi"})

    hogged, calm = _run_beside(sandboxed, hog)

    assert hogged["status"] == "failed", hogged
    assert hogged["exitCode"] == 137
    assert "out of memory" in hogged["error"] and "64Mi" in hogged["error"]
    assert calm["status"] == "done" and calm["log"] == "still-fine\n"


@pytest.mark.parametrize(
    ("prefix", "resources", "message"),
    [
        ("plain", {"memory": "4Gi"}, "resources.memory '4Gi' is above the pool's ceiling '2Gi'"),
        ("locked", {"memory": "1536Mi"}, "above the pool's ceiling '1Gi'"),
        ("plain", {"cpus": 3}, "resources.cpus"),
        ("plain", {"pids": 100000}, "resources.pids"),
        ("plain", {"memory": "lots"}, "is not a size"),
        ("plain", {"memory": "1Mi"}, "below Docker's smallest limit"),
        ("plain", {"gpus": 1}, "unknown keys gpus"),
        ("plain", {"cpus": "half"}, "resources.cpus must be a number"),
    ],
)
def test_resources_above_the_ceiling_or_malformed_are_a_400_and_nothing_is_stored(
    sandboxed: Api, prefix: str, resources: dict[str, Any], message: str
) -> None:
    task = _task(prefix)
    response = sandboxed.post(f"/tasks/{task}/", json={"image": TEST_IMAGE, "command": "true", "resources": resources})

    assert response.status_code == 400
    assert response.json()["field"] == "resources"
    assert message in response.json()["error"]
    assert sandboxed.get(f"/tasks/{task}/").status_code == 404


def test_status_shows_each_pools_defaults_and_ceiling(sandboxed: Api) -> None:
    pools = {pool["name"]: pool for pool in sandboxed.get("/status/").json()["pools"]}

    locked, rest = pools["locked"]["sandbox"], pools["rest"]["sandbox"]
    assert locked["ceiling"]["memory"] == "1Gi" and rest["ceiling"]["memory"] == "2Gi"
    assert rest["defaults"] == {"memory": "512Mi", "memoryBytes": 512 * MiB, "cpus": 1.0, "pids": 256}
    assert locked["user"] == "1000:1000" and locked["readOnly"] is True and rest["user"] is None
    assert locked["capAdd"] == ["NET_BIND_SERVICE"] and rest["capDrop"] == ["ALL"]
    assert rest["noNewPrivileges"] is True and rest["network"] == NETWORK
