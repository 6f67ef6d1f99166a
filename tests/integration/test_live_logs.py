"""Live log tails over WebSocket on the real local stack: a real container, real sockets."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import Api


def ws_url(base_url: str, path: str) -> str:
    return base_url.replace("http://", "ws://") + path


class Received:
    """What one viewer got: each line with its arrival time, the done message, the close reason."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self.arrivals: list[float] = []
        self.done: dict[str, Any] | None = None
        self.close_reason: str | None = None
        self.close_code: int | None = None

    @property
    def texts(self) -> list[str]:
        return [line["text"] for line in self.lines]


async def watch(url: str, timeout: float = 60.0) -> Received:
    received = Received()
    async with websockets.connect(url, open_timeout=20) as socket:
        try:
            async with asyncio.timeout(timeout):
                async for raw in socket:
                    message = json.loads(raw)
                    now = time.monotonic()
                    for line in message.get("lines", []):
                        received.lines.append(line)
                        received.arrivals.append(now)
                    if message.get("done"):
                        received.done = message
        except ConnectionClosed:
            pass
        received.close_code = socket.close_code
        received.close_reason = socket.close_reason
    return received


def job_path(enqueued: dict[str, Any]) -> str:
    return f"/tasks/{enqueued['taskId']}/jobs/{enqueued['jobId']}"


def wait_running(api: Api, enqueued: dict[str, Any]) -> None:
    api.wait_for(enqueued["executionUrl"], lambda b: b["execution"]["status"] == "running", timeout=60)


def test_lines_arrive_while_the_container_runs(api: Api, task_id: str) -> None:
    # The container waits 2 s before its first line so that the viewer is connected by then even on a
    # loaded machine: a viewer that connects late gets the earlier lines in one replay, which would
    # make them look batched. What is measured is the spread of the lines printed after that.
    enqueued = api.enqueue(
        task_id, "sh -c 'sleep 2; for i in 1 2 3 4 5 6; do echo out-$i; echo err-$i >&2; sleep 0.5; done'"
    )
    url = ws_url(api.base_url, job_path(enqueued) + f"/executions/{enqueued['executionId']}/ws/")
    received = asyncio.run(watch(url))
    finished = api.wait_finished(enqueued["executionUrl"])
    assert finished["status"] == "done"
    assert [t for t in received.texts if t.startswith("out-")] == [f"out-{i}" for i in range(1, 7)]
    assert [t for t in received.texts if t.startswith("err-")] == [f"err-{i}" for i in range(1, 7)]
    assert {line["stream"] for line in received.lines} == {"stdout", "stderr"}
    seqs = [line["seq"] for line in received.lines]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # Timing, not just content: the first line came well before the last was printed (~2.5 s later).
    first = received.arrivals[received.texts.index("out-1")]
    last = received.arrivals[received.texts.index("out-6")]
    assert last - first > 1.5
    assert received.done is not None and received.done["status"] == "done"
    assert received.close_reason == "done"


def test_late_viewer_gets_earlier_lines_and_two_viewers_get_everything(api: Api, task_id: str) -> None:
    command = "sh -c 'echo early-1; echo early-2; sleep 3; for i in 1 2 3; do echo late-$i; done'"
    enqueued = api.enqueue(task_id, command)
    wait_running(api, enqueued)
    time.sleep(1.5)  # the early lines are printed before anyone connects
    url = ws_url(api.base_url, job_path(enqueued) + "/ws/")

    async def two() -> list[Received]:
        return list(await asyncio.gather(watch(url), watch(url)))

    for received in asyncio.run(two()):
        assert received.texts == ["early-1", "early-2", "late-1", "late-2", "late-3"]
        assert received.close_reason == "done"


def test_finished_execution_gives_the_whole_log_then_done(api: Api, task_id: str) -> None:
    enqueued = api.enqueue(task_id, "sh -c 'echo one; echo two; echo oops >&2; exit 3'")
    api.wait_finished(enqueued["executionUrl"])
    received = asyncio.run(watch(ws_url(api.base_url, job_path(enqueued) + "/ws/"), timeout=20))
    assert received.texts == ["one", "two", "oops"]
    assert [line["stream"] for line in received.lines] == ["stdout", "stdout", "stderr"]
    assert received.done == {"done": True, "status": "failed", "exitCode": 3}
    assert received.close_reason == "done"


@pytest.mark.parametrize("suffix", ["/executions/no-such-execution/ws/", "/ws"], ids=["execution", "job"])
def test_unknown_execution_is_refused(api: Api, task_id: str, suffix: str) -> None:
    enqueued = api.enqueue(task_id, "echo hi")
    path = job_path(enqueued) + suffix if "executions" in suffix else f"/tasks/{task_id}/jobs/no-such-job{suffix}"

    async def attempt() -> None:
        async with asyncio.timeout(15):
            await websockets.connect(ws_url(api.base_url, path), open_timeout=10)

    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(attempt())
    assert refused.value.response.status_code == 404


def test_management_api_answers_gone_for_an_unknown_connection(api: Api) -> None:
    # The runner's own boto3 client against the front door's @connections, as against API Gateway.
    from chalicelib.adapters import ws_api

    with pytest.raises(ws_api.ConnectionGone):
        ws_api.send("no-such-connection", "{}", endpoint=api.base_url)
    ws_api.close("no-such-connection", endpoint=api.base_url)  # closing a gone one is no error


def test_a_plain_get_on_a_ws_path_asks_for_an_upgrade(api: Api, task_id: str) -> None:
    response = api.get(f"/tasks/{task_id}/jobs/x/ws/")
    assert response.status_code == 426


def test_a_line_longer_than_a_frame_reaches_the_viewer_in_pieces(api: Api, task_id: str) -> None:
    # 400 KB and no newline: one message of it would be over API Gateway's 128 KB (the local
    # front door refuses it likewise), and a runner holding it whole would grow with it.
    size = 400_000
    command = f"sh -c 'sleep 2; head -c {size} /dev/zero | tr \"\\0\" x; sleep 1; echo; echo end'"
    enqueued = api.enqueue(task_id, command)
    url = ws_url(api.base_url, job_path(enqueued) + f"/executions/{enqueued['executionId']}/ws/")
    received = asyncio.run(watch(url))
    finished = api.wait_finished(enqueued["executionUrl"])

    assert finished["status"] == "done"
    pieces = [text for text in received.texts if text.startswith("x")]
    assert "".join(pieces) == "x" * size
    assert len(pieces) > 1 and max(len(piece) for piece in pieces) <= 8 * 1024
    assert received.texts[-1] == "end"
    seqs = [line["seq"] for line in received.lines]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert received.done is not None and received.close_reason == "done"
    assert api.get(enqueued["executionUrl"] + "stdout/").text == "x" * size + "\nend\n"
