"""When a job's runs are due (pure: every function takes the clock's reading)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from croniter import croniter

from chalicelib.domain.durations import parse_duration
from chalicelib.domain.payload import JobSpec


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


def upcoming_ticks(expression: str, first: datetime, count: int, zone: str | None = None) -> list[datetime]:
    """``count`` ticks of ``expression`` from ``first`` on (``first`` itself included when it is
    a tick: the job's own next instant), in UTC."""
    ticks = [first.astimezone(UTC)]
    while len(ticks) < count:
        ticks.append(next_cron_tick(expression, ticks[-1], zone))
    return ticks[:count]


@dataclass(frozen=True)
class TickPlan:
    """What to do with a job's due instant.

    ``run``: create an execution for ``due``; ``skipped``: instants deliberately not run
    (recorded on the job); ``next_run``: the instant the job waits for next (None: nothing
    more is scheduled).
    """

    run: bool
    next_run: datetime | None
    skipped: tuple[datetime, ...] = ()
    reason: str = ""


def plan_tick(spec: JobSpec, due: datetime, now: datetime, late_after: float = 5.0) -> TickPlan:
    """Decide a due instant of a job when the dispatcher reaches it (pure).

    One-off jobs (startAt/startIn) always run, whenever they are reached. For cron, a tick
    reached more than ``late_after`` seconds late was missed (the dispatcher was down): with
    ``startingDeadlineSeconds`` it runs only within the deadline, else it is skipped and
    recorded; without one, a single catch-up run happens now and the schedule resumes from
    now — never a burst of every missed tick.

    The concurrency policy is not decided here: the dispatcher works ahead of time, and
    whether the last run is still active is only known when the new one is about to start
    (see ``overlap_decision``, applied by the runner).
    """
    if spec.cron is None:
        return TickPlan(run=True, next_run=None, reason="one-off")
    lateness = (now - due).total_seconds()
    if lateness > late_after:
        resume = next_cron_tick(spec.cron, now, spec.timezone)
        deadline = spec.startingDeadlineSeconds
        if deadline is not None and lateness > deadline:
            return TickPlan(run=False, next_run=resume, skipped=(due,), reason="missed its starting deadline")
        return TickPlan(run=True, next_run=resume, reason="catch-up run of a missed tick")
    return TickPlan(run=True, next_run=next_cron_tick(spec.cron, due, spec.timezone), reason="on time")


class Overlap(str, Enum):
    RUN = "run"
    SKIP = "skip"
    REPLACE = "replace"


def overlap_decision(spec: JobSpec, others_active: bool) -> Overlap:
    """What a cron run does when it starts while an earlier run of its job is still active."""
    if spec.cron is None or not others_active or spec.concurrencyPolicy == "allow":
        return Overlap.RUN
    return Overlap.SKIP if spec.concurrencyPolicy == "forbid" else Overlap.REPLACE
