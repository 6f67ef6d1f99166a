"""Live log fan-out: an execution's output lines to every WebSocket viewer, as they are printed.

The docker log pump only queues its chunks (``feed``); a sender thread per execution wakes
when output comes, lets a burst gather for ``ws_flush_seconds``, numbers the lines and posts
what each viewer has not had yet as one batch, to all viewers concurrently. A viewer new to
the sender first gets the backlog, then the live lines, from the same list and the same
per-viewer position, so nothing is lost or sent twice. A viewer whose post is still in
flight is skipped this round (a slow viewer slows only itself); one that is gone is dropped.
At the end: the last lines, a done message, close; the close fires the viewer's
``$disconnect``, which deletes its record (the runner never does).

Everything it holds is bounded: a line longer than ``live_line_max_bytes`` (a stream with no
newline at all, say) goes out in pieces of that size, each numbered like a line; the lines
kept are at most ``ws_backlog_bytes``; the chunks queued for the sender are split on the pump's
own thread once they pass 1 MiB. No message posted exceeds ``ws_message_bytes``, and a
post that fails ``ws_post_attempts`` times (the viewer not gone) drops that message for that
viewer, not the viewer: it gets the lines after it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chalicelib.adapters import connections, ws_api
from chalicelib.domain.log_lines import LogLine, done_message, fit_messages, piece_bytes
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from runner.stand_ins import Viewers

logger = logging.getLogger(__name__)

# Chunks queued for the sender beyond this are split on the pump's thread instead (bytes).
_QUEUED_BYTES = 1024 * 1024
# A post that answers Gone this soon after the viewer was first seen may come before its
# $connect completed (API Gateway refuses those): try again rather than drop it.
_CONNECT_GRACE_SECONDS = 3.0
# The most the end of an execution waits for its viewers' last posts.
_FINAL_WAIT_SECONDS = 10.0
# A viewer recorded just as the run ended may be missing from the index at the last look (a
# GSI read can lag its write, and $connect reads the status after writing the record): one more
# look this long after the end serves it the whole log and closes it.
LATE_SWEEP_SECONDS = 2.0

Sender = Callable[[str, str], None]
Closer = Callable[[str], None]
ViewerLookup = Callable[[str], list[str]]


@dataclass
class _Viewer:
    connection_id: str
    seen_at: float
    next_index: int = 0  # index into the backlog (absolute, see _Backlog.base)
    busy: bool = False
    gone: bool = False
    failures: int = 0  # consecutive failed posts of the message at next_index


# One backlog entry: (seq, stream, the line's bytes). Plain tuples: a 50 MB output is millions.
_Entry = tuple[int, str, bytes]
# Bytes an entry is counted for beyond its text (the JSON around it in a message, roughly).
_ENTRY_OVERHEAD = 48


@dataclass
class _Backlog:
    """The execution's lines; the oldest are dropped past the byte budget."""

    lines: list[_Entry] = field(default_factory=list)
    base: int = 0  # absolute index of lines[0]
    size: int = 0


