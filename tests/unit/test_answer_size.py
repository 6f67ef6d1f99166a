"""domain.answer_size: an answer measured as Lambda holds it; the runner's bound never under it."""

from __future__ import annotations

import json
import random

import pytest

from chalicelib.domain.answer_size import (
    LOG_SEPARATOR,
    combined_answer_bound,
    json_answer_size,
    tail_within,
    text_answer_bound,
    text_answer_size,
)

SAMPLES = [
    b"",
    b"plain ascii line\n" * 10,
    "中文日志输出\n".encode() * 50,
    "emoji \U0001f600 outside the BMP\n".encode(),
    bytes(range(256)),
    b"\xff\xfe\xfd invalid utf-8 \x80\x81",
    b'quotes " and back\\slashes\t\r\n',
]


@pytest.mark.parametrize("data", SAMPLES)
def test_the_bound_from_bytes_is_never_below_the_answer_size(data: bytes) -> None:
    assert text_answer_bound(data) + 2 >= text_answer_size(data.decode("utf-8", errors="replace"))


def test_the_bound_holds_for_random_bytes_and_adds_up_over_chunks() -> None:
    generator = random.Random(14)
    for _ in range(200):
        data = bytes(generator.randrange(256) for _ in range(generator.randrange(1, 300)))
        cut = generator.randrange(len(data) + 1)
        assert text_answer_bound(data[:cut]) + text_answer_bound(data[cut:]) == text_answer_bound(data)
        assert text_answer_bound(data) + 2 >= text_answer_size(data.decode("utf-8", errors="replace"))


def test_escaping_can_make_an_answer_six_times_its_bytes() -> None:
    control = "\x01" * 1000
    assert text_answer_size(control) == 6 * 1000 + 2
    assert text_answer_size("中" * 1000) == 6 * 1000 + 2  # three bytes each, six characters
    assert json_answer_size({"log": "\n"}) == len(json.dumps(json.dumps({"log": "\n"}, separators=(",", ":"))))


def test_the_combined_bound_counts_the_separator() -> None:
    out, err = b"a" * 10, b"b" * 20
    combined = (out + LOG_SEPARATOR.encode() + err).decode()
    assert combined_answer_bound(text_answer_bound(out) + 2, text_answer_bound(err) + 2) >= text_answer_size(combined)


def test_a_tail_within_a_budget_keeps_the_end_after_a_marker() -> None:
    text = "".join(f"line {n} \x01中\n" for n in range(2000))

    kept, cut = tail_within(text, 5000, "[cut]\n")

    assert cut and kept.startswith("[cut]\n") and text.endswith(kept[len("[cut]\n") :])
    assert json_answer_size(kept) - 2 <= 5000
    # The longest such tail: one character more would not fit.
    longer = "[cut]\n" + text[len(text) - len(kept) + len("[cut]\n") - 1 :]
    assert json_answer_size(longer) - 2 > 5000
    assert tail_within("short", 5000, "[cut]\n") == ("short", False)
