"""Webhooks and e-mails on a stack of their own, against real receivers in this process: an
HTTP server recording every POST with its arrival time, and an SMTP server (aiosmtpd).

The stack delivers through the same Chalice SQS handler Lambda runs, fed by the local
stand-in for the event source mapping; webhook back-off starts at 1 s (1 s, 2 s, 4 s …)."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from infra.local.harness import StackProcess
from infra.local.stack import FAKE_CREDENTIALS
from tests.conftest import LOG_DIR, TEST_IMAGE, Api
from tests.integration.receivers import SmtpReceiver, WebhookReceiver

SECRET = "hunter2-" + uuid.uuid4().hex
# After the expected deliveries arrived, how long an unexpected one is given to show up.
SETTLE_SECONDS = 2.5


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpReceiver]:
    server = SmtpReceiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def notify_stack(smtp: SmtpReceiver) -> Iterator[StackProcess]:
    stack = StackProcess(
        log_path=LOG_DIR / "notifications-stack.log",
        extra_env={
            "SLIPWAY_WEBHOOK_BACKOFF_MS": "1000",
            "SLIPWAY_WEBHOOK_BACKOFF_FACTOR": "2",
            "SLIPWAY_SMTP_HOST": "127.0.0.1",
            "SLIPWAY_SMTP_PORT": str(smtp.port),
            "SLIPWAY_MAIL_FROM": "slipway@tests.invalid",
            "SLIPWAY_MAIL_RETRIES": "1",
            # The one env name shown in clear; every other value is masked, whatever its name.
            "SLIPWAY_VISIBLE_ENV_NAMES": "PLAIN",
        },
    )
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def napi(notify_stack: StackProcess) -> Api:
    return Api(notify_stack.base_url)


@pytest.fixture(scope="module")
def sqs(notify_stack: StackProcess) -> Any:
    return boto3.client("sqs", endpoint_url=notify_stack.aws_endpoint, region_name="us-east-1", **_credentials())


def _credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    }


def _enqueue(napi: Api, task_id: str, command: str, **body: Any) -> dict[str, Any]:
    response = napi.post(f"/tasks/{task_id}/", json={"image": TEST_IMAGE, "command": command, **body})
    assert response.status_code == 200, response.text
    return response.json()


def _hooks(receiver: WebhookReceiver, prefix: str, **extra: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        event: [{"url": receiver.url(f"/{prefix}/{event}"), "headers": {"X-Hook-Token": f"tok-{event}"}, **extra}]
        for event in ("starts", "succeeds", "fails", "finishes")
    }


def _dispatch(napi: Api, execution_url: str, key: str, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    body = napi.wait_for(execution_url, lambda b: len(b["execution"]["metadata"][key]) >= count, timeout)
    return body["execution"]["metadata"][key]


# -- which events fire --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "fired", "silent"),
    [
        ("echo fine", ("starts", "succeeds", "finishes"), ("fails",)),
        ("bash -c 'echo broken >&2; exit 3'", ("starts", "fails", "finishes"), ("succeeds",)),
    ],
    ids=["exit-0", "exit-3"],
)
def test_each_webhook_fires_exactly_when_it_should(
    napi: Api, receiver: WebhookReceiver, task_id: str, command: str, fired: tuple[str, ...], silent: tuple[str, ...]
) -> None:
    prefix = uuid.uuid4().hex
    answer = _enqueue(napi, task_id, command, webhooks=_hooks(receiver, prefix), metadata={"team": "blue"})
    execution = napi.wait_finished(answer["executionUrl"])
    hits = {event: receiver.wait_for(f"/{prefix}/{event}", 1) for event in fired}
    time.sleep(SETTLE_SECONDS)
    for event in fired:
        assert len(receiver.at(f"/{prefix}/{event}")) == 1, event
    for event in silent:
        assert receiver.at(f"/{prefix}/{event}") == [], event

    for event, [hit] in hits.items():
        assert hit.headers["X-Hook-Token"] == f"tok-{event}"
        assert hit.headers["Content-Type"] == "application/json"
        payload = hit.json
        assert payload["event"] == event
        assert (payload["taskId"], payload["jobId"], payload["executionId"]) == (
            task_id,
            answer["jobId"],
            answer["executionId"],
        )
        assert payload["job_id"] == answer["jobId"]
        assert payload["metadata"]["custom"] == {"team": "blue"}
        assert payload["image"] == TEST_IMAGE and payload["command"] == command
        assert payload["logUrls"]["logs"] == f"{answer['executionUrl']}logs/"
        assert payload["url"] == answer["executionUrl"]
        assert "webhookDispatch" not in payload["metadata"]
        if event != "starts":
            assert payload["status"] == execution["status"]
            assert payload["exitCode"] == execution["exitCode"]
            assert payload["finishedAt"] == execution["finishedAt"]
    # The log URLs work.
    stdout = napi.get(hits["finishes"][0].json["logUrls"]["stdout"])
    assert stdout.status_code == 200 and stdout.text == execution["log"]

    records = _dispatch(napi, answer["executionUrl"], "webhookDispatch", len(fired))
    assert sorted(r["event"] for r in records) == sorted(fired)
    for record in records:
        assert record["statusCode"] == 200 and record["delivered"] is True and record["attempt"] == 1
        assert record["url"] == receiver.url(f"/{prefix}/{record['event']}")


def test_a_stopped_execution_fires_finishes_only(napi: Api, receiver: WebhookReceiver, task_id: str) -> None:
    prefix = uuid.uuid4().hex
    answer = _enqueue(napi, task_id, "sleep 30", webhooks=_hooks(receiver, prefix))
    receiver.wait_for(f"/{prefix}/starts", 1)
    assert napi.post(f"{answer['executionUrl']}stop/").status_code == 200
    execution = napi.wait_finished(answer["executionUrl"])
    assert execution["status"] == "stopped"
    [hit] = receiver.wait_for(f"/{prefix}/finishes", 1)
    assert hit.json["status"] == "stopped"
    time.sleep(SETTLE_SECONDS)
    assert receiver.at(f"/{prefix}/succeeds") == [] and receiver.at(f"/{prefix}/fails") == []


def test_a_waiting_run_stopped_before_it_starts_fires_finishes(
    napi: Api, receiver: WebhookReceiver, task_id: str
) -> None:
    prefix = uuid.uuid4().hex
    # A failed run whose retry waits 40 s, enqueued.
    answer = _enqueue(
        napi, task_id, "false", retries=1, retryBackoff={"minMs": 40_000}, webhooks=_hooks(receiver, prefix)
    )
    job = napi.wait_for(answer["jobUrl"], lambda b: len(b["job"]["executions"]) == 2)["job"]
    pending = job["executions"][0]
    assert pending["status"] == "enqueued" and pending["retryOf"] == answer["executionId"]
    receiver.wait_for(f"/{prefix}/fails", 1)
    # The API ends it itself (no runner holds it), then publishes the event.
    assert napi.post(f"{pending['url']}stop/").status_code == 200
    hits = receiver.wait_for(f"/{prefix}/finishes", 2)
    assert [(hit.json["executionId"], hit.json["status"]) for hit in hits] == [
        (answer["executionId"], "failed"),
        (pending["executionId"], "stopped"),
    ]
    time.sleep(SETTLE_SECONDS)
    assert receiver.at(f"/{prefix}/starts") != [] and receiver.at(f"/{prefix}/succeeds") == []


def test_a_scheduled_run_cancelled_before_its_instant_fires_nothing(
    napi: Api, receiver: WebhookReceiver, task_id: str
) -> None:
    prefix = uuid.uuid4().hex
    answer = _enqueue(napi, task_id, "echo never", startIn="40s", webhooks=_hooks(receiver, prefix))
    assert napi.get(answer["jobUrl"]).json()["job"]["executions"] == []
    # Made ahead of its instant (``scheduled``), it never was a run: a stop deletes it, and no
    # event is owed for it.
    assert napi.post(f"{answer['jobUrl']}/stop/").status_code == 200
    time.sleep(SETTLE_SECONDS)
    assert all(receiver.at(f"/{prefix}/{event}") == [] for event in ("starts", "succeeds", "fails", "finishes"))
    job = napi.get(answer["jobUrl"]).json()["job"]
    assert job["executions"] == [] and job["executionCount"] == 0 and job["scheduled"] is False


# -- retries and the dead-letter queue ------------------------------------------------------------


def test_a_receiver_failing_twice_gets_it_on_the_third_try_with_growing_gaps(
    napi: Api, receiver: WebhookReceiver, task_id: str
) -> None:
    path = f"/{uuid.uuid4().hex}/flaky"
    receiver.scripts[path] = [500, 500]
    hook = {"url": receiver.url(path), "retries": 3}
    answer = _enqueue(napi, task_id, "echo hi", webhooks={"finishes": [hook]})
    hits = receiver.wait_for(path, 3, timeout=45)
    time.sleep(SETTLE_SECONDS + 4)  # a 4th attempt would come 4 s after the 3rd
    assert [hit.status for hit in receiver.at(path)] == [500, 500, 200]
    gaps = [later.arrived - earlier.arrived for earlier, later in itertools.pairwise(hits)]
    # Back-off 1 s then 2 s (whole seconds in SQS; the consumer adds its poll latency).
    assert gaps[0] >= 0.9, gaps
    assert gaps[1] > gaps[0], gaps
    assert all(hit.json["executionId"] == answer["executionId"] for hit in hits)

    records = _dispatch(napi, answer["executionUrl"], "webhookDispatch", 3)
    assert [(r["attempt"], r["statusCode"], r["delivered"]) for r in records] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]
    assert "500" in records[0]["error"]


def _dead_letters(sqs: Any, stack: StackProcess, execution_id: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    url = sqs.get_queue_url(QueueName=f"{stack.stage}-slipway-notifications-dlq")["QueueUrl"]
    deadline = time.monotonic() + timeout
    found: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=0)
        for message in response.get("Messages", []):
            body = json.loads(message["Body"])
            if body.get("delivery", {}).get("execution_id") == execution_id:
                found[message["MessageId"]] = body
        if found:
            return list(found.values())
    return []


def test_an_always_failing_receiver_exhausts_the_attempts_into_the_dead_letter_queue(
    napi: Api, receiver: WebhookReceiver, sqs: Any, notify_stack: StackProcess, task_id: str
) -> None:
    path = f"/{uuid.uuid4().hex}/down"
    receiver.always[path] = 500
    answer = _enqueue(napi, task_id, "echo hi", webhooks={"succeeds": [{"url": receiver.url(path), "retries": 2}]})
    receiver.wait_for(path, 3, timeout=45)

    [parked] = _dead_letters(sqs, notify_stack, answer["executionId"])
    assert parked["type"] == "delivery"
    assert parked["delivery"]["target"] == receiver.url(path)
    assert parked["delivery"]["attempt"] == 3 and parked["delivery"]["retries"] == 2
    assert parked["lastOutcome"]["statusCode"] == 500 and parked["lastOutcome"]["delivered"] is False

    time.sleep(SETTLE_SECONDS + 4)
    assert len(receiver.at(path)) == 3  # 1 + retries, then no more
    records = _dispatch(napi, answer["executionUrl"], "webhookDispatch", 3)
    assert [(r["attempt"], r["statusCode"]) for r in records] == [(1, 500), (2, 500), (3, 500)]


def test_a_duplicate_event_does_not_post_twice(
    napi: Api, receiver: WebhookReceiver, sqs: Any, notify_stack: StackProcess, task_id: str
) -> None:
    path = f"/{uuid.uuid4().hex}/once"
    answer = _enqueue(napi, task_id, "echo hi", webhooks={"finishes": [{"url": receiver.url(path)}]})
    execution = napi.wait_finished(answer["executionUrl"])
    receiver.wait_for(path, 1)
    # SQS delivers at least once: the same event twice more, as a redelivery would.
    url = sqs.get_queue_url(QueueName=f"{notify_stack.stage}-slipway-notifications")["QueueUrl"]
    event = {
        "type": "event",
        "kind": "finished",
        "status": execution["status"],
        "taskId": task_id,
        "jobId": answer["jobId"],
        "executionId": answer["executionId"],
    }
    for _ in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
    time.sleep(SETTLE_SECONDS + 1)
    assert len(receiver.at(path)) == 1
    assert len(_dispatch(napi, answer["executionUrl"], "webhookDispatch", 1)) == 1


# -- e-mail ------------------------------------------------------------------------------------


def test_emails_go_out_through_smtp_on_the_right_events(napi: Api, smtp: SmtpReceiver, task_id: str) -> None:
    tag = uuid.uuid4().hex[:8]
    ok, bad, any_end = f"ok-{tag}@example.com", f"bad-{tag}@example.com", f"end-{tag}@example.com"
    notify = {"succeeds": [ok], "fails": [bad], "finishes": [any_end]}
    answer = _enqueue(napi, task_id, "bash -c 'echo out; exit 4'", notify=notify, metadata={"owner": "ops"})
    execution = napi.wait_finished(answer["executionUrl"])
    assert execution["status"] == "failed"
    [mail] = smtp.wait_for(bad, 1)
    smtp.wait_for(any_end, 1)
    time.sleep(SETTLE_SECONDS)
    assert smtp.to(ok) == []
    assert len(smtp.to(bad)) == 1 and len(smtp.to(any_end)) == 1

    message = mail.message
    assert mail.sender == "slipway@tests.invalid"
    assert message["To"] == bad
    subject = str(message["Subject"])
    assert task_id in subject and "failed" in subject and "exit code 4" in subject
    text = mail.text
    for expected in (answer["executionId"], answer["jobId"], "Status:      failed", "Exit code:   4", '"owner": "ops"'):
        assert expected in text
    assert f"{answer['executionUrl']}logs/" in text
    assert answer["executionUrl"] in mail.html

    records = _dispatch(napi, answer["executionUrl"], "notifyDispatch", 2)
    assert sorted((r["to"], r["event"], r["delivered"]) for r in records) == sorted(
        [(bad, "fails", True), (any_end, "finishes", True)]
    )


# -- secrets -------------------------------------------------------------------------------------


def test_secret_env_values_are_masked_in_the_api_the_webhooks_and_the_emails(
    napi: Api, receiver: WebhookReceiver, smtp: SmtpReceiver, notify_stack: StackProcess, task_id: str
) -> None:
    path = f"/{uuid.uuid4().hex}/secrets"
    address = f"secrets-{uuid.uuid4().hex[:8]}@example.com"
    spaced = f"two words {SECRET}"
    in_url = "url-" + uuid.uuid4().hex
    envs = {
        "DB_PASSWORD": SECRET,
        "api_key": SECRET,
        "MY_CLIENT_ID": SECRET,
        # Names no word list catches (shown in clear before): every value is masked now.
        "DB_PASS": SECRET,
        "GITHUB_TOKEN": SECRET,
        "GREETING": spaced,
        "PLAIN": "visible",
    }
    # The container gets the real values (it fails unless the lengths are right); the URL with a
    # password is an argument, shown in the command.
    command = (
        f"bash -c 'test ${{#DB_PASSWORD}} -eq {len(SECRET)} && test ${{#GREETING}} -eq {len(spaced)}'"
        f" https://bot:{in_url}@git.example/repo.git"
    )
    answer = _enqueue(
        napi,
        task_id,
        command,
        envs=envs,
        webhooks={
            "finishes": [
                {"url": receiver.url(path), "headers": {"Authorization": f"Bearer {SECRET}"}},
                # Credentials in a webhook URL: masked wherever the URL is shown or logged.
                {"url": f"http://hook:{in_url}@127.0.0.1:9/never", "retries": 0},
            ]
        },
        notify={"finishes": [address]},
    )
    execution = napi.wait_finished(answer["executionUrl"])
    assert execution["status"] == "done", execution
    expected = {name: "***" for name in envs} | {"PLAIN": "visible"}

    job = napi.get(answer["jobUrl"]).json()["job"]
    assert job["metadata"]["envs"] == expected
    assert job["metadata"]["webhooks"]["finishes"][0]["headers"] == {"Authorization": "***"}
    assert job["metadata"]["webhooks"]["finishes"][1]["url"] == "http://hook:***@127.0.0.1:9/never"
    assert job["metadata"]["command"].endswith(" https://bot:***@git.example/repo.git")
    records = _dispatch(napi, answer["executionUrl"], "webhookDispatch", 2)
    assert "http://hook:***@127.0.0.1:9/never" in {record["url"] for record in records}
    [hit] = receiver.wait_for(path, 1)
    assert hit.json["envs"] == expected
    assert hit.json["command"] == job["metadata"]["command"]
    assert hit.headers["Authorization"] == f"Bearer {SECRET}"  # the receiver gets the real header
    [mail] = smtp.wait_for(address, 1)
    assert '"DB_PASSWORD": "***"' in mail.text

    # Nowhere in what the service showed or sent.
    # The failed delivery to the URL with credentials is logged (with its URL) before the check.
    log_path = notify_stack.log_path or LOG_DIR / "notifications-stack.log"
    deadline = time.monotonic() + 10
    while "hook:***@127.0.0.1:9/never" not in log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "hook:***@127.0.0.1:9/never" in log_path.read_text()
    shown = [
        napi.get(answer["jobUrl"]).text,
        napi.get(answer["executionUrl"]).text,
        napi.get(f"/tasks/{task_id}/").text,
        napi.get("/tasks/").text,
        napi.get("/search/", params={"query": task_id}).text,
        hit.raw.decode(),
        mail.text + mail.html,
        (notify_stack.log_path or LOG_DIR / "notifications-stack.log").read_text(),
    ]
    for text in shown:
        assert SECRET not in text and in_url not in text
