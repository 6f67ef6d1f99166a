"""chalicelib.domain.task_prefixes: the literal prefix a task-id pattern (matched whole) forces."""

from __future__ import annotations

import itertools
import re

import pytest

from chalicelib.domain.access import Scope
from chalicelib.domain.task_prefixes import literal_prefix, search_prefixes


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [
        ("producta-.*", "producta-"),
        ("^team-(a|b)-.*", "team-"),
        (".*-x", ""),
        (".*", ""),
        ("", ""),
        # Anchors at the start are where a fullmatch starts anyway; one further on ends it.
        (r"\Aproducta-.*", "producta-"),
        ("^^abc", "abc"),
        ("ab^c", "ab"),
        ("abc$", "abc"),
        (r"abc\Z", "abc"),
        # Escaped punctuation is literal; an escaped letter or digit is a class, anchor or code.
        (r"a\.b\-c.*", "a.b-c"),
        (r"a\\b", "a\\b"),
        (r"ab\d+", "ab"),
        (r"ab\bc", "ab"),
        (r"ab\x41", "ab"),
        (r"(a)\1", ""),
        # A quantified atom: optional or repeated from zero is not forced; ``+`` keeps one.
        ("abc?d", "ab"),
        ("abc*d", "ab"),
        ("abc*?d", "ab"),
        ("abc{2}d", "ab"),
        ("abc{0,3}", "ab"),
        ("abc+d", "abc"),
        ("abc+?d", "abc"),
        (r"ab\.?c", "ab"),
        ("a?bc", ""),
        # Classes, groups and the any-character end it.
        ("ab[cd]e", "ab"),
        ("ab(?:cd)", "ab"),
        ("(?:producta)-.*", ""),
        ("(?P<team>a)-x", ""),
        ("ab.c", "ab"),
        # Top-level alternatives: the common start of their prefixes.
        ("producta-x.*|productb-.*", "product"),
        ("a.*|b.*", ""),
        ("team-a-.*|team-b-.*", "team-"),
        ("abc|", ""),
        # A ``|`` inside a class or a group, or escaped, is not an alternative.
        ("ab[|]c|ab", "ab"),
        (r"ab\|cd", "ab|cd"),
        ("ab(c|d)e", "ab"),
        # Inline flags (case-insensitive, verbose …) may change what a character matches.
        ("(?i)producta-.*", ""),
        ("(?x)producta - .*", ""),
        ("(?i:p)roducta", ""),
        # Characters that are not special are literal, spaces and non-ASCII ones too.
        ("équipe b/x:y@z=1,2.*", "équipe b/x:y@z=1,2"),
    ],
)
def test_the_prefix_every_match_starts_with(pattern: str, prefix: str) -> None:
    assert literal_prefix(pattern) == prefix


@pytest.mark.parametrize(
    ("pattern", "prefixes"),
    [
        ("producta-.*", ("producta-",)),
        ("^team-(a|b)-.*", ("team-",)),
        (".*-x", None),
        ("producta-x.*|productb-.*", ("producta-x", "productb-")),
        # The fewest that cover every alternative: ``ab`` finds whatever ``abc`` finds.
        ("abc.*|ab.*|x", ("ab", "x")),
        ("x.*|x.*", ("x",)),
        ("a.*|.*b", None),
        ("(?i)a", None),
    ],
)
def test_the_prefixes_a_listing_looks_ids_up_by(pattern: str, prefixes: tuple[str, ...] | None) -> None:
    assert search_prefixes(pattern) == prefixes
    assert Scope(tasks=pattern).task_prefixes == prefixes


# Patterns of many shapes, each against every short id over an alphabet that can tell its atoms
# apart: an id the pattern matches whole always starts with one of its prefixes.
PATTERNS = [
    "ab.*",
    "a?b.*",
    "ab*c",
    "ab+c?",
    "a(b|c)b",
    "ab|ba|c.*",
    "^a[bc]+",
    r"a\.b",
    "a{2}b",
    "a|ab|abc",
    "(a|b)c",
    "ab?|b",
    "a+b+",
    "b*a",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_no_id_the_pattern_matches_escapes_its_prefixes(pattern: str) -> None:
    ids = ["".join(letters) for size in range(5) for letters in itertools.product("abc.", repeat=size)]
    matched = [task_id for task_id in ids if re.fullmatch(pattern, task_id)]
    prefixes = search_prefixes(pattern) or ("",)

    assert matched, pattern
    assert all(task_id.startswith(literal_prefix(pattern)) for task_id in matched)
    assert all(task_id.startswith(prefixes) for task_id in matched)


def test_a_key_of_every_task_lists_as_a_full_key_whatever_its_verbs() -> None:
    assert Scope(tasks=".*", verbs=frozenset({"read"})).every_task
    assert not Scope(tasks="producta-.*").every_task
    assert Scope(tasks=".*").task_prefixes is None