class ExecutionFanout:
    def __init__(
        self,
        execution_id: str,
        settings: Settings,
        pool: ThreadPoolExecutor,
        send: Sender = ws_api.send,
        close: Closer = ws_api.close,
        lookup: ViewerLookup = connections.viewers,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.execution_id = execution_id
        self._settings = settings
        self._pool = pool
        self._send, self._close, self._lookup = send, close, lookup
        self._clock = clock
        self._lock = threading.Lock()
        self._backlog = _Backlog()
        # The line in progress of each stream: shorter than one piece (``_piece``).
        self._partial: dict[str, bytes] = {}
        self._piece = piece_bytes(settings.live_line_max_bytes, settings.ws_message_bytes)
        self._chunks: list[tuple[str, bytes]] = []
        self._queued = 0  # bytes in _chunks
        self._chunks_lock = threading.Lock()
        # One splitter at a time: the sender thread, or the pump when the queue passes its budget.
        self._drain_lock = threading.Lock()
        self._seq = 0
        self._viewers: dict[str, _Viewer] = {}
        self._looked_up_at: float | None = None
        self._ended = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"fanout-{execution_id}", daemon=True)
        self._thread.start()

    # -- the pump's side (never blocks on viewers) -----------------------------------------

    def feed(self, stream: str, chunk: bytes) -> None:
        """Only queues the chunk: the pump never waits on splitting, viewers or the network."""
        with self._chunks_lock:
            self._chunks.append((stream, chunk))
            self._queued += len(chunk)
            over = self._queued > _QUEUED_BYTES
        self._wake.set()
        if over:
            # The sender is behind (a slow viewer lookup): the queue is split here rather than
            # grow, into a backlog that keeps its budget.
            self._drain()

    def _drain(self, final: bool = False) -> None:
        """Turn the queued chunks into numbered lines (on the sender thread, or the pump's)."""
        with self._drain_lock:
            self._drain_locked(final)

    def _drain_locked(self, final: bool) -> None:
        with self._chunks_lock:
            chunks, self._chunks = self._chunks, []
            self._queued = 0
        entries: list[_Entry] = []
        seq = self._seq
        piece = self._piece
        for stream, chunk in chunks:
            data = self._partial.pop(stream, b"") + chunk
            *complete, rest = data.split(b"\n")
            for raw in complete:
                for part in _pieces(raw, piece, whole=True):
                    seq += 1
                    entries.append((seq, stream, part))
            if rest:
                # A line longer than a piece goes out a piece at a time; less than one is kept.
                parts = _pieces(rest, piece, whole=False)
                if len(parts[-1]) < piece:
                    self._partial[stream] = parts.pop()
                for part in parts:
                    seq += 1
                    entries.append((seq, stream, part))
        if final:
            for stream, rest in sorted(self._partial.items()):
                seq += 1
                entries.append((seq, stream, rest))
            self._partial.clear()
        if not entries:
            return
        self._seq = seq
        added = sum(len(raw) for _, _, raw in entries) + _ENTRY_OVERHEAD * len(entries)
        with self._lock:
            backlog = self._backlog
            backlog.lines.extend(entries)
            backlog.size += added
            drop = 0
            while backlog.size > self._settings.ws_backlog_bytes and drop < len(backlog.lines) - 1:
                backlog.size -= len(backlog.lines[drop][2]) + _ENTRY_OVERHEAD
                drop += 1
            if drop:
                del backlog.lines[:drop]
                backlog.base += drop

    # -- the sender ---------------------------------------------------------------------------

    def _loop(self) -> None:
        """Sleep until output comes (or the viewer list is due a look), let a burst gather for
        ``ws_flush_seconds``, post; a steady stream is thus posted once per that period."""
        idle = self._settings.ws_connections_refresh_seconds
        while not self._ended.is_set():
            self._wake.wait(idle)
            if self._ended.is_set():
                return
            if self._wake.is_set():
                self._ended.wait(self._settings.ws_flush_seconds)
                self._wake.clear()
            try:
                self._round()
            except Exception:
                logger.exception("live log round of %s failed", self.execution_id)

    def _refresh_viewers(self, force: bool) -> None:
        now = self._clock()
        stale = self._looked_up_at is None or now - self._looked_up_at >= self._settings.ws_connections_refresh_seconds
        if not (force or stale):
            return
        self._looked_up_at = now
        current = set(self._lookup(self.execution_id))
        for connection_id in current - self._viewers.keys():
            self._viewers[connection_id] = _Viewer(connection_id, seen_at=now)
        for connection_id in self._viewers.keys() - current:
            if not self._viewers[connection_id].busy:
                del self._viewers[connection_id]  # disconnected (its record is gone)

    def _pending(self, viewer: _Viewer) -> list[_Entry]:
        backlog = self._backlog
        start = max(viewer.next_index, backlog.base) - backlog.base
        return backlog.lines[start:]

    def _round(self) -> list[Future[None]]:
        self._drain()
        if not self._backlog.lines:
            # Nothing printed yet: no one to serve, so no query (a silent run costs none).
            return []
        self._refresh_viewers(force=False)
        posts: list[Future[None]] = []
        with self._lock:
            for viewer in list(self._viewers.values()):
                if viewer.busy or viewer.gone:
                    continue
                pending = self._pending(viewer)
                if not pending:
                    continue
                viewer.busy = True
                posts.append(self._pool.submit(self._post, viewer, pending))
        return posts

    def _post(self, viewer: _Viewer, entries: list[_Entry]) -> None:
        sent = 0
        lines = [LogLine(seq, stream, _text(raw)) for seq, stream, raw in entries]
        try:
            for batch, message in fit_messages(lines, self._settings.ws_message_bytes):
                try:
                    self._send(viewer.connection_id, message)
                except ws_api.ConnectionGone:
                    raise
                except Exception:
                    viewer.failures += 1
                    if viewer.failures < self._settings.ws_post_attempts:
                        logger.warning(
                            "post to viewer %s failed (attempt %d); trying again",
                            viewer.connection_id,
                            viewer.failures,
                            exc_info=True,
                        )
                        return
                    # Never retried forever: that message is lost for this viewer, not the rest.
                    logger.exception(
                        "post to viewer %s failed %d times: dropping lines %d-%d for it",
                        viewer.connection_id,
                        viewer.failures,
                        batch[0].seq,
                        batch[-1].seq,
                    )
                viewer.failures = 0
                sent += len(batch)
        except ws_api.ConnectionGone:
            if self._clock() - viewer.seen_at > _CONNECT_GRACE_SECONDS:
                # Its record goes with its $disconnect (or its TTL): the runner only stops posting.
                viewer.gone = True
        except Exception:
            logger.exception("post to viewer %s failed", viewer.connection_id)
        finally:
            with self._lock:
                if sent:
                    # Line ``seq`` n sits at absolute index n - 1, so the next to send is at n.
                    viewer.next_index = lines[sent - 1].seq
                viewer.busy = False
            if sent:
                self._wake.set()  # lines printed during this post go out now, not at the next line

    # -- the end ------------------------------------------------------------------------------

    def abandon(self) -> None:
        """Stop posting without closing anyone (the run did not end; another attempt will)."""
        self._ended.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def close(self, status: str, exit_code: int | None) -> None:
        """Send the last lines, then the done message, then close every viewer."""
        self._ended.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self._drain(final=True)
        deadline = self._clock() + _FINAL_WAIT_SECONDS
        try:
            self._refresh_viewers(force=True)
            while self._clock() < deadline:
                with self._lock:
                    busy = any(v.busy for v in self._viewers.values())
                    pending = any(self._pending(v) for v in self._viewers.values() if not v.gone)
                if not busy and not pending:
                    break
                wait(self._round(), timeout=max(0.0, deadline - self._clock()))
                if busy:
                    time.sleep(self._settings.ws_flush_seconds)
            done = done_message(status, exit_code)
            for viewer in list(self._viewers.values()):
                if not viewer.gone:
                    self._pool.submit(self._finish_viewer, viewer.connection_id, done)
        except Exception:
            logger.exception("closing the viewers of %s failed", self.execution_id)
            return
        sweep = threading.Timer(LATE_SWEEP_SECONDS, self._sweep_late, args=(set(self._viewers), done))
        sweep.daemon = True
        sweep.start()

    def _sweep_late(self, known: set[str], done: str) -> None:
        try:
            self._refresh_viewers(force=True)
            late = [viewer for key, viewer in list(self._viewers.items()) if key not in known]
            for viewer in late:
                self._post(viewer, self._pending(viewer))
                if not viewer.gone:
                    self._finish_viewer(viewer.connection_id, done)
        except Exception:
            logger.exception("late look at the viewers of %s failed", self.execution_id)

    def _finish_viewer(self, connection_id: str, done: str) -> None:
        try:
            self._send(connection_id, done)
            self._close(connection_id)
        except ws_api.ConnectionGone:
            pass
        except Exception:
            logger.exception("could not close viewer %s", connection_id)


