"""Runners killed, gone for good, or drained: real ``python -m runner`` processes on a stack of
their own (no runner of its own), real containers, real signals.

The stack's settings are shortened so the tests take seconds: heartbeats each second, silent
runners given up after 12 s, SQS messages invisible 6 s while held.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import docker
import pytest

from chalicelib.domain.ids import derived_execution_id
from infra.local.harness import ROOT, StackProcess
from tests.conftest import LOG_DIR, Api, parse_iso
from tests.integration.faulty_link import FaultyLink
from tests.integration.receivers import WebhookReceiver

STALE_SECONDS = 12
SETTINGS = {
    "SLIPWAY_EXECUTION_HEARTBEAT_SECONDS": "1",
    "SLIPWAY_EXECUTION_STALE_SECONDS": str(STALE_SECONDS),
    "SLIPWAY_RUNNER_VISIBILITY_SECONDS": "6",
    "SLIPWAY_RUNNER_POLL_SECONDS": "2",
    "SLIPWAY_RECONCILE_AFTER_SECONDS": "3",
}


@pytest.fixture(scope="module")
def healing_stack() -> Iterator[StackProcess]:
    stack = StackProcess(runners=0, extra_env=SETTINGS, log_path=LOG_DIR / "self-healing-stack.log")
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def healing_api(healing_stack: StackProcess) -> Api:
    return Api(healing_stack.base_url)


class Runners:
    """Starts ``python -m runner`` processes on the stack; stops every one it started."""

    def __init__(self, stack: StackProcess) -> None:
        self.stack = stack
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, host: str, env_extra: dict[str, str] | None = None, **settings: str) -> subprocess.Popen[bytes]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SLIPWAY_"))}
        env.update(self.stack.client_env())
        env.update(env_extra or {})
        env.update(SETTINGS)
        env["SLIPWAY_RUNNER_HOST"] = host
        env.update({f"SLIPWAY_{name.upper()}": value for name, value in settings.items()})
        path = LOG_DIR / f"runner-{host}.log"
        offset = path.stat().st_size if path.exists() else 0
        log = open(path, "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "runner", "--log-level", "INFO"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        log.close()
        self.started.append(process)
        self._wait_polling(process, path, offset)
        return process

    @staticmethod
    def _wait_polling(process: subprocess.Popen[bytes], log: Path, offset: int, timeout: float = 60) -> None:
        """Until the runner has settled what a previous life left and is about to poll."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert process.poll() is None, f"the runner exited with {process.returncode}; see {log}"
            with open(log, "rb") as handle:
                handle.seek(offset)
                if b"taking work" in handle.read():
                    time.sleep(0.5)
                    return
            time.sleep(0.1)
        raise AssertionError(f"the runner did not start within {timeout} s; see {log}")

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(10)


@pytest.fixture
def runners(healing_stack: StackProcess) -> Iterator[Runners]:
    started = Runners(healing_stack)
    yield started
    started.stop_all()


def _containers(execution_id: str) -> list[str]:
    """The states of the execution's containers (low-level API: no inspect that may race a removal)."""
    found = docker.from_env().api.containers(all=True, filters={"label": f"slipway.execution={execution_id}"})
    return [str(item["State"]) for item in found]


def _created(execution_id: str, since: float) -> int:
    events = docker.from_env().events(
        since=since,
        until=time.time(),
        decode=True,
        filters={"event": "create", "label": f"slipway.execution={execution_id}"},
    )
    return len(list(events))


def _event_times(execution_id: str, since: float) -> dict[str, float]:
    """When (epoch seconds) each container event of the execution happened: create, start, die…"""
    events = docker.from_env().events(
        since=since, until=time.time(), decode=True, filters={"label": f"slipway.execution={execution_id}"}
    )
    return {event["Action"]: event["timeNano"] / 1e9 for event in events if event.get("Type") == "container"}


