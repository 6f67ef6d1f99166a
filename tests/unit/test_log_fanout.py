"""runner.log_fanout: lines to every viewer, backlog first, never blocking the log pump."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from chalicelib.adapters import ws_api
from chalicelib.domain.log_lines import LogLine, batches, done_message, lines_message, text_lines
from chalicelib.settings import Settings
from runner import log_fanout
from runner.log_fanout import ExecutionFanout

SETTINGS = replace(Settings(), ws_flush_seconds=0.002, ws_connections_refresh_seconds=0.01)


class FakeApi:
    """The management API and the connections table, in memory."""

    def __init__(self) -> None:
        self.viewers: list[str] = []
        self.frames: dict[str, list[dict]] = defaultdict(list)
        self.closed: list[str] = []
        self.posts: dict[str, int] = defaultdict(int)
        self.gone: set[str] = set()
        self.hold: dict[str, threading.Event] = {}
        self.lock = threading.Lock()

    def send(self, connection_id: str, data: str) -> None:
        self.posts[connection_id] += 1
        if connection_id in self.hold:
            self.hold[connection_id].wait(10)
        if connection_id in self.gone:
            raise ws_api.ConnectionGone(connection_id)
        with self.lock:
            self.frames[connection_id].append(json.loads(data))

    def close(self, connection_id: str) -> None:
        self.closed.append(connection_id)

    def lookup(self, execution_id: str) -> list[str]:
        return list(self.viewers)

    def texts(self, connection_id: str) -> list[str]:
        return [line["text"] for frame in self.frames[connection_id] for line in frame.get("lines", [])]

    def done(self, connection_id: str) -> dict | None:
        return next((frame for frame in self.frames[connection_id] if frame.get("done")), None)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(max_workers=8)
    yield executor
    executor.shutdown(wait=True)


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


def fanout(api: FakeApi, pool: ThreadPoolExecutor, clock: Callable[[], float] = time.monotonic) -> ExecutionFanout:
    return ExecutionFanout("e1", SETTINGS, pool, send=api.send, close=api.close, lookup=api.lookup, clock=clock)


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_lines_reach_a_viewer_while_the_run_goes_on(api: FakeApi, pool: ThreadPoolExecutor) -> None:
    api.viewers = ["a"]
    live = fanout(api, pool)

    live.feed("stdout", b"one\ntw")
    eventually(lambda: api.texts("a") == ["one"])
    live.feed("stdout", b"o\n")
    live.feed("stderr", b"err\n")
    eventually(lambda: api.texts("a") == ["one", "two", "err"])
    live.close("done", 0)
    pool.shutdown(wait=True)

    lines = [line for frame in api.frames["a"] for line in frame.get("lines", [])]
    assert [(line["seq"], line["stream"]) for line in lines] == [(1, "stdout"), (2, "stdout"), (3, "stderr")]
    assert api.frames["a"][-1] == {"done": True, "status": "done", "exitCode": 0}
    assert api.closed == ["a"]


def test_a_late_viewer_gets_the_backlog_then_live_lines_once(api: FakeApi, pool: ThreadPoolExecutor) -> None:
    api.viewers = ["a"]
    live = fanout(api, pool)
    live.feed("stdout", b"1\n2\n")
    eventually(lambda: api.texts("a") == ["1", "2"])

    api.viewers = ["a", "b"]
    live.feed("stdout", b"3\n")
    eventually(lambda: api.texts("b") == ["1", "2", "3"])
    live.feed("stdout", b"4\n")
    live.close("failed", 1)
    pool.shutdown(wait=True)

    assert api.texts("a") == api.texts("b") == ["1", "2", "3", "4"]
    assert api.done("b") == {"done": True, "status": "failed", "exitCode": 1}


def test_a_final_line_without_newline_is_sent_at_the_end(api: FakeApi, pool: ThreadPoolExecutor) -> None:
    api.viewers = ["a"]
    live = fanout(api, pool)
    live.feed("stdout", b"no newline")
    live.close("done", 0)
    pool.shutdown(wait=True)

    assert api.texts("a") == ["no newline"]


def test_a_slow_viewer_blocks_neither_the_pump_nor_the_others(api: FakeApi, pool: ThreadPoolExecutor) -> None:
    api.viewers = ["slow", "fast"]
    api.hold["slow"] = release = threading.Event()
    live = fanout(api, pool)

    started = time.monotonic()
    for i in range(1000):
        live.feed("stdout", f"line {i}\n".encode())
    assert time.monotonic() - started < 1.0  # feeding only appends
    eventually(lambda: len(api.texts("fast")) == 1000)
    assert api.texts("slow") == []

    release.set()
    live.close("done", 0)
    pool.shutdown(wait=True)
    assert api.texts("slow") == [f"line {i}" for i in range(1000)]


def test_a_gone_viewer_is_dropped_after_the_connect_grace(api: FakeApi, pool: ThreadPoolExecutor) -> None:
    now = [100.0]
    api.viewers = ["gone"]
    api.gone.add("gone")
    live = fanout(api, pool, clock=lambda: now[0])
    live.feed("stdout", b"x\n")
    eventually(lambda: api.posts["gone"] >= 3)  # young: its $connect may not have completed yet

    now[0] += 10
    time.sleep(0.1)
    tried = api.posts["gone"]
    live.feed("stdout", b"y\n")
    time.sleep(0.1)
    live.close("done", 0)
    pool.shutdown(wait=True)
    assert api.posts["gone"] == tried and api.closed == []


def test_a_viewer_recorded_as_the_run_ends_is_served_by_the_late_look(
    api: FakeApi, pool: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_fanout, "LATE_SWEEP_SECONDS", 0.1)
    api.viewers = ["a"]
    live = fanout(api, pool)
    live.feed("stdout", b"1\n2\n")
    live.close("done", 0)
    api.viewers = ["a", "late"]  # its record shows in the index only after the last look

    eventually(lambda: "late" in api.closed)
    assert api.texts("late") == ["1", "2"]
    assert api.done("late") == {"done": True, "status": "done", "exitCode": 0}
    assert api.closed.count("a") == 1


def test_backlog_is_bounded(api: FakeApi, pool: ThreadPoolExecutor) -> None:
    small = replace(SETTINGS, ws_backlog_bytes=2000)
    live = ExecutionFanout("e1", small, pool, send=api.send, close=api.close, lookup=api.lookup)
    for i in range(500):
        live.feed("stdout", f"{i:04d}\n".encode())
    api.viewers = ["late"]
    live.close("done", 0)
    pool.shutdown(wait=True)

    texts = api.texts("late")
    assert texts[-1] == "0499" and 0 < len(texts) < 500
    assert texts == [f"{i:04d}" for i in range(500 - len(texts), 500)]


def test_batches_keep_messages_under_the_limit() -> None:
    lines = [LogLine(i, "stdout", "x" * 100) for i in range(1, 101)]
    cut = list(batches(lines, 2000))

    assert [line for batch in cut for line in batch] == lines
    assert all(len(lines_message(batch)) <= 2000 for batch in cut)
    assert json.loads(done_message("done", 0)) == {"done": True, "status": "done", "exitCode": 0}


def test_text_lines() -> None:
    assert text_lines("") == []
    assert text_lines("a\nb\n") == ["a", "b"]
    assert text_lines("a\n\nb") == ["a", "", "b"]


# -- bounded: long lines, message size, failing posts ------------------------------------------


class SizedApi(FakeApi):
    """Also records the UTF-8 size of every message posted, and fails the posts of some lines."""

    def __init__(self, poison: str = "") -> None:
        super().__init__()
        self.sizes: list[int] = []
        self.poison = poison

    def send(self, connection_id: str, data: str) -> None:
        self.sizes.append(len(data.encode("utf-8")))
        if self.poison and self.poison in data:
            self.posts[connection_id] += 1
            raise RuntimeError("InternalServerError")
        super().send(connection_id, data)


def test_a_line_without_newline_goes_out_in_pieces_while_it_is_printed(pool: ThreadPoolExecutor) -> None:
    api = SizedApi()
    api.viewers = ["a"]
    small = replace(SETTINGS, live_line_max_bytes=1000)
    live = ExecutionFanout("e1", small, pool, send=api.send, close=api.close, lookup=api.lookup)
    chunk = b"x" * 4096
    for _ in range(64):  # 256 KiB and never a newline, like `head -c 4G /dev/zero`
        live.feed("stdout", chunk)
    # Delivered while the line goes on, not at its end; the line in progress stays under a piece.
    eventually(lambda: len("".join(api.texts("a"))) >= 255 * 1024)
    assert all(len(held) < 1000 for held in live._partial.values())
    live.close("done", 0)
    pool.shutdown(wait=True)

    texts = api.texts("a")
    assert "".join(texts) == "x" * 64 * 4096
    assert max(len(text) for text in texts) == 1000
    seqs = [line["seq"] for frame in api.frames["a"] for line in frame.get("lines", [])]
    assert seqs == list(range(1, len(texts) + 1))


def test_no_message_is_over_the_limit_whatever_the_bytes(pool: ThreadPoolExecutor) -> None:
    api = SizedApi()
    api.viewers = ["a"]
    limit = replace(SETTINGS, ws_message_bytes=20_000, live_line_max_bytes=64 * 1024)
    live = ExecutionFanout("e1", limit, pool, send=api.send, close=api.close, lookup=api.lookup)
    # NULs and bytes that are not UTF-8 grow 6-fold in JSON (\u0000, \ufffd); one complete line
    # longer than the frame, then many short ones.
    live.feed("stdout", b"\0" * 50_000 + b"\xff" * 50_000 + b"\n")
    live.feed("stderr", b"short line\n" * 5000)
    live.close("done", 0)
    pool.shutdown(wait=True)

    assert api.sizes and max(api.sizes) <= 20_000
    stdout = "".join(line["text"] for f in api.frames["a"] for line in f.get("lines", []) if line["stream"] == "stdout")
    assert stdout == "\0" * 50_000 + "\ufffd" * 50_000
    assert [t for t in api.texts("a") if t == "short line"] == ["short line"] * 5000


def test_a_post_that_keeps_failing_is_dropped_after_bounded_attempts(pool: ThreadPoolExecutor) -> None:
    api = SizedApi(poison="poison")
    api.viewers = ["a"]
    live = ExecutionFanout("e1", SETTINGS, pool, send=api.send, close=api.close, lookup=api.lookup)
    live.feed("stdout", b"poison\n")
    eventually(lambda: api.posts["a"] >= SETTINGS.ws_post_attempts)
    time.sleep(0.2)  # rounds go on (the idle look at the viewers): none posts it again
    live.feed("stdout", b"after\n")
    eventually(lambda: api.texts("a") == ["after"])
    live.close("done", 0)
    pool.shutdown(wait=True)

    assert api.posts["a"] == SETTINGS.ws_post_attempts + 2  # the failures, "after", the done message
    assert api.done("a") == {"done": True, "status": "done", "exitCode": 0}


def test_fit_messages_measures_the_json_and_piece_bytes_fits_one_line_alone() -> None:
    from chalicelib.domain.log_lines import fit_messages, piece_bytes

    size = piece_bytes(64 * 1024, 96 * 1024)
    assert size <= 16 * 1024
    worst = LogLine(1, "stdout", "\0" * size)
    ((batch, message),) = list(fit_messages([worst], 96 * 1024))
    assert batch == [worst] and len(message.encode()) <= 96 * 1024
    many = [LogLine(i, "stdout", "\ufffd" * 300) for i in range(1, 400)]
    cut = list(fit_messages(many, 10_000))
    assert [line for batch, _ in cut for line in batch] == many
    assert all(len(message.encode()) <= 10_000 for _, message in cut)


def test_pieces_of_a_long_line_are_cut_between_characters(pool: ThreadPoolExecutor) -> None:
    api = SizedApi()
    api.viewers = ["a"]
    odd = replace(SETTINGS, live_line_max_bytes=1001)  # an odd size: a cut would split an "é"
    live = ExecutionFanout("e1", odd, pool, send=api.send, close=api.close, lookup=api.lookup)
    live.feed("stdout", "é".encode() * 5000 + b"\n")
    live.close("done", 0)
    pool.shutdown(wait=True)

    texts = api.texts("a")
    assert "".join(texts) == "é" * 5000
    assert len(texts) > 1 and all(len(text.encode()) <= 1001 for text in texts)
