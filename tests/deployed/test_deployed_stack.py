"""The deployment itself, run locally: the CDK app deployed onto the local emulator, used through
API Gateway (REST and WebSocket), Lambda, the EventBridge schedule and the notifications queue's
event source, with a runner on the real Docker Engine (see tests/deployed/conftest.py).

Each test prints the figures it measured (``pytest -s`` shows them).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import boto3
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from infra.local.deployed import DeployedStack
from tests.deployed.conftest import SCHEDULED_START_SECONDS, DeployedApi

pytestmark = pytest.mark.slow


def _epoch(iso: str) -> float:
    value = datetime.fromisoformat(iso)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def test_the_outputs_name_the_emulators_apis(deployed: DeployedStack) -> None:
    outputs = deployed.outputs
    prefix = f"{deployed.endpoint}/_aws/execute-api/"
    assert outputs["ApiUrl"].startswith(prefix) and outputs["ApiUrl"].endswith("/api/")
    assert outputs["WebSocketUrl"].startswith(prefix.replace("http://", "ws://"))
    runner_env = deployed.runner_environment()
    assert runner_env["SLIPWAY_STAGE"] == deployed.options.stage
    # The runner posts live lines to the WebSocket API's @connections, on the emulator.
    ws_api = outputs["WebSocketUrl"].removeprefix(prefix.replace("http://", "ws://"))
    assert runner_env["SLIPWAY_WS_MANAGEMENT_URL"] == f"{prefix}{ws_api}"


def test_a_job_posted_through_api_gateway_runs_in_a_container_and_its_logs_come_back(
    deployed: DeployedStack, api: DeployedApi
) -> None:
    health = api.get("/healthcheck/")
    assert health.status == 200, health.body
    assert health.json() == {"errors": [], "dynamodb": True, "sqs": True, "s3": True}
    latencies = sorted(api.get("/healthcheck/").seconds for _ in range(20))

    started = time.monotonic()
    answer = api.enqueue("deployed-hello", "bash -c 'echo hello from the deployed stack; echo oops >&2'")
    # The links are the deployment's own (SLIPWAY_PUBLIC_URL, from the stack): they work as given.
    assert answer["executionUrl"].startswith(deployed.rest_url)
    execution = api.wait_finished(answer["executionUrl"])
    end_to_end = time.monotonic() - started

    assert execution["status"] == "done", execution
    assert execution["exitCode"] == 0
    assert execution["log"] == "hello from the deployed stack\n"
    assert execution["error"] == "oops\n"
    assert execution["metadata"]["docker_host"] == deployed.options.runner_env["SLIPWAY_RUNNER_HOST"]
    assert len(execution["metadata"]["container_id"]) == 64
    stdout = api.get(answer["executionUrl"] + "stdout/")
    assert stdout.status == 200
    assert stdout.body == b"hello from the deployed stack\n"
    logs = api.get(answer["jobUrl"] + "/logs/")
    assert logs.status == 200
    assert logs.body == b"hello from the deployed stack\n\n-=-\noops\n"
    job = api.get(answer["jobUrl"]).json()["job"]
    assert [item["executionId"] for item in job["executions"]] == [answer["executionId"]]

    print(
        f"\nwarm GET /healthcheck/ through API Gateway + Lambda: median {statistics.median(latencies) * 1000:.0f} ms,"
        f" max {latencies[-1] * 1000:.0f} ms; POST → done {end_to_end:.2f} s"
    )


def test_the_runners_metrics_reach_cloudwatch_as_the_stack_sets_it_up(
    deployed: DeployedStack, api: DeployedApi
) -> None:
    """The stack gives the runner the ``cloudwatch`` sink: its figures are in the emulator's
    CloudWatch (the Lambdas' EMF lines are not: the emulator turns no log line into a metric)."""
    assert deployed.runner_environment()["SLIPWAY_METRICS_SINK"] == "cloudwatch"
    answer = api.enqueue("deployed-metrics", "echo counted")
    assert api.wait_finished(answer["executionUrl"])["status"] == "done"
    cloudwatch = boto3.session.Session().client("cloudwatch", region_name="us-east-1", endpoint_url=deployed.endpoint)
    service = f"slipway-{deployed.options.stage}"
    host = deployed.options.runner_env["SLIPWAY_RUNNER_HOST"]

    def total(name: str, **dimensions: str) -> float:
        now = datetime.now(UTC)
        points = cloudwatch.get_metric_statistics(
            Namespace="Slipway",
            MetricName=name,
            Dimensions=[{"Name": k, "Value": v} for k, v in {"service": service, **dimensions}.items()],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(minutes=5),
            Period=3600,
            Statistics=["Sum"],
        )["Datapoints"]
        return float(sum(point["Sum"] for point in points))

    deadline = time.monotonic() + 20
    while total("ExecutionsFinished", Status="done") < 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert total("ExecutionsFinished", Status="done") >= 1
    assert total("ExecutionsStarted") >= 1
    listed = cloudwatch.list_metrics(Namespace="Slipway", MetricName="RunnerSlotsInUse")["Metrics"]
    assert {"service": service, "Host": host} in [{d["Name"]: d["Value"] for d in m["Dimensions"]} for m in listed]


def test_end_to_end_times_of_warm_runs(api: DeployedApi) -> None:
    """POST → done, five runs one after another (the functions and the runner warm)."""
    times = []
    for index in range(5):
        started = time.monotonic()
        answer = api.enqueue("deployed-timing", f"echo run {index}")
        execution = api.wait_finished(answer["executionUrl"])
        times.append(time.monotonic() - started)
        assert (execution["status"], execution["exitCode"], execution["log"]) == ("done", 0, f"run {index}\n")
    print(f"\nPOST → done, warm: {', '.join(f'{t:.2f}' for t in times)} s (median {statistics.median(times):.2f} s)")


async def _watch(url: str, until_done: float) -> list[tuple[float, dict[str, Any]]]:
    messages: list[tuple[float, dict[str, Any]]] = []
    async with connect(url, open_timeout=30) as socket:
        while True:
            raw = await asyncio.wait_for(socket.recv(), until_done)
            message = json.loads(raw)
            messages.append((time.monotonic(), message))
            if message.get("done"):
                return messages


def test_a_websocket_viewer_of_an_unknown_job_is_refused_at_connect(deployed: DeployedStack) -> None:
    """$connect runs the app's handler (a Lambda), which refuses what it cannot find."""
    url = f"{deployed.websocket_url}?taskId=deployed-live&jobId=00000000-0000-0000-0000-000000000000"

    async def attempt() -> None:
        async with connect(url, open_timeout=60):
            pass

    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(attempt())
    assert refused.value.response.status_code in (403, 404), refused.value.response


def test_live_lines_reach_a_websocket_viewer_through_api_gateway(deployed: DeployedStack, api: DeployedApi) -> None:
    # Run after the refusal above, so $connect's function is warm and the viewer is in before "second".
    command = "bash -c 'echo first; sleep 10; echo second'"
    answer = api.enqueue("deployed-live", command)
    url = f"{deployed.websocket_url}?taskId=deployed-live&jobId={answer['jobId']}&executionId={answer['executionId']}"
    statuses: list[str] = []

    async def watch_and_look() -> list[tuple[float, dict[str, Any]]]:
        messages: list[tuple[float, dict[str, Any]]] = []
        async with connect(url, open_timeout=30) as socket:
            while True:
                message = json.loads(await asyncio.wait_for(socket.recv(), 60))
                messages.append((time.monotonic(), message))
                texts = [line["text"] for line in message.get("lines", [])]
                if "first" in texts:
                    # The run is still going (it sleeps 10 s after this line): the line came live.
                    execution = await asyncio.to_thread(api.execution, answer["executionUrl"])
                    statuses.append(execution["status"])
                if message.get("done"):
                    return messages

    messages = asyncio.run(watch_and_look())
    lines = [line for _, message in messages for line in message.get("lines", [])]
    assert [(line["seq"], line["stream"], line["text"]) for line in lines] == [
        (1, "stdout", "first"),
        (2, "stdout", "second"),
    ]
    assert statuses == ["running"]
    assert messages[-1][1] == {"done": True, "status": "done", "exitCode": 0}
    # "second" is printed 10 s after "first": it reached the viewer as it came.
    arrived = {line["text"]: at for at, message in messages for line in message.get("lines", [])}
    assert arrived["second"] - arrived["first"] > 5

    # A viewer of the finished run gets the stored log from the replay function, then the end.
    replayed = asyncio.run(_watch(url, 30))
    assert [line["text"] for _, message in replayed for line in message.get("lines", [])] == ["first", "second"]
    assert replayed[-1][1] == {"done": True, "status": "done", "exitCode": 0}


class _Receiver(BaseHTTPRequestHandler):
    hits: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).hits.append((self.path, json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_the_notifications_function_delivers_webhooks_from_its_queue(api: DeployedApi) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/finished"
        answer = api.enqueue("deployed-hook", "echo hooked", webhooks={"finishes": [{"url": url}]})
        deadline = time.monotonic() + 90
        while not _Receiver.hits and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.shutdown()
        server.server_close()
    assert len(_Receiver.hits) == 1, _Receiver.hits
    path, body = _Receiver.hits[0]
    assert path == "/finished"
    assert (body["event"], body["executionId"], body["exitCode"]) == ("finishes", answer["executionId"], 0)
    # The function records the delivery on the execution once the receiver has answered.
    deadline = time.monotonic() + 15
    records: list[dict[str, Any]] = []
    while not records and time.monotonic() < deadline:
        records = api.execution(answer["executionUrl"])["metadata"]["webhookDispatch"]
        time.sleep(0.2)
    assert [(r["event"], r["statusCode"], r["delivered"], r["attempt"]) for r in records] == [
        ("finishes", 200, True, 1)
    ]


def test_the_eventbridge_schedule_creates_a_run_due_beyond_the_look_ahead(
    api: DeployedApi, scheduled_job: dict[str, Any]
) -> None:
    # Not dispatched when it was posted: only the dispatcher, on its EventBridge schedule, can make it.
    assert scheduled_job["executionId"] is None
    earliest, latest = (moment + SCHEDULED_START_SECONDS for moment in scheduled_job["postedBetween"])
    deadline = latest + 60
    executions: list[dict[str, Any]] = []
    while time.time() < deadline:
        executions = api.get(scheduled_job["jobUrl"]).json()["job"]["executions"]
        if executions and executions[0]["status"] in ("done", "failed"):
            break
        time.sleep(1)
    assert len(executions) == 1, executions
    execution = executions[0]
    assert (execution["status"], execution["exitCode"], execution["log"]) == ("done", 0, "from the schedule\n")
    assert earliest - 0.01 <= _epoch(execution["scheduledFor"]) <= latest + 0.01
    assert _epoch(execution["startedAt"]) >= _epoch(execution["scheduledFor"]) - 0.5
