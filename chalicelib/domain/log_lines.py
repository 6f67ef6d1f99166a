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


def text_lines(text: str) -> list[str]:
    """The lines of a stored output (a final newline ends the last line, it adds none)."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines
