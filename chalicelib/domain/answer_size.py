"""How big an answer is once Lambda has it: the limit is on the JSON of the whole response.

Lambda answers at most 6 MB, counted on the JSON document the function returns. A text/plain
body is one JSON string in it; a JSON answer is a string holding JSON, so it is escaped twice.
Python's JSON escapes every non-ASCII character (``\\uXXXX``, twelve characters for one
outside the BMP) and every control character, so a body can grow up to six-fold: the byte count
of an output says little about the answer it makes.
"""

from __future__ import annotations

import json
from typing import Any

# Between stdout and stderr in the ``logs/`` answers (fastlane's separator).
LOG_SEPARATOR = "\n-=-\n"

# Bytes a JSON string holds as themselves: printable ASCII but the quote and the backslash.
_PLAIN_BYTES = bytes(byte for byte in range(0x20, 0x7F) if byte not in b'"\\')


def text_answer_size(text: str) -> int:
    """Characters ``text`` takes in the response as a text/plain body (one JSON string)."""
    return len(json.dumps(text))


def json_answer_size(value: Any) -> int:
    """Characters a JSON answer takes in the response (its JSON, as a JSON string)."""
    return len(json.dumps(json.dumps(value, separators=(",", ":"))))


def text_answer_bound(data: bytes) -> int:
    """An upper bound of ``text_answer_size`` of ``data`` decoded as UTF-8 (invalid bytes
    replaced), from the bytes alone: a plain byte is one character, any other at most six.

    Additive over the pieces of a stream (the quotes aside), so a capture sums it chunk by chunk.
    """
    return len(data) + 5 * len(data.translate(None, _PLAIN_BYTES))


def combined_answer_bound(stdout_bound: int, stderr_bound: int) -> int:
    """An upper bound of the ``logs/`` answer of two streams with these ``text_answer_bound``."""
    return stdout_bound + stderr_bound + text_answer_size(LOG_SEPARATOR)


def tail_within(text: str, budget: int, marker: str = "") -> tuple[str, bool]:
    """The longest tail of ``text`` that, after ``marker``, takes at most ``budget`` characters
    inside a JSON answer; and whether anything was cut (only then is ``marker`` prepended)."""
    if _in_json_answer(text) <= budget:
        return text, False
    low, high = 0, len(text)  # a tail that fits starts at ``high``; search the earliest start
    while low < high:
        middle = (low + high) // 2
        if _in_json_answer(marker + text[middle:]) <= budget:
            high = middle
        else:
            low = middle + 1
    return marker + text[high:], True


def _in_json_answer(text: str) -> int:
    return json_answer_size(text) - 2
