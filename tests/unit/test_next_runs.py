"""A job's ``nextRuns``: its next instant, then a cron's ticks after it in its own time zone."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.domain.scheduling import upcoming_ticks
from chalicelib.services.views import next_runs
from tests.fakes.items import a_job, spec_of


def test_a_cron_lists_its_next_instant_and_the_four_ticks_after_it() -> None:
    first = datetime(2026, 3, 27, 2, 0, tzinfo=UTC)  # 03:00 in Berlin, the night before DST starts
    job = a_job(spec_of(cron="0 3 * * *", timezone="Europe/Berlin"), next_run_at=first.timestamp(), scheduled=True)

    assert next_runs(job, first.timestamp()) == [
        "2026-03-27T02:00:00.000000",
        "2026-03-28T02:00:00.000000",
        "2026-03-29T01:00:00.000000",  # summer time: 03:00 in Berlin is 01:00 UTC
        "2026-03-30T01:00:00.000000",
        "2026-03-31T01:00:00.000000",
    ]


def test_a_one_off_lists_its_instant_and_an_unscheduled_job_nothing() -> None:
    at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert next_runs(a_job(spec_of(startIn="2h"), next_run_at=at.timestamp(), scheduled=True), at.timestamp()) == [
        "2026-05-01T12:00:00.000000"
    ]
    assert next_runs(a_job(spec_of(cron="* * * * *"), next_run_at=None, scheduled=False), None) == []


def test_a_suspended_cron_lists_nothing() -> None:
    at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    job = a_job(spec_of(cron="* * * * *"), next_run_at=at.timestamp(), scheduled=True, suspended=True)
    assert next_runs(job, at.timestamp()) == []


def test_upcoming_ticks_in_utc_by_default() -> None:
    first = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert upcoming_ticks("*/15 * * * *", first, 3) == [
        first,
        datetime(2026, 1, 1, 0, 15, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 30, tzinfo=UTC),
    ]
