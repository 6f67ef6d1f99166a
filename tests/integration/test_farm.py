"""The farm on a stack of its own: pools routed by task-id expressions, a global ``maxRunning``,
a per-task limit, the blacklist routes, ``/status/``, and a circuit breaker that opens on a
runner whose Docker endpoint is unreachable and closes once it answers again.

Four runners on the real Docker Engine: ``runner-a`` (pool a, ``maxRunning: 1``), ``runner-b1``
and ``runner-b2`` (pool b, ``maxRunningPerTask: 1``), and ``runner-x`` (pool broken), whose
``DOCKER_HOST`` is a local TCP port where nothing listens until the circuit test starts a proxy
to the Engine's socket there.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.harness import StackProcess
from infra.local.stack import free_port
from tests.conftest import LOG_DIR, TEST_IMAGE, Api

DOCKER_SOCKET = Path("/var/run/docker.sock")
POOLS = [
    {"name": "a", "match": "producta.+", "maxRunning": 1},
    {"name": "b", "match": "productb.+", "maxRunningPerTask": 1},
    {"name": "broken", "match": "brokenp.+"},
]
# The uptime of the host's kernel (containers share it): a clock read from inside each container.
UPTIMES = "bash -c 'cat /proc/uptime; sleep {seconds}; cat /proc/uptime'"


class DockerProxy(socketserver.ThreadingTCPServer):
    """A TCP endpoint in front of the Docker Engine's Unix socket (the broken runner's Docker, healed)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Pipe)