def _wait_gone(execution_id: str, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    left = _containers(execution_id)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = _containers(execution_id)
    return left


def _farm_host(api: Api, name: str) -> dict[str, Any]:
    """The runner host ``name`` as ``GET /status/`` shows it."""
    (host,) = [item for item in api.get("/status/").json()["hosts"] if item["host"] == name]
    return host


def _wait_running(api: Api, execution_url: str, timeout: float = 30) -> dict[str, object]:
    return api.wait_for(execution_url, lambda b: b["execution"]["status"] == "running", timeout)["execution"]


def _sqs(stack: StackProcess) -> tuple[Any, str]:
    sqs = boto3.client("sqs", endpoint_url=stack.aws_endpoint, region_name="us-east-1")
    return sqs, sqs.get_queue_url(QueueName=f"{stack.stage}-slipway-jobs")["QueueUrl"]


def _sqs_send(stack: StackProcess, task_id: str, job_id: str, execution_id: str, not_before: float) -> None:
    sqs, url = _sqs(stack)
    message = {"taskId": task_id, "jobId": job_id, "executionId": execution_id, "notBeforeMs": int(not_before * 1000)}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message))


def _wait_queue_empty(stack: StackProcess, timeout: float = 30) -> int:
    """Messages left (visible or held) in the stack's job queue after at most ``timeout`` s."""
    sqs, url = _sqs(stack)
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    deadline = time.monotonic() + timeout
    while True:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        left = sum(int(attributes.get(name, 0)) for name in names)
        if left == 0 or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def test_a_runner_killed_mid_run_finishes_the_execution_after_a_restart(
    healing_stack: StackProcess, healing_api: Api, runners: Runners, task_id: str
) -> None:
    host = f"heal-{uuid.uuid4().hex[:6]}"
    since = time.time()
    first = runners.start(host)
    body = healing_api.enqueue(task_id, "sh -c 'echo before; sleep 8; echo after; echo done >&2'")
    _wait_running(healing_api, body["executionUrl"])
    time.sleep(0.5)

    first.kill()  # SIGKILL: no cleanup at all
    first.wait(10)
    assert _containers(body["executionId"]) == ["running"]
    restarted = time.time()
    runners.start(host)  # the same runner, restarted

    # The re-attached container counts as the host's again (its slots, /status/): in the first
    # heartbeat of the new life, which replaces what the killed one last wrote.
    deadline = time.monotonic() + 10
    while True:
        status = healing_api.get("/status/").json()
        (beat,) = [item["lastHeartbeatAt"] for item in status["hosts"] if item["host"] == host]
        if (beat and parse_iso(beat).timestamp() > restarted) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    running = status["containers"]["running"]
    assert [item["host"] for item in running if item["executionId"] == body["executionId"]] == [host]
    execution = healing_api.wait_finished(body["executionUrl"], timeout=60)

    assert execution["status"] == "done", execution
    assert execution["exitCode"] == 0
    assert execution["log"] == "before\nafter\n"
    assert execution["error"] == "done\n"
    assert healing_api.get(body["executionUrl"] + "stdout/").text == "before\nafter\n"
    assert _wait_gone(body["executionId"]) == []
    # The killed run's message came back and was settled without a second run.
    assert _wait_queue_empty(healing_stack) == 0
    assert _created(body["executionId"], since) == 1
    job = healing_api.get(body["jobUrl"]).json()["job"]
    assert job["executionCount"] == 1


def test_a_runner_killed_between_claim_and_start_hands_the_execution_back(
    healing_stack: StackProcess, healing_api: Api, runners: Runners, task_id: str
) -> None:
    """Its container was made but never started: a run claimed a few seconds before its instant."""
    host = f"early-{uuid.uuid4().hex[:6]}"
    first = runners.start(host)
    body = healing_api.enqueue(task_id, "echo on time", startIn="10s")
    # Made ahead of its instant, it is ``scheduled``: not listed yet, but its id derives from it.
    due_ms = int(parse_iso(healing_api.get(body["jobUrl"]).json()["job"]["nextRunAt"]).timestamp() * 1000)
    execution_id, execution_url = next(
        (candidate, url)
        for candidate in (derived_execution_id(body["jobId"], ms, "tick") for ms in (due_ms, due_ms + 1, due_ms - 1))
        if healing_api.get(url := f"{body['jobUrl']}/executions/{candidate}/").status_code == 200
    )
    assert healing_api.get(execution_url).json()["execution"]["status"] == "scheduled"
    # An early copy of its message (SQS itself delivers it about a second before the instant),
    # so the runner claims it and creates its container, then waits 4 s to start it.
    _sqs_send(healing_stack, task_id, body["jobId"], execution_id, not_before=time.time() + 4)
    deadline = time.monotonic() + 30
    while not _containers(execution_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _containers(execution_id) == ["created"]

    first.kill()
    first.wait(10)
    runners.start(host)

    execution = healing_api.wait_finished(execution_url, timeout=60)
    assert execution["status"] == "done", execution
    assert execution["log"] == "on time\n"
    assert _wait_gone(execution_id) == []
    assert healing_api.get(body["jobUrl"]).json()["job"]["executionCount"] == 1


def test_a_runner_gone_for_good_has_its_execution_failed_and_retried(
    healing_stack: StackProcess, healing_api: Api, runners: Runners, task_id: str
) -> None:
    gone = runners.start(f"gone-{uuid.uuid4().hex[:6]}")
    body = healing_api.enqueue(task_id, "sh -c 'echo attempt; sleep 2'", retries=1)
    _wait_running(healing_api, body["executionUrl"])
    gone.kill()
    gone.wait(10)
    killed_at = time.monotonic()

    execution = healing_api.wait_finished(body["executionUrl"], timeout=60)

    assert time.monotonic() - killed_at < 60
    assert execution["status"] == "failed"
    assert "stopped heart-beating" in execution["error"] and "gone-" in execution["error"]
    # Its container is left on the host that never came back: prune removes it.
    assert len(_containers(body["executionId"])) == 1
    pruned = subprocess.run(
        [sys.executable, "-m", "runner", "prune"],
        cwd=ROOT,
        env={**os.environ, **healing_stack.client_env()},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert body["executionId"] in pruned.stdout and "execution failed" in pruned.stdout
    assert _containers(body["executionId"]) == []
    # The retry it was owed runs on a runner that is alive.
    runners.start(f"alive-{uuid.uuid4().hex[:6]}")
    job = healing_api.wait_for(
        body["jobUrl"],
        lambda b: len(b["job"]["executions"]) == 2 and b["job"]["executions"][0]["status"] == "done",
        timeout=60,
    )["job"]
    retry = job["executions"][0]
    assert retry["retryOf"] == body["executionId"]
    assert retry["metadata"]["attempt"] == 1


def test_sigterm_drains_running_containers_and_leaves_queued_work_to_other_runners(
    healing_stack: StackProcess, healing_api: Api, runners: Runners, task_id: str
) -> None:
    name = f"drain-{uuid.uuid4().hex[:6]}"
    draining = runners.start(name, runner_concurrency="1")
    running = healing_api.enqueue(task_id, "sh -c 'sleep 3; echo drained'")
    _wait_running(healing_api, running["executionUrl"])
    waiting = healing_api.enqueue(task_id, "echo later")
    time.sleep(0.5)
    assert _farm_host(healing_api, name)["available"] is True

    draining.send_signal(signal.SIGTERM)

    assert draining.wait(60) == 0
    # Deregistered on its way out: shown gone at once, not after its heartbeat goes stale.
    gone = _farm_host(healing_api, name)
    assert (gone["available"], gone["alive"], gone["lastHeartbeatAt"], gone["running"]) == (False, False, None, 0)
    execution = healing_api.wait_finished(running["executionUrl"], timeout=5)
    assert (execution["status"], execution["log"]) == ("done", "drained\n")
    assert healing_api.get(waiting["executionUrl"]).json()["execution"]["status"] == "enqueued"
    other = f"other-{uuid.uuid4().hex[:6]}"
    runners.start(other)
    later = healing_api.wait_finished(waiting["executionUrl"], timeout=60)
    assert (later["status"], later["log"]) == ("done", "later\n")
    assert later["metadata"]["docker_host"] == other


def test_sigterm_past_the_drain_deadline_hands_the_execution_back(
    healing_stack: StackProcess, healing_api: Api, runners: Runners, task_id: str
) -> None:
    draining = runners.start(f"deadline-{uuid.uuid4().hex[:6]}", drain_seconds="1")
    body = healing_api.enqueue(task_id, "sh -c 'echo start; sleep 6; echo end'")
    _wait_running(healing_api, body["executionUrl"])

    draining.send_signal(signal.SIGTERM)

    assert draining.wait(60) == 0
    assert _wait_gone(body["executionId"]) == []
    handed_back = healing_api.get(body["executionUrl"]).json()["execution"]
    assert handed_back["status"] == "enqueued"
    runners.start(f"next-{uuid.uuid4().hex[:6]}")
    execution = healing_api.wait_finished(body["executionUrl"], timeout=60)
    assert (execution["status"], execution["log"]) == ("done", "start\nend\n")
    assert healing_api.get(body["jobUrl"]).json()["job"]["executionCount"] == 1


def test_a_runner_prepares_its_next_run_while_its_containers_run(
    healing_stack: StackProcess, healing_api: Api, runners: Runners, task_id: str
) -> None:
    """With one container slot, the next run is claimed and its container created while the
    first runs; it starts once the first has exited, never alongside it."""
    runners.start(f"ahead-{uuid.uuid4().hex[:6]}", runner_concurrency="1")
    since = time.time()
    first = healing_api.enqueue(task_id, "sleep 2")
    _wait_running(healing_api, first["executionUrl"])
    second = healing_api.enqueue(task_id, "echo next")

    assert healing_api.wait_finished(second["executionUrl"], timeout=60)["status"] == "done"
    assert healing_api.wait_finished(first["executionUrl"], timeout=5)["status"] == "done"
    first_events = _event_times(first["executionId"], since)
    second_events = _event_times(second["executionId"], since)
    assert second_events["create"] < first_events["die"]  # prepared ahead
    assert second_events["start"] >= first_events["die"]  # one container at a time


@pytest.mark.parametrize(
    ("service", "cut_seconds"),
    # S3 down longer than the stale threshold (the heartbeats go on); DynamoDB, which the
    # heartbeats need too, down for less than it.
    [("s3", STALE_SECONDS + 4), ("dynamodb", STALE_SECONDS // 2)],
)
def test_storage_down_as_a_run_ends_delays_its_outcome_and_loses_nothing(
    healing_stack: StackProcess, healing_api: Api, runners: Runners, task_id: str, service: str, cut_seconds: int
) -> None:
    host = f"outage-{service}-{uuid.uuid4().hex[:6]}"
    since = time.time()
    size = 1_000_000
    with FaultyLink(healing_stack.aws_endpoint) as link:
        # Only this runner's calls to that service go through the link: a real refused connection.
        runners.start(host, env_extra={f"AWS_ENDPOINT_URL_{service.upper()}": link.url})
        body = healing_api.enqueue(task_id, f"sh -c 'sleep 2; yes 0123456789abcdef | head -c {size}; echo fin >&2'")
        _wait_running(healing_api, body["executionUrl"])
        link.cut()
        time.sleep(cut_seconds)  # the container ended ~2 s into the outage; its outcome waits

        waiting = healing_api.get(body["executionUrl"]).json()["execution"]
        assert waiting["status"] == "running", waiting  # not reaped: still heart-beaten
        assert _containers(body["executionId"]) == ["exited"]  # kept until the outcome is stored
        link.restore()
        execution = healing_api.wait_finished(body["executionUrl"], timeout=90)

    assert execution["status"] == "done", execution
    assert execution["exitCode"] == 0
    line = b"0123456789abcdef\n"
    stdout = healing_api.get(body["executionUrl"] + "stdout/", allow_redirects=True).content
    assert stdout == (line * (size // len(line) + 1))[:size]
    assert healing_api.get(body["executionUrl"] + "stderr/").text == "fin\n"
    job = healing_api.get(body["jobUrl"]).json()["job"]
    assert job["executionCount"] == 1  # ran once: never reaped, never retried
    assert _created(body["executionId"], since) == 1
    assert _wait_gone(body["executionId"]) == []  # removed once stored


def test_a_reattached_run_publishes_the_start_its_killed_runner_never_did(
    healing_stack: StackProcess, healing_api: Api, runners: Runners, task_id: str
) -> None:
    receiver = WebhookReceiver().start()
    host = f"starts-{uuid.uuid4().hex[:6]}"
    try:
        with FaultyLink(healing_stack.aws_endpoint) as link:
            # The first life's `running` write (the one that sets the container) stays on the
            # network; the runner is killed meanwhile: its container runs, the start untold.
            link.hold(b'"container_id"', b'"running"')
            first = runners.start(host, env_extra={"AWS_ENDPOINT_URL_DYNAMODB": link.url})
            hooks = {"starts": [{"url": receiver.url("/starts")}], "finishes": [{"url": receiver.url("/finishes")}]}
            body = healing_api.enqueue(task_id, "sh -c 'sleep 6; echo after'", webhooks=hooks)
            deadline = time.monotonic() + 30
            while not (link.held_count and _containers(body["executionId"]) == ["running"]):
                assert time.monotonic() < deadline, "the container did not start"
                time.sleep(0.1)
            first.kill()
            first.wait(10)
        before = healing_api.get(body["executionUrl"]).json()["execution"]
        assert before["status"] == "pulling", before
        time.sleep(1)
        assert receiver.at("/starts") == []

        runners.start(host)  # restarted: re-attaches to the running container
        execution = healing_api.wait_finished(body["executionUrl"], timeout=60)
        receiver.wait_for("/finishes", 1)
        receiver.wait_for("/starts", 1)
        time.sleep(2.5)  # a second one would have come by now
    finally:
        receiver.stop()

    assert execution["status"] == "done", execution
    assert execution["log"] == "after\n"
    [start] = receiver.at("/starts")
    assert start.json["executionId"] == body["executionId"]
    assert len(receiver.at("/finishes")) == 1


def test_a_reattached_start_is_counted_once(
    healing_stack: StackProcess, healing_api: Api, runners: Runners, task_id: str
) -> None:
    """The killed runner wrote ``running`` and counted the start, but its ``started`` event never
    left (held on the network): the restarted runner publishes it without counting it again."""
    from tests.integration.test_metrics import moved, scrape, scrape_until

    counting = {"metrics_local_counters": "1", "metrics_sink": "off"}
    receiver = WebhookReceiver().start()
    host = f"count-{uuid.uuid4().hex[:6]}"
    before = scrape(healing_api)
    try:
        with FaultyLink(healing_stack.aws_endpoint) as link:
            link.hold(b"MessageBody", b"started")  # the start event's send to the events queue
            first = runners.start(host, env_extra={"AWS_ENDPOINT_URL_SQS": link.url}, **counting)
            hooks = {"starts": [{"url": receiver.url("/starts")}]}
            body = healing_api.enqueue(task_id, "sh -c 'sleep 5; echo after'", webhooks=hooks)
            _wait_running(healing_api, body["executionUrl"])
            deadline = time.monotonic() + 20
            while not link.held_count:
                assert time.monotonic() < deadline, "the start event was not sent"
                time.sleep(0.1)
            # The first life's count reaches the stored totals (written every half second).
            scrape_until(healing_api, lambda now: moved(before, now, "slipway_executions_started_total") >= 1)
            first.kill()
            first.wait(10)
        runners.start(host, **counting)
        execution = healing_api.wait_finished(body["executionUrl"], timeout=60)
        receiver.wait_for("/starts", 1)
    finally:
        receiver.stop()
    assert execution["status"] == "done", execution
    assert _wait_queue_empty(healing_stack) == 0

    scrape_until(healing_api, lambda now: moved(before, now, "slipway_executions_finished_total", status="done") >= 1)
    time.sleep(1.5)  # a second count of the start would be stored by now
    after = scrape(healing_api)
    finished = sum(
        value - before.get(key, 0.0) for key, value in after.items() if key[0] == "slipway_executions_finished_total"
    )
    started = moved(before, after, "slipway_executions_started_total")
    assert started == finished >= 1, (started, finished)
