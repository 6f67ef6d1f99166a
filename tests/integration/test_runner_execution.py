"""Real containers on the real Docker Engine, driven through the API and the runner."""

from __future__ import annotations

import time

import docker
import requests

from chalicelib.adapters import job_queue
from tests.conftest import Api, containers_of


def test_a_job_that_prints_and_exits_0(api: Api, task_id: str) -> None:
    body = api.enqueue(task_id, "echo hi")

    execution = api.wait_finished(body["executionUrl"])

    assert execution["status"] == "done"
    assert execution["exitCode"] == 0
    assert execution["log"] == "hi\n"
    assert execution["error"] == ""
    assert execution["startedAt"] and execution["finishedAt"] and execution["startedAt"] <= execution["finishedAt"]
    assert execution["metadata"]["container_id"] and execution["metadata"]["docker_host"]
    assert api.get(body["jobUrl"] + "/stdout/").text == "hi\n"
    assert api.get(body["jobUrl"] + "/logs/").text == "hi\n\n-=-\n"


def test_a_failing_job_keeps_stdout_and_stderr_apart(api: Api, task_id: str) -> None:
    body = api.enqueue(task_id, "sh -c 'echo it failed; echo oops >&2; exit 123'")

    execution = api.wait_finished(body["executionUrl"])

    assert execution["status"] == "failed"
    assert execution["exitCode"] == 123
    assert execution["log"] == "it failed\n"
    assert execution["error"] == "oops\n"
    exec_url = body["executionUrl"]
    assert api.get(exec_url + "stdout/").text == "it failed\n"
    assert api.get(exec_url + "stderr/").text == "oops\n"
    assert api.get(exec_url + "logs/").text == "it failed\n\n-=-\noops\n"
    assert api.get(body["jobUrl"] + "/stderr/").text == "oops\n"


def test_an_unknown_command_in_a_shell_exits_127_with_the_shells_message(api: Api, task_id: str) -> None:
    body = api.enqueue(task_id, "sh -c 'no-such-command'")

    execution = api.wait_finished(body["executionUrl"])

    assert execution["status"] == "failed"
    assert execution["exitCode"] == 127
    assert "no-such-command: not found" in execution["error"]
    assert execution["log"] == ""


def test_an_unknown_executable_fails_127_with_dockers_reason(api: Api, task_id: str) -> None:
    body = api.enqueue(task_id, "no-such-binary --flag")

    execution = api.wait_finished(body["executionUrl"])

    assert execution["status"] == "failed"
    assert execution["exitCode"] == 127
    assert "executable file not found" in execution["error"]


def test_bash_style_commands_are_split_as_a_shell_would(api: Api, task_id: str) -> None:
    body = api.enqueue(task_id, """bash -c 'echo "x" && exit 3'""")

    execution = api.wait_finished(body["executionUrl"])

    assert (execution["status"], execution["exitCode"], execution["log"]) == ("failed", 3, "x\n")


def test_env_vars_reach_the_container_and_secrets_are_masked_in_answers(api: Api, task_id: str) -> None:
    body = api.enqueue(task_id, "sh -c 'echo $GREETING $API_KEY'", envs={"GREETING": "hello", "API_KEY": "s3cr3t"})

    execution = api.wait_finished(body["executionUrl"])

    assert execution["log"] == "hello s3cr3t\n"
    # Every value is masked unless the service lists its name as visible (none by default).
    assert api.get(body["jobUrl"]).json()["job"]["metadata"]["envs"] == {"GREETING": "***", "API_KEY": "***"}


def test_a_missing_image_fails_with_a_clear_error(api: Api, task_id: str) -> None:
    body = api.post(f"/tasks/{task_id}/", json={"image": "slipway-test/does-not-exist:1.0", "command": "true"}).json()

    execution = api.wait_finished(body["executionUrl"], timeout=60)

    assert execution["status"] == "failed"
    assert execution["exitCode"] is None
    assert "slipway-test/does-not-exist:1.0" in execution["error"]
    assert "could not be pulled" in execution["error"]


def test_50_mb_of_output_is_stored_whole(api: Api, task_id: str) -> None:
    size = 50 * 1024 * 1024
    # Lines of 1 KiB: Docker keeps (and replays) a log line by line, and it is the count of
    # lines, not of bytes, that makes a replay slow (3 million 17-byte lines took minutes here).
    word = ("0123456789abcdef" * 64)[:1023]
    body = api.enqueue(task_id, f"sh -c 'yes {word} | head -c {size}; echo done >&2'")

    # Generous: Docker replays a 50 MB log slowly on a busy 2-core host; integrity is the point here.
    execution = api.wait_finished(body["executionUrl"], timeout=300)

    assert execution["status"] == "done"
    assert execution["logTruncated"] is True
    line = word + "\n"
    expected = (line * (size // len(line) + 1))[:size]
    assert execution["log"] == expected[-64 * 1024 :]  # the inline tail
    redirect = api.get(body["executionUrl"] + "stdout/", allow_redirects=False)
    assert redirect.status_code == 302
    download = requests.get(redirect.headers["Location"], timeout=60)
    assert download.status_code == 200
    assert len(download.content) == size
    assert download.content == expected.encode()
    assert api.get(body["executionUrl"] + "stderr/").text == "done\n"


def test_a_duplicate_sqs_delivery_starts_one_container(api: Api, task_id: str) -> None:
    client = docker.from_env()
    since = time.time()
    body = api.enqueue(task_id, "sleep 1")
    # The same execution's message, delivered again while the first copy runs.
    duplicate = job_queue.ExecutionMessage(task_id, body["jobId"], body["executionId"])
    job_queue.send_execution(duplicate)
    job_queue.send_execution(duplicate)

    execution = api.wait_finished(body["executionUrl"])
    time.sleep(1.5)  # let the duplicates be received and settled

    starts = client.events(
        since=since,
        until=time.time(),
        decode=True,
        filters={"event": "start", "label": f"slipway.execution={body['executionId']}"},
    )
    assert len(list(starts)) == 1
    assert execution["status"] == "done"
    assert api.get(body["jobUrl"]).json()["job"]["executionCount"] == 1


def test_containers_are_removed_after_their_results_are_stored(api: Api, task_id: str) -> None:
    body = api.enqueue(task_id, "true")
    api.wait_finished(body["executionUrl"])

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        left = containers_of(body["executionId"])
        if not left:
            break
        time.sleep(0.1)
    assert left == []