class _Pipe(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(str(DOCKER_SOCKET))

        def pump(source: socket.socket, target: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    target.sendall(data)
            except OSError:
                pass
            finally:
                with contextlib.suppress(OSError):
                    target.shutdown(socket.SHUT_WR)

        back = threading.Thread(target=pump, args=(upstream, self.request), daemon=True)
        back.start()
        pump(self.request, upstream)
        back.join()
        upstream.close()


BROKEN_DOCKER_PORT = free_port()
FARM = StackProcess(
    log_path=LOG_DIR / "farm-stack.log",
    extra_env={
        "SLIPWAY_POOLS": json.dumps(POOLS),
        "SLIPWAY_CIRCUIT_FAILURES": "2",
        "SLIPWAY_CIRCUIT_RESET_SECONDS": "3",
        "SLIPWAY_RUNNER_HEARTBEAT_SECONDS": "1",
        "SLIPWAY_SLOT_RETRY_SECONDS": "1",
    },
    runner_envs=[
        {"SLIPWAY_RUNNER_POOL": "a", "SLIPWAY_RUNNER_HOST": "runner-a"},
        {"SLIPWAY_RUNNER_POOL": "b", "SLIPWAY_RUNNER_HOST": "runner-b1"},
        {"SLIPWAY_RUNNER_POOL": "b", "SLIPWAY_RUNNER_HOST": "runner-b2"},
        {
            "SLIPWAY_RUNNER_POOL": "broken",
            "SLIPWAY_RUNNER_HOST": "runner-x",
            "DOCKER_HOST": f"tcp://127.0.0.1:{BROKEN_DOCKER_PORT}",
        },
    ],
)


@pytest.fixture(scope="module")
def farm() -> Iterator[Api]:
    FARM.start()
    api = Api(FARM.base_url)
    try:
        # Every runner has beaten at least once (runner-x too: it starts without its Docker).
        api.wait_for("/status/", lambda body: len(body["hosts"]) == 4, timeout=60)
        yield api
    finally:
        FARM.stop()


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _enqueue(api: Api, task_id: str, command: str, **body: Any) -> dict[str, Any]:
    response = api.post(f"/tasks/{task_id}/", json={"image": TEST_IMAGE, "command": command, **body})
    assert response.status_code == 200, response.text
    return response.json()


def _host(api: Api, host_id: str) -> dict[str, Any]:
    [host] = [h for h in api.get("/status/").json()["hosts"] if h["id"] == host_id]
    return host


def _uptime_interval(execution: dict[str, Any]) -> tuple[float, float]:
    """When the container itself began and ended, by the kernel's uptime it printed."""
    first, last = [float(line.split()[0]) for line in execution["log"].strip().splitlines()]
    return first, last


def _overlaps(intervals: list[tuple[float, float]]) -> bool:
    ordered = sorted(intervals)
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(ordered))


# -- pools -----------------------------------------------------------------------------------


def test_each_task_runs_only_on_the_runners_of_the_pool_its_id_matches(farm: Api) -> None:
    mail_a = _enqueue(farm, "producta-mail", "echo a")
    mail_b = _enqueue(farm, "productb-mail", "echo b")

    done_a = farm.wait_finished(mail_a["executionUrl"], timeout=60)
    done_b = farm.wait_finished(mail_b["executionUrl"], timeout=60)

    assert (done_a["status"], done_a["log"]) == ("done", "a\n")
    assert done_a["metadata"]["docker_host"] == "runner-a"
    assert (done_b["status"], done_b["log"]) == ("done", "b\n")
    assert done_b["metadata"]["docker_host"] in ("runner-b1", "runner-b2")


def test_the_health_check_reaches_the_pools_queues(farm: Api) -> None:
    response = farm.get("/healthcheck/")

    assert response.status_code == 200, response.text
    assert response.json()["sqs"] is True


def test_a_task_no_pool_matches_is_refused_and_nothing_is_stored(farm: Api) -> None:
    task_id = _unique("unpooled")
    response = farm.post(f"/tasks/{task_id}/", json={"image": TEST_IMAGE, "command": "true"})

    assert response.status_code == 400
    assert response.json()["field"] == "taskId"
    assert farm.get(f"/tasks/{task_id}/").status_code == 404


def test_max_running_1_never_runs_two_containers_of_the_pool_at_once(farm: Api) -> None:
    # runner-a could run 4 at once; the pool's maxRunning of 1 holds them to one.
    enqueued = [_enqueue(farm, _unique("producta-limit"), UPTIMES.format(seconds=1)) for _ in range(3)]

    executions = [farm.wait_finished(e["executionUrl"], timeout=90) for e in enqueued]

    assert [e["status"] for e in executions] == ["done"] * 3
    intervals = [_uptime_interval(e) for e in executions]
    assert not _overlaps(intervals), intervals


def test_without_a_pool_limit_the_same_work_overlaps(farm: Api) -> None:
    # The control of the test above: pool b limits a task, not the pool, so three tasks overlap.
    enqueued = [_enqueue(farm, _unique("productb-free"), UPTIMES.format(seconds=3)) for _ in range(3)]

    executions = [farm.wait_finished(e["executionUrl"], timeout=90) for e in enqueued]

    assert [e["status"] for e in executions] == ["done"] * 3
    assert _overlaps([_uptime_interval(e) for e in executions])


def test_max_running_per_task_holds_one_task_to_one_container(farm: Api) -> None:
    task_id = _unique("productb-pertask")
    enqueued = [_enqueue(farm, task_id, UPTIMES.format(seconds=1)) for _ in range(3)]

    executions = [farm.wait_finished(e["executionUrl"], timeout=90) for e in enqueued]

    assert [e["status"] for e in executions] == ["done"] * 3
    intervals = [_uptime_interval(e) for e in executions]
    assert not _overlaps(intervals), intervals


# -- /status/ --------------------------------------------------------------------------------


def test_status_has_the_documents_shape_with_hosts_containers_jobs_and_queues(farm: Api) -> None:
    scheduled = farm.put(
        f"/tasks/productb-later/jobs/{uuid.uuid4()}/",
        json={"image": TEST_IMAGE, "command": "true", "startIn": "2h"},
    )
    assert scheduled.status_code == 200, scheduled.text
    long_run = _enqueue(farm, _unique("productb-long"), "sleep 6")
    farm.wait_for(long_run["executionUrl"], lambda b: b["execution"]["status"] == "running", timeout=60)

    body = farm.wait_for(
        "/status/",
        lambda b: any(c["executionId"] == long_run["executionId"] for c in b["containers"]["running"]),
        timeout=15,
    )

    assert set(body) >= {"containers", "hosts", "jobs", "queues", "tasks"}
    [container] = [c for c in body["containers"]["running"] if c["executionId"] == long_run["executionId"]]
    assert container["host"] in ("runner-b1", "runner-b2") and container["pool"] == "b"
    assert container["taskId"] == long_run["taskId"] and container["containerId"]
    hosts = {host["id"]: host for host in body["hosts"]}
    assert {h.split(":")[0] for h in hosts} == {"runner-a", "runner-b1", "runner-b2", "runner-x"}
    for host in hosts.values():
        assert set(host) >= {"host", "port", "available", "blacklisted", "circuit", "error", "pool", "lastHeartbeatAt"}
        assert isinstance(host["port"], int)
        assert host["id"] == f"{host['host']}:{host['port']}"
    assert hosts[f"runner-x:{BROKEN_DOCKER_PORT}"]["pool"] == "broken"
    runner_a = next(h for h in hosts.values() if h["host"] == "runner-a")
    assert (runner_a["available"], runner_a["blacklisted"], runner_a["circuit"], runner_a["error"]) == (
        True,
        False,
        "closed",
        None,
    )
    assert body["jobs"]["count"] >= 10
    assert any(s["taskId"] == "productb-later" and s["nextRunAt"] for s in body["jobs"]["scheduled"])
    assert body["tasks"]["count"] >= 8
    assert isinstance(body["queues"]["jobs"]["length"], int)
    assert set(body["queues"]["jobs"]["pools"]) == {"a", "b", "broken"}
    assert body["queues"]["error"]["length"] == 0
    notifications = body["queues"]["notifications"]
    assert set(notifications) == {"length", "error"} and all(isinstance(v, int) for v in notifications.values())
    assert [pool["name"] for pool in body["pools"]] == ["a", "b", "broken"]
    assert body["pools"][0]["maxRunning"] == 1

    # Ended, the container leaves the list at the runner's next heartbeat.
    farm.wait_finished(long_run["executionUrl"], timeout=60)
    farm.wait_for(
        "/status/",
        lambda b: all(c["executionId"] != long_run["executionId"] for c in b["containers"]["running"]),
        timeout=15,
    )


# -- blacklist -------------------------------------------------------------------------------


def _host_id(api: Api, name: str) -> str:
    return next(h["id"] for h in api.get("/status/").json()["hosts"] if h["host"] == name)


def test_blacklist_round_trip_moves_a_pools_work_to_its_other_host(farm: Api) -> None:
    # A run in progress on one host of pool b: blacklisting that host lets it finish there.
    long_run = _enqueue(farm, _unique("productb-bl-long"), "bash -c 'sleep 4; echo finished'")
    running = farm.wait_for(long_run["executionUrl"], lambda b: b["execution"]["status"] == "running", timeout=60)
    busy_name = running["execution"]["metadata"]["docker_host"]
    other_name = ({"runner-b1", "runner-b2"} - {busy_name}).pop()
    busy, other = _host_id(farm, busy_name), _host_id(farm, other_name)

    response = farm.post("/docker-executor/blacklist", json={"host": busy})
    assert response.status_code == 200, response.text
    assert response.json() == {"host": busy, "pool": "b", "blacklisted": True}
    try:
        assert (_host(farm, busy)["blacklisted"], _host(farm, busy)["available"]) == (True, False)
        time.sleep(2.5)  # two heartbeats: the blacklisted runner has read its flag
        enqueued = [_enqueue(farm, _unique("productb-bl"), "echo hi") for _ in range(4)]
        executions = [farm.wait_finished(e["executionUrl"], timeout=60) for e in enqueued]
        assert {e["status"] for e in executions} == {"done"}
        assert {e["metadata"]["docker_host"] for e in executions} == {other_name}
        finished = farm.wait_finished(long_run["executionUrl"], timeout=60)
        assert (finished["status"], finished["log"], finished["metadata"]["docker_host"]) == (
            "done",
            "finished\n",
            busy_name,
        )

        # The other host is now the last available host of pool b.
        refused = farm.post("/docker-executor/blacklist/", json={"host": other})
        assert refused.status_code == 409
        assert refused.json()["pool"] == "b" and "last available host" in refused.json()["error"]
        assert _host(farm, other)["blacklisted"] is False
    finally:
        cleared = farm.session.delete(farm.url("/docker-executor/blacklist"), json={"host": busy}, timeout=30)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["blacklisted"] is False
    assert (_host(farm, busy)["blacklisted"], _host(farm, busy)["available"]) == (False, True)


def test_the_only_host_of_a_pool_cannot_be_blacklisted(farm: Api) -> None:
    response = farm.post("/docker-executor/blacklist", json={"host": _host_id(farm, "runner-a")})

    assert response.status_code == 409
    assert response.json()["host"] == _host_id(farm, "runner-a")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 400, "host"),
        ({"host": "no-port"}, 400, "host"),
        ({"host": 12}, 400, "host"),
        ({"host": "nobody:2375"}, 404, None),
    ],
)
def test_blacklist_bodies_are_validated(farm: Api, body: dict[str, Any], status: int, field: str | None) -> None:
    response = farm.post("/docker-executor/blacklist", json=body)

    assert response.status_code == status, response.text
    assert response.json()["error"]
    if field:
        assert response.json()["field"] == field


