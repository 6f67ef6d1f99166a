"""chalicelib.domain.pagination: page numbers and the listing envelope of api.md."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import ValidationError
from chalicelib.domain.pagination import Page, parse_page

URL = "http://localhost:10000/tasks/?page={page}"
ENVELOPE_KEYS = {"hasNext", "hasPrev", "items", "nextUrl", "page", "pages", "perPage", "prevUrl", "total"}


@pytest.mark.parametrize(
    ("page", "total", "pages", "has_next", "has_prev"),
    [
        (1, 0, 0, False, False),
        (1, 1, 1, False, False),
        (1, 10, 1, False, False),
        (1, 11, 2, True, False),
        (2, 11, 2, False, True),
        (1, 12, 2, True, False),
        (2, 12, 2, False, True),
        (2, 25, 3, True, True),
        (3, 25, 3, False, True),
        (5, 11, 2, False, True),  # past the end: only the way back
    ],
)
def test_page_arithmetic_with_ten_per_page(page, total, pages, has_next, has_prev):
    p = Page(page=page, per_page=10, total=total)

    assert (p.pages, p.has_next, p.has_prev) == (pages, has_next, has_prev)


def test_zero_per_page_has_no_pages():
    p = Page(page=1, per_page=0, total=5)

    assert (p.pages, p.has_next, p.has_prev) == (0, False, False)


def test_envelope_of_a_single_page_matches_the_api_example():
    items = [{"taskId": "test-wrkng", "jobsCount": 2}]

    assert Page(page=1, per_page=10, total=1).envelope(items, URL) == {
        "hasNext": False,
        "hasPrev": False,
        "items": items,
        "nextUrl": None,
        "page": 1,
        "pages": 1,
        "perPage": 10,
        "prevUrl": None,
        "total": 1,
    }


def test_envelope_of_a_middle_page_links_both_ways():
    envelope = Page(page=2, per_page=10, total=25).envelope([], URL)

    assert set(envelope) == ENVELOPE_KEYS
    assert envelope["nextUrl"] == "http://localhost:10000/tasks/?page=3"
    assert envelope["prevUrl"] == "http://localhost:10000/tasks/?page=1"
    assert (envelope["hasNext"], envelope["hasPrev"], envelope["pages"], envelope["total"]) == (True, True, 3, 25)


@pytest.mark.parametrize(
    ("page", "total", "next_url", "prev_url"),
    [
        (1, 0, None, None),
        (1, 10, None, None),
        (1, 11, "http://localhost:10000/tasks/?page=2", None),
        (2, 11, None, "http://localhost:10000/tasks/?page=1"),
        (1, 12, "http://localhost:10000/tasks/?page=2", None),
        (2, 12, None, "http://localhost:10000/tasks/?page=1"),
    ],
)
def test_envelope_urls(page, total, next_url, prev_url):
    envelope = Page(page=page, per_page=10, total=total).envelope([{"i": 1}], URL)

    assert set(envelope) == ENVELOPE_KEYS
    assert (envelope["nextUrl"], envelope["prevUrl"]) == (next_url, prev_url)
    assert (envelope["page"], envelope["perPage"], envelope["total"]) == (page, 10, total)
    assert envelope["items"] == [{"i": 1}]


def test_envelope_formats_only_the_page_placeholder():
    envelope = Page(page=1, per_page=2, total=3).envelope([], "/search/?query=hello&page={page}")

    assert envelope["nextUrl"] == "/search/?query=hello&page=2"


@pytest.mark.parametrize(("raw", "page"), [(None, 1), ("", 1), ("1", 1), ("2", 2), ("10", 10), ("0003", 3)])
def test_parse_page(raw, page):
    assert parse_page(raw) == page


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "1.5", "1e3", " ", "two", "-0", "+5", " 5", "\uff15", "1_000"])
def test_parse_page_rejects_what_is_not_a_positive_integer(raw):
    with pytest.raises(ValidationError) as info:
        parse_page(raw)
    assert info.value.details == {"field": "page"}
    assert info.value.message == f"page must be a positive integer, got {raw!r}"
    assert info.value.status_code == 400
