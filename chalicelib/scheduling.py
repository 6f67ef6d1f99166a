"""When a job's runs are due (pure: every function takes the clock's reading)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from chalicelib.durations import parse_duration
from chalicelib.payload import JobSpec


def first_run(spec: JobSpec, now: datetime) -> datetime:
    """The instant the job's first execution is due (``now`` or earlier means at once)."""
    if spec.startAt is not None:
        return datetime.fromtimestamp(spec.startAt, UTC)
    if spec.startIn is not None:
        return now + timedelta(seconds=parse_duration(spec.startIn))
    if spec.cron is not None:
        return next_cron_tick(spec.cron, now, spec.timezone)
    return now


def next_cron_tick(expression: str, after: datetime, zone: str | None = None) -> datetime:
    """The first tick of ``expression`` strictly after ``after``, evaluated in ``zone`` (UTC by default).

    croniter works on aware datetimes in the zone given, so DST gaps and overlaps follow the
    zone's rules; the answer is converted back to UTC.
    """
    tz = ZoneInfo(zone) if zone else UTC
    local = after.astimezone(tz)
    tick = croniter(expression, local).get_next(datetime)
    return tick.astimezone(UTC)


def is_delayed(spec: JobSpec, now: datetime) -> bool:
    return spec.cron is not None or first_run(spec, now) > now
