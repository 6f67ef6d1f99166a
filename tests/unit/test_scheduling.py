"""chalicelib.domain.scheduling: when a job's runs are due.

Semantics of cron in a time zone, as croniter 7 implements them (and as pinned below): the
expression is matched against the *local wall clock* of the zone, and the answer is converted
back to UTC.
- Spring forward (a local time that does not exist, e.g. 02:30 in Europe/Berlin on 2026-03-29,
  when clocks jump from 02:00 CET to 03:00 CEST): the tick fires once, at the first instant after
  the gap, 03:00 local (01:00 UTC) — not at 03:30, and it is not skipped.
- Fall back (a local time that happens twice, e.g. 02:30 in Europe/Berlin on 2026-10-25, when
  clocks go back from 03:00 CEST to 02:00 CET): the tick fires on *both* occurrences, 00:30 UTC
  (02:30 CEST) and 01:30 UTC (02:30 CET). A daily job runs twice that day.
- The answer is always an aware datetime in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.backoff import Backoff
from chalicelib.domain.payload import JobSpec, parse_job
from chalicelib.domain.scheduling import (
    Overlap,
    first_run,
    next_cron_tick,
    overlap_decision,
    plan_tick,
)

NOW = datetime(2026, 1, 17, 15, 13, 2, 754000, tzinfo=UTC)


def spec(**changes):
    return parse_job({"image": "busybox", "command": "true", **changes})


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def ticks(expression, after, zone=None, count=3):
    found = []
    for _ in range(count):
        after = next_cron_tick(expression, after, zone)
        found.append(after)
    return found


def assert_utc(moment):
    assert moment.tzinfo is UTC
    assert moment.utcoffset() == timedelta(0)


# -- first_run ---------------------------------------------------------------------------------


def test_a_job_without_a_schedule_runs_now():
    assert first_run(spec(), NOW) == NOW


def test_start_at_in_the_past_is_that_instant_so_it_runs_at_once():
    past = int((NOW - timedelta(hours=1)).timestamp())

    due = first_run(spec(startAt=past), NOW)

    assert due == utc(2026, 1, 17, 14, 13, 2)
    assert_utc(due)
    assert due <= NOW


def test_start_at_zero_is_the_epoch():
    assert first_run(spec(startAt=0), NOW) == utc(1970, 1, 1)


def test_start_at_in_the_future_is_that_instant():
    future = int(utc(2026, 2, 1, 12).timestamp())

    due = first_run(spec(startAt=future), NOW)

    assert due == utc(2026, 2, 1, 12)
    assert_utc(due)


def test_start_at_now_is_not_delayed():
    exact = NOW.replace(microsecond=0)

    assert first_run(spec(startAt=int(exact.timestamp())), exact) == exact


@pytest.mark.parametrize(
    ("start_in", "delay"),
    [("10s", timedelta(seconds=10)), ("5m", timedelta(minutes=5)), ("2h30m50s", timedelta(seconds=9050))],
)
def test_start_in_is_that_long_after_now(start_in, delay):
    due = first_run(spec(startIn=start_in), NOW)

    assert due == NOW + delay
    assert_utc(due)


def test_start_in_zero_is_now_and_not_delayed():
    assert first_run(spec(startIn="0s"), NOW) == NOW


def test_cron_first_run_is_the_next_tick():
    due = first_run(spec(cron="*/5 * * * *"), NOW)

    assert due == utc(2026, 1, 17, 15, 15)
    assert_utc(due)


def test_cron_first_run_uses_the_job_time_zone():
    # São Paulo is UTC-3 all year since 2019 (no DST): 09:00 local is 12:00 UTC.
    due = first_run(spec(cron="0 9 * * *", timezone="America/Sao_Paulo"), NOW)

    assert due == utc(2026, 1, 18, 12)
    assert_utc(due)


# -- next_cron_tick ----------------------------------------------------------------------------


def test_the_next_tick_is_strictly_after_an_instant_on_a_tick():
    assert next_cron_tick("*/5 * * * *", utc(2026, 1, 17, 15, 15)) == utc(2026, 1, 17, 15, 20)
    assert next_cron_tick("0 0 * * *", utc(2026, 1, 17)) == utc(2026, 1, 18)


def test_the_next_tick_after_part_of_a_second_is_the_next_minute():
    assert next_cron_tick("* * * * *", utc(2026, 1, 17, 15, 13, 0, 1)) == utc(2026, 1, 17, 15, 14)
    assert next_cron_tick("* * * * *", utc(2026, 1, 17, 15, 13, 59, 999999)) == utc(2026, 1, 17, 15, 14)


def test_consecutive_ticks():
    assert ticks("*/20 * * * *", utc(2026, 1, 17, 23, 30)) == [
        utc(2026, 1, 17, 23, 40),
        utc(2026, 1, 18, 0, 0),
        utc(2026, 1, 18, 0, 20),
    ]


def test_the_answer_is_utc_whatever_the_zone_of_the_argument():
    after = datetime(2026, 1, 17, 12, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))  # 15:00 UTC

    tick = next_cron_tick("30 * * * *", after)

    assert tick == utc(2026, 1, 17, 15, 30)
    assert_utc(tick)


def test_sao_paulo_today_is_utc_minus_three():
    found = ticks("0 9 * * *", utc(2026, 7, 1), "America/Sao_Paulo")

    assert found == [utc(2026, 7, 1, 12), utc(2026, 7, 2, 12), utc(2026, 7, 3, 12)]
    for tick in found:
        assert_utc(tick)


def test_berlin_winter_and_summer_offsets():
    assert next_cron_tick("0 9 * * *", utc(2026, 1, 17), "Europe/Berlin") == utc(2026, 1, 17, 8)  # CET, +1
    assert next_cron_tick("0 9 * * *", utc(2026, 7, 17), "Europe/Berlin") == utc(2026, 7, 17, 7)  # CEST, +2


def test_berlin_spring_forward_fires_the_missing_0230_at_0300_local():
    found = ticks("30 2 * * *", utc(2026, 3, 28, 12), "Europe/Berlin")

    assert found == [
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST: 02:30 does not exist that night
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
        utc(2026, 3, 31, 0, 30),
    ]
    for tick in found:
        assert_utc(tick)
    assert found[0].astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M %Z") == "03:00 CEST"


def test_berlin_fall_back_fires_the_repeated_0230_twice():
    found = ticks("30 2 * * *", utc(2026, 10, 24, 12), "Europe/Berlin")

    assert found == [
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST, first occurrence
        utc(2026, 10, 25, 1, 30),  # 02:30 CET, second occurrence: the same daily job again
        utc(2026, 10, 26, 1, 30),  # 02:30 CET
    ]
    berlin = ZoneInfo("Europe/Berlin")
    assert [t.astimezone(berlin).strftime("%d %H:%M %Z") for t in found] == [
        "25 02:30 CEST",
        "25 02:30 CET",
        "26 02:30 CET",
    ]


def test_berlin_fall_back_from_between_the_two_occurrences_gives_the_second():
    assert next_cron_tick("30 2 * * *", utc(2026, 10, 25, 0, 45), "Europe/Berlin") == utc(2026, 10, 25, 1, 30)


def test_a_sub_hourly_cron_is_regular_in_utc_across_both_transitions():
    assert ticks("*/30 * * * *", utc(2026, 3, 29, 0), "Europe/Berlin", 4) == [
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 1, 0),
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 29, 2, 0),
    ]
    assert ticks("*/30 * * * *", utc(2026, 10, 25, 0), "Europe/Berlin", 4) == [
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 1, 0),
        utc(2026, 10, 25, 1, 30),
        utc(2026, 10, 25, 2, 0),
    ]


def test_sao_paulo_historical_dst_gap_at_midnight():
    # On 2018-11-04 São Paulo jumped from 00:00 (-03) to 01:00 (-02): midnight did not exist.
    # Like Berlin's 02:30, both the missing 00:00 and 00:30 fire at 01:00 local (03:00 UTC).
    assert ticks("0 0 * * *", utc(2018, 11, 3, 12), "America/Sao_Paulo") == [
        utc(2018, 11, 4, 3),
        utc(2018, 11, 5, 2),
        utc(2018, 11, 6, 2),
    ]
    assert next_cron_tick("30 0 * * *", utc(2018, 11, 3, 12), "America/Sao_Paulo") == utc(2018, 11, 4, 3)


def test_sao_paulo_historical_dst_overlap_fires_twice():
    # On 2019-02-17 00:00 (-02) clocks went back to 2019-02-16 23:00 (-03): 23:30 happened twice.
    assert ticks("30 23 * * *", utc(2019, 2, 16, 12), "America/Sao_Paulo") == [
        utc(2019, 2, 17, 1, 30),
        utc(2019, 2, 17, 2, 30),
        utc(2019, 2, 18, 2, 30),
    ]


def test_day_31_skips_the_months_without_one():
    found = ticks("0 0 31 * *", utc(2026, 1, 1), count=8)

    assert [(t.year, t.month, t.day) for t in found] == [
        (2026, 1, 31),
        (2026, 3, 31),
        (2026, 5, 31),
        (2026, 7, 31),
        (2026, 8, 31),
        (2026, 10, 31),
        (2026, 12, 31),
        (2027, 1, 31),
    ]


def test_day_31_in_a_zone_is_local_midnight():
    berlin = ticks("0 0 31 * *", utc(2026, 1, 1), "Europe/Berlin", 2)

    assert berlin == [utc(2026, 1, 30, 23), utc(2026, 3, 30, 22)]  # CET then CEST midnight


def test_last_day_of_month():
    assert ticks("0 0 L * *", utc(2026, 1, 15)) == [utc(2026, 1, 31), utc(2026, 2, 28), utc(2026, 3, 31)]


def test_february_29_waits_for_a_leap_year():
    assert ticks("0 0 29 2 *", utc(2026, 1, 1), count=2) == [utc(2028, 2, 29), utc(2032, 2, 29)]


# -- plan_tick, overlap_decision, Backoff ----------------------------------------------------


def test_a_one_off_job_always_runs_and_schedules_nothing_more():
    plan = plan_tick(spec(startIn="5m"), due=NOW, now=NOW + timedelta(hours=3))

    assert (plan.run, plan.next_run, plan.skipped, plan.reason) == (True, None, (), "one-off")


def test_an_on_time_cron_tick_runs_and_waits_for_the_next():
    due = utc(2026, 1, 17, 15, 15)

    plan = plan_tick(spec(cron="*/5 * * * *"), due=due, now=due + timedelta(seconds=5))

    assert (plan.run, plan.next_run, plan.skipped, plan.reason) == (True, utc(2026, 1, 17, 15, 20), (), "on time")


def test_a_missed_cron_tick_runs_once_and_resumes_from_now():
    due = utc(2026, 1, 17, 15, 15)
    now = utc(2026, 1, 17, 16, 2, 30)

    plan = plan_tick(spec(cron="*/5 * * * *"), due=due, now=now)

    assert (plan.run, plan.next_run, plan.skipped) == (True, utc(2026, 1, 17, 16, 5), ())
    assert plan.reason == "catch-up run of a missed tick"


def test_a_tick_missed_past_its_starting_deadline_is_skipped():
    due = utc(2026, 1, 17, 15, 15)
    now = due + timedelta(seconds=61)

    plan = plan_tick(spec(cron="*/5 * * * *", startingDeadlineSeconds=60), due=due, now=now)

    assert (plan.run, plan.next_run, plan.skipped) == (False, utc(2026, 1, 17, 15, 20), (due,))
    assert plan.reason == "missed its starting deadline"


def test_a_late_tick_within_its_starting_deadline_runs():
    due = utc(2026, 1, 17, 15, 15)

    plan = plan_tick(spec(cron="*/5 * * * *", startingDeadlineSeconds=60), due=due, now=due + timedelta(seconds=59))

    assert (plan.run, plan.skipped) == (True, ())


@pytest.mark.parametrize(
    ("changes", "others_active", "decision"),
    [
        ({}, True, Overlap.RUN),  # not a cron job
        ({"cron": "* * * * *"}, False, Overlap.RUN),
        ({"cron": "* * * * *"}, True, Overlap.RUN),  # policy "allow" by default
        ({"cron": "* * * * *", "concurrencyPolicy": "forbid"}, True, Overlap.SKIP),
        ({"cron": "* * * * *", "concurrencyPolicy": "forbid"}, False, Overlap.RUN),
        ({"cron": "* * * * *", "concurrencyPolicy": "replace"}, True, Overlap.REPLACE),
        ({"concurrencyPolicy": "forbid"}, True, Overlap.RUN),
    ],
)
def test_overlap_decision(changes, others_active, decision):
    assert overlap_decision(spec(**changes), others_active) is decision


def test_backoff_doubles_from_one_second_and_caps_at_fifteen_minutes():
    backoff = Backoff()

    assert [backoff.delay(n).total_seconds() for n in (0, 1, 2, 3, 10, 11, 50)] == [1, 1, 2, 4, 512, 900, 900]


def test_backoff_does_not_overflow_on_a_huge_retry_number():
    assert Backoff().delay(5000) == timedelta(minutes=15)


def test_backoff_for_a_job_takes_its_overrides_capped_by_the_service():
    backoff = Backoff.for_job({"minMs": 100, "factor": 3, "maxMs": 10**9}, cap_ms=900_000)

    assert (backoff.min_ms, backoff.factor, backoff.max_ms) == (100.0, 3.0, 900_000)
    assert [backoff.delay(n) for n in (1, 2, 3)] == [timedelta(milliseconds=m) for m in (100, 300, 900)]
    assert Backoff.for_job(None, cap_ms=60_000) == Backoff(min_ms=1000.0, factor=2.0, max_ms=60_000)


def test_a_job_spec_built_directly_is_scheduled_like_a_parsed_one():
    direct = JobSpec(image="busybox", command="true", cron="*/5 * * * *")

    assert first_run(direct, NOW) == first_run(spec(cron="*/5 * * * *"), NOW)
