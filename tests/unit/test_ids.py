"""chalicelib.domain.ids: UUIDv7 execution ids (RFC 9562) and UUID4 checks."""

from __future__ import annotations

import time
import uuid
from itertools import pairwise

import pytest

from chalicelib.domain import ids

MS = 1_768_000_000_123  # 2026-01-09T...Z, in milliseconds


@pytest.fixture(autouse=True)
def fresh_generator(monkeypatch):
    """Each test starts the id generator afresh (its state is module-global) and leaves it as found."""
    monkeypatch.setattr(ids, "_last_ms", 0)
    monkeypatch.setattr(ids, "_counter", 0)


def embedded_ms(text):
    return uuid.UUID(text).int >> 80


def assert_uuid7(text):
    parsed = uuid.UUID(text)
    assert str(parsed) == text  # canonical, lower-case, hyphenated
    assert parsed.variant == uuid.RFC_4122
    assert parsed.version == 7
    assert text[14] == "7"
    assert text[19] in "89ab"


def test_an_execution_id_is_a_uuid7_with_the_rfc_4122_variant():
    text = ids.new_execution_id()

    assert_uuid7(text)
    assert not ids.is_uuid4(text)


def test_an_execution_id_embeds_the_given_millisecond():
    text = ids.new_execution_id(now_ms=MS)

    assert_uuid7(text)
    assert embedded_ms(text) == MS


def test_an_execution_id_embeds_the_current_millisecond():
    before = int(time.time() * 1000)
    text = ids.new_execution_id()
    after = int(time.time() * 1000)

    assert before <= embedded_ms(text) <= after


def test_ten_thousand_ids_in_one_millisecond_are_strictly_increasing():
    made = [ids.new_execution_id(now_ms=MS) for _ in range(10_000)]

    assert all(a < b for a, b in pairwise(made))
    for text in made:
        assert_uuid7(text)
    # The 12-bit counter holds at most 4096 ids per millisecond: past that, the next
    # millisecond is borrowed rather than the counter wrapping around.
    assert embedded_ms(made[0]) == MS
    assert MS + 2 <= embedded_ms(made[-1]) <= MS + 3


def test_ids_increase_across_milliseconds():
    made = []
    for ms in (MS, MS, MS + 1, MS + 1, MS + 2, MS + 1000):
        made.append(ids.new_execution_id(now_ms=ms))

    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert [embedded_ms(t) for t in made] == [MS, MS, MS + 1, MS + 1, MS + 2, MS + 1000]


def test_ids_still_increase_when_the_clock_goes_back():
    first = ids.new_execution_id(now_ms=MS)
    second = ids.new_execution_id(now_ms=MS - 5000)

    assert first < second
    assert embedded_ms(second) == MS


def test_ids_made_on_the_real_clock_increase_across_several_milliseconds():
    start = time.monotonic()
    made = [ids.new_execution_id()]
    while embedded_ms(made[-1]) - embedded_ms(made[0]) < 3 and time.monotonic() - start < 5:
        made.append(ids.new_execution_id())

    assert embedded_ms(made[-1]) - embedded_ms(made[0]) >= 3
    assert all(a < b for a, b in pairwise(made))


def test_ids_sort_as_strings_like_their_integers():
    made = [ids.new_execution_id(now_ms=MS + step * 7919) for step in range(50)]

    assert sorted(made) == sorted(made, key=lambda t: uuid.UUID(t).int) == made


def test_derived_execution_id_is_a_deterministic_uuid7_at_the_instant():
    job_id = "5a023792-1445-44e9-8a8b-cfe5ad05d1c6"
    text = ids.derived_execution_id(job_id, MS, "cron")

    assert_uuid7(text)
    assert embedded_ms(text) == MS
    assert ids.derived_execution_id(job_id, MS, "cron") == text
    assert ids.derived_execution_id(job_id, MS, "retry-1") != text
    assert ids.derived_execution_id(job_id, MS + 1, "cron") > text
    assert ids.derived_execution_id(str(uuid.uuid4()), MS, "cron") != text


def test_new_job_id_is_a_uuid4():
    job_id = ids.new_job_id()

    assert ids.is_uuid4(job_id)
    assert uuid.UUID(job_id).version == 4


@pytest.mark.parametrize(
    "text",
    [str(uuid.uuid4()), "5a023792-1445-44e9-8a8b-cfe5ad05d1c6", "de5fa478-9106-42d6-b142-325941ebf913"],
    ids=["fresh", "fixed-1", "fixed-2"],
)
def test_is_uuid4_accepts_a_uuid4(text):
    assert ids.is_uuid4(text)


def test_is_uuid4_accepts_an_upper_case_uuid4():
    # UUID text is case-insensitive on input (RFC 9562 §4); is_uuid4 compares lower-cased.
    assert ids.is_uuid4("5A023792-1445-44E9-8A8B-CFE5AD05D1C6")


def variant_mismatch(text, nibble):
    """``text`` with the variant nibble (the first of the fourth group) replaced."""
    return text[:19] + nibble + text[20:]


@pytest.mark.parametrize(
    "text",
    [
        # Named: a fresh value's id would differ between two collections (pytest-xdist workers).
        pytest.param(str(uuid.uuid1()), id="uuid1"),
        str(uuid.uuid3(uuid.NAMESPACE_DNS, "example.com")),
        str(uuid.uuid5(uuid.NAMESPACE_DNS, "example.com")),
        "01890a5d-ac96-774b-bcce-b302099a8057",  # a UUIDv7
        "00000000-0000-0000-0000-000000000000",
        # Version nibble 4 but a non-RFC-4122 variant: not a UUID4 (NCS, Microsoft, future).
        variant_mismatch("5a023792-1445-44e9-8a8b-cfe5ad05d1c6", "0"),
        variant_mismatch("5a023792-1445-44e9-8a8b-cfe5ad05d1c6", "c"),
        variant_mismatch("5a023792-1445-44e9-8a8b-cfe5ad05d1c6", "e"),
        variant_mismatch("5A023792-1445-44E9-8A8B-CFE5AD05D1C6", "C"),
        # Not the canonical hyphenated form.
        "5a023792144544e98a8bcfe5ad05d1c6",
        "{5a023792-1445-44e9-8a8b-cfe5ad05d1c6}",
        "urn:uuid:5a023792-1445-44e9-8a8b-cfe5ad05d1c6",
        " 5a023792-1445-44e9-8a8b-cfe5ad05d1c6",
        "5a023792-1445-44e9-8a8b-cfe5ad05d1c6\n",
        "5a023792-1445-44e9-8a8b-cfe5ad05d1c",
        "5a023792-1445-44e9-8a8b-cfe5ad05d1cg",
        "",
        "garbage",
        "not-a-uuid-at-all-definitely-not-one",
    ],
)
def test_is_uuid4_rejects_anything_else(text):
    assert not ids.is_uuid4(text)


@pytest.mark.parametrize("value", [None, 123, b"5a023792-1445-44e9-8a8b-cfe5ad05d1c6"])
def test_is_uuid4_rejects_non_text(value):
    assert not ids.is_uuid4(value)