def _pieces(data: bytes, size: int, whole: bool) -> list[bytes]:
    """``data`` cut in pieces of at most ``size`` bytes, a cut moved back (by up to 3 bytes) to
    the start of a UTF-8 sequence so a character is not split. ``whole``: the data is a whole
    line (an empty one is one empty piece)."""
    if len(data) <= size:
        return [data] if (data or whole) else []
    pieces: list[bytes] = []
    start = 0
    while len(data) - start > size:
        cut = start + size
        back = cut
        while back > start + size - 3 and data[back] & 0xC0 == 0x80:
            back -= 1
        if data[back] & 0xC0 != 0x80 and back > start:
            cut = back
        pieces.append(data[start:cut])
        start = cut
    pieces.append(data[start:])
    return pieces


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


class LogFanout:
    """The runner's fan-out: one ``ExecutionFanout`` per running execution, one post pool."""

    def __init__(self, settings: Settings, max_posts: int = 16) -> None:
        self.settings = settings
        self._pool = ThreadPoolExecutor(max_workers=max_posts, thread_name_prefix="ws-post")
        self._closing: set[threading.Thread] = set()
        self._closing_lock = threading.Lock()

    def open(self, execution_id: str) -> ExecutionFanout:
        return ExecutionFanout(execution_id, self.settings, self._pool)

    def close_soon(self, fanout: Viewers, status: str, exit_code: int | None) -> None:
        """Close ``fanout`` on a thread of its own: the run's slot (and its SQS message) is
        released at once, not after the last posts and the viewers' lookup."""
        closer = threading.Thread(
            target=fanout.close, args=(status, exit_code), name=f"ws-close-{fanout.execution_id}", daemon=True
        )
        with self._closing_lock:
            self._closing = {thread for thread in self._closing if thread.is_alive()}
            self._closing.add(closer)
        closer.start()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait for the closes under way (the runner's shutdown)."""
        with self._closing_lock:
            closing = list(self._closing)
        for thread in closing:
            thread.join(timeout)