# -- circuit breaker -------------------------------------------------------------------------


def test_the_circuit_opens_on_an_unreachable_docker_and_closes_after_the_reset(farm: Api) -> None:
    host_id = f"runner-x:{BROKEN_DOCKER_PORT}"
    enqueued = [_enqueue(farm, _unique("brokenp-job"), "echo healed") for _ in range(2)]

    opened = farm.wait_for("/status/", lambda b: _circuit(b, host_id) in ("open", "half-open"), timeout=60)
    host = next(h for h in opened["hosts"] if h["id"] == host_id)
    assert host["available"] is False or host["circuit"] == "half-open"
    assert "could not create the container" in host["error"]
    # Nothing failed or was lost: the executions went back to wait for a host.
    for item in enqueued:
        # (a half-open probe may hold one for an instant)
        assert farm.get(item["executionUrl"]).json()["execution"]["status"] in ("enqueued", "pulling")

    with DockerProxy(BROKEN_DOCKER_PORT) as proxy:
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        try:
            executions = [farm.wait_finished(e["executionUrl"], timeout=90) for e in enqueued]
            closed = farm.wait_for("/status/", lambda b: _circuit(b, host_id) == "closed", timeout=30)
        finally:
            proxy.shutdown()

    assert [(e["status"], e["log"]) for e in executions] == [("done", "healed\n")] * 2
    assert {e["metadata"]["docker_host"] for e in executions} == {"runner-x"}
    host = next(h for h in closed["hosts"] if h["id"] == host_id)
    assert (host["available"], host["error"]) == (True, None)


def _circuit(body: dict[str, Any], host_id: str) -> str | None:
    return next((h["circuit"] for h in body["hosts"] if h["id"] == host_id), None)
