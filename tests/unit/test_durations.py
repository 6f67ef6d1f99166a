"""chalicelib.domain.durations: startIn durations such as ``10s``, ``5m``, ``2h30m50s``, ``1d2h``."""

from __future__ import annotations

import pytest

from chalicelib.domain.durations import parse_duration
from chalicelib.domain.errors import ValidationError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10s", 10),
        ("5m", 300),
        ("1h", 3600),
        ("1d", 86400),
        ("1d2h", 86400 + 2 * 3600),
        ("2h30m50s", 2 * 3600 + 30 * 60 + 50),
        ("1d2h3m4s", 86400 + 7200 + 180 + 4),
        ("90m", 5400),
        ("0s", 0),
        ("007s", 7),
        ("100000d", 100000 * 86400),
    ],
)
def test_a_duration_is_parsed_to_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "seconds"), [("5M", 300), ("1D2H", 93600), ("2H30m50S", 9050)])
def test_units_are_case_insensitive(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "seconds"), [(" 5m", 300), ("5m ", 300), ("\t1h\n", 3600)])
def test_surrounding_whitespace_is_ignored(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "5",
        "5x",
        "m5",
        "s",
        "-5m",
        "+5m",
        "1.5h",
        "1h 30m",  # whitespace inside
        "2h1d",  # units out of order
        "1d1d",  # a unit twice
        "5 m",
        "5min",
        "PT5M",
        "5m\n5s",
    ],
)
def test_a_malformed_duration_is_rejected(text):
    with pytest.raises(ValidationError) as info:
        parse_duration(text)
    assert info.value.details == {"field": "startIn"}
    assert info.value.message.startswith(f"startIn {text!r} is not a duration")


@pytest.mark.parametrize("value", [None, 5, 5.0, ["5m"]])
def test_a_value_that_is_not_text_is_rejected(value):
    with pytest.raises(ValidationError, match="is not a duration"):
        parse_duration(value)
