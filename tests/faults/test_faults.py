"""Faults played on a whole local stack while runs are in flight; each must cost nothing.

For every fault: a batch of short runs (known stdout, retries, a ``starts`` and a ``finishes``
webhook each) is enqueued, the fault is played while some run, and then every run must end in
the right state with its whole output, no attempt may have had two containers, and every
notification an attempt owes must arrive exactly once (see ``runs.py``). Each test adds its row
to the table printed at the end of the session and asserts it is all zeros.

What "the right state" is, per fault:

- AWS endpoint unanswering for 10 s (the emulator paused with SIGSTOP, then SIGCONT): calls
  wait and go through; every run ends ``done`` in one attempt.
- Docker daemon restarted (SIGTERM, as ``systemctl restart docker``; no live-restore): the
  daemon kills the running containers (exit 137) on its way down. Those attempts end
  ``failed`` with exit code 137, keeping the output printed before the kill, and are retried;
  the retry ends ``done``. Runs not started yet wait for the daemon and run once.
- Runner ``kill -9`` and the same runner (same host name) started again: it re-attaches to its
  containers; every run ends ``done`` in one attempt, its output read again from the start.
- Webhook receiver down, then up: the deliveries are retried with back-off until it answers.
- The runner's connection to the Docker Engine cut for 5 s (as when dockerd crashes: a
  ``wait`` in progress breaks): the runs whose end the runner could not see end ``failed``
  ("the Docker Engine was lost"), keeping the output read until then, and are retried; the
  retry ends ``done``. Runs not started yet are handed back and run once.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import docker
import pytest

from infra.local.harness import StackProcess
from tests.conftest import TEST_IMAGE, Api, parse_iso
from tests.faults.conftest import DOCKER_FAULTS, FaultRunners, report
from tests.faults.containers import ContainerStarts
from tests.faults.docker_link import DockerLink
from tests.faults.private_docker import PrivateDockerd
from tests.faults.runs import Batch
from tests.integration.receivers import WebhookReceiver

PAUSE_SECONDS = 10
# Longer than the 10 s a stopping daemon grants a container before it kills it.
DOCKER_RUN_SECONDS = 16


def _epoch(text: str) -> float:
    return parse_iso(text).timestamp()


def _host(name: str) -> str:
    return f"fault-{name}-{uuid.uuid4().hex[:6]}"


def test_aws_endpoint_unanswering_for_10_s_mid_run(
    fault_stack: StackProcess, fault_api: Api, fault_runners: FaultRunners, receiver: WebhookReceiver, task_id: str
) -> None:
    fault_runners.start(_host("aws"))
    batch = Batch(fault_api, receiver, task_id, "aws-endpoint-paused")
    with ContainerStarts(fault_stack.stage, docker.from_env) as starts:
        batch.enqueue(6, sleep=3)
        batch.wait_running(3)
        emulator = fault_stack.emulator_pid()
        paused_at = time.time()
        os.kill(emulator, signal.SIGSTOP)
        try:
            time.sleep(PAUSE_SECONDS)  # containers end meanwhile; their outcome waits
        finally:
            os.kill(emulator, signal.SIGCONT)
            resumed_at = time.time()
        row = batch.measure(starts)
    report(row)
    assert row.clean, row.problems
    assert row.attempts == row.runs  # nothing failed, nothing retried
    # The fault hit runs in flight: some containers ended while nothing of AWS answered.
    ended = [_epoch(attempt["finishedAt"]) for attempt in batch.attempts()]
    assert any(paused_at < instant < resumed_at for instant in ended), (paused_at, resumed_at, ended)


def test_webhook_receiver_down_then_up(
    fault_stack: StackProcess, fault_api: Api, fault_runners: FaultRunners, receiver: WebhookReceiver, task_id: str
) -> None:
    fault_runners.start(_host("hooks"))
    batch = Batch(fault_api, receiver, task_id, "webhook-receiver-down")
    with ContainerStarts(fault_stack.stage, docker.from_env) as starts:
        down_at = time.time()
        receiver.stop()
        batch.enqueue(6, sleep=2)
        batch.wait_running(2)
        time.sleep(4)  # starts and ends refused meanwhile
        receiver.start()  # the same port, back up
        up_at = time.time()
        row = batch.measure(starts)
    report(row)
    assert row.clean, row.problems
    assert row.attempts == row.runs
    # Deliveries were owed while it was down (refused, then retried): runs started and ended then.
    attempts = batch.attempts()
    assert any(down_at < _epoch(attempt["startedAt"]) < up_at for attempt in attempts)
    assert any(down_at < _epoch(attempt["finishedAt"]) < up_at for attempt in attempts)


def test_runner_kill_9_mid_run_and_restarted(
    fault_stack: StackProcess, fault_api: Api, fault_runners: FaultRunners, receiver: WebhookReceiver, task_id: str
) -> None:
    host = _host("kill")
    first = fault_runners.start(host)
    batch = Batch(fault_api, receiver, task_id, "runner-kill-9")
    with ContainerStarts(fault_stack.stage, docker.from_env) as starts:
        batch.enqueue(6, sleep=4)
        batch.wait_running(3)
        first.kill()  # SIGKILL: no drain, no hand-back
        first.wait(10)
        fault_runners.start(host)  # the same runner again: it re-attaches
        row = batch.measure(starts)
    report(row)
    assert row.clean, row.problems
    assert row.attempts == row.runs


def test_docker_connection_cut_mid_run(
    fault_stack: StackProcess, fault_api: Api, fault_runners: FaultRunners, receiver: WebhookReceiver, task_id: str
) -> None:
    with DockerLink() as link:
        fault_runners.start(_host("docker-link"), env_extra={"DOCKER_HOST": link.url})
        batch = Batch(fault_api, receiver, task_id, "docker-connection-cut")
        with ContainerStarts(fault_stack.stage, docker.from_env) as starts:
            batch.enqueue(6, sleep=4, retries=2)
            batch.wait_running(3)
            time.sleep(1)  # each running container has printed its first line
            link.cut()
            time.sleep(5)
            link.restore()
            row = batch.measure(starts)
    report(row)
    lost = [attempt for attempt in batch.attempts() if attempt["status"] == "failed"]
    assert row.clean, row.problems
    assert lost, "no run was in flight when the connection was cut"
    assert all("the Docker Engine was lost" in attempt["error"] for attempt in lost), lost
    assert all(attempt["log"] for attempt in lost)  # the output read before the cut is kept


@pytest.mark.skipif(
    not DOCKER_FAULTS, reason="restarts a Docker daemon: on CI, or with SLIPWAY_FAULTS_DOCKER=1 (bin/test: serially)"
)
def test_docker_daemon_restarted_mid_run(
    fault_stack: StackProcess,
    fault_api: Api,
    fault_runners: FaultRunners,
    receiver: WebhookReceiver,
    task_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root: Path = tmp_path_factory.mktemp("dockerd")
    with PrivateDockerd(root) as dockerd:
        dockerd.load_image(TEST_IMAGE)
        fault_runners.start(_host("dockerd"), env_extra={"DOCKER_HOST": dockerd.url})
        batch = Batch(fault_api, receiver, task_id, "docker-daemon-restarted")
        with ContainerStarts(fault_stack.stage, dockerd.client) as starts:
            batch.enqueue(6, sleep=DOCKER_RUN_SECONDS, retries=2)
            batch.wait_running(3)
            time.sleep(1)  # each running container has printed its first line
            down = dockerd.restart()
            row = batch.measure(starts)
        attempts = batch.attempts()
    report(row)
    killed = [attempt for attempt in attempts if attempt["status"] == "failed"]
    print(f"  the daemon did not answer for {down:.1f} s; {len(killed)} attempt(s) ended by it and retried:")
    for attempt in killed:
        print(f"    {attempt['executionId']}: exit {attempt['exitCode']}, {attempt['error']!r}")
    assert row.clean, row.problems
    assert killed, "no run was in flight when the daemon restarted"
    # Only runs whose container ran when the daemon went down failed: killed by it (137). A run
    # whose start the stopped daemon refused never began: it was handed back, not failed.
    assert all(attempt["startedAt"] for attempt in killed), killed
    assert {attempt["exitCode"] for attempt in killed} == {137}
