"""What a live log viewer is sent (pure): numbered lines in batches, then the end.

Messages (JSON text frames), in the order a viewer receives them:
  ``{"lines": [{"seq": 1, "stream": "stdout", "text": "..."}, ...]}`` — a batch of lines; ``seq``
  numbers every line of one execution (both streams) from 1, so a client that reconnects can
  drop what it already shows;
  ``{"done": true, "status": "done", "exitCode": 0}`` — the execution ended; the server then
  closes the socket (the local front door with close reason ``done``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# Close reason of a socket whose execution has ended: the API document's clients stop there.
DONE_REASON = "done"


@dataclass(frozen=True)
class LogLine:
    seq: int
    stream: str
    text: str

    def to_dict(self) -> dict[str, object]:
        return {"seq": self.seq, "stream": self.stream, "text": self.text}

    @property
    def size(self) -> int:
        """Bytes this line adds to a message (its JSON, roughly, never under)."""
        return len(self.text.encode("utf-8")) * 2 + len(self.stream) + 40


def lines_message(lines: Iterable[LogLine]) -> str:
    return json.dumps({"lines": [line.to_dict() for line in lines]})


def done_message(status: str, exit_code: float | None) -> str:
    return json.dumps({"done": True, "status": status, "exitCode": exit_code})


def batches(lines: list[LogLine], max_bytes: int) -> Iterator[list[LogLine]]:
    """Cut ``lines`` into runs whose message stays under ``max_bytes`` (a longer line goes alone)."""
    batch: list[LogLine] = []
    size = 0
    for line in lines:
        if batch and size + line.size > max_bytes:
            yield batch
            batch, size = [], 0
        batch.append(line)
        size += line.size
    if batch:
        yield batch


# A JSON string holds at most 6 bytes per byte of output (``\u0000`` for a NUL, ``\ufffd`` for a
# byte that is not UTF-8); the message's envelope and one line's keys take less than this.
_JSON_BYTES_PER_BYTE = 6
_ENVELOPE_BYTES = 128


def piece_bytes(line_max_bytes: int, message_max_bytes: int) -> int:
    """The longest piece of a line (bytes of output) sent as one line: at most ``line_max_bytes``,
    and small enough that a message of that one piece stays under ``message_max_bytes`` whatever
    its bytes are."""
    return max(1, min(line_max_bytes, (message_max_bytes - _ENVELOPE_BYTES) // _JSON_BYTES_PER_BYTE))


def fit_messages(lines: list[LogLine], max_bytes: int) -> Iterator[tuple[list[LogLine], str]]:
    """``lines`` as messages of at most ``max_bytes`` (UTF-8), each with the lines it carries.

    Batches are cut by the lines' estimated size, then measured: a message over the limit is
    split in two until it fits. A single line too long even alone (longer than ``piece_bytes``
    allows, which the runner never sends) has its text cut to fit.
    """
    for batch in batches(lines, max_bytes):
        yield from _fitted(batch, max_bytes)


def _fitted(batch: list[LogLine], max_bytes: int) -> Iterator[tuple[list[LogLine], str]]:
    message = lines_message(batch)
    size = len(message.encode("utf-8"))
    if size <= max_bytes:
        yield batch, message
        return
    if len(batch) > 1:
        middle = len(batch) // 2
        yield from _fitted(batch[:middle], max_bytes)
        yield from _fitted(batch[middle:], max_bytes)
        return
    (line,) = batch
    text = line.text
    while size > max_bytes and text:
        text = text[: max(0, len(text) * max_bytes // size - _ENVELOPE_BYTES)]
        message = lines_message([LogLine(line.seq, line.stream, text)])
        size = len(message.encode("utf-8"))
    yield batch, message


def text_lines(text: str) -> list[str]:
    """The lines of a stored output (a final newline ends the last line, it adds none)."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines
