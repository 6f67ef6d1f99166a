"""A job's history in compact form (``…/history/``): the ``limit`` asked for, each run's duration
and the summary of the runs covered (pure: no I/O).

The summary is of the runs the answer covers (the newest ``limit``), not of the job's whole
history: reading the whole history is what the route is there to avoid.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.errors import ValidationError


def parse_limit(raw: str | None, default: int, maximum: int) -> int:
    """``?limit=``: how many of the newest runs to answer, 1 to ``maximum`` (``default`` when absent)."""
    if raw is None or raw == "":
        return default
    # ASCII digits only, as for ``?page=``: int() would also take " 5", "+5" and other scripts' digits.
    limit = int(raw) if raw.isascii() and raw.isdigit() else 0
    if not 1 <= limit <= maximum:
        raise ValidationError(f"limit must be an integer from 1 to {maximum}, got {raw!r}", field="limit")
    return limit


def duration_seconds(started: datetime | None, finished: datetime | None) -> float | None:
    """How long a run took, to the millisecond; None while it has not both started and ended."""
    if started is None or finished is None:
        return None
    return round(max(0.0, (finished - started).total_seconds()), 3)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (a value that occurred), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Summary:
    runs: int
    by_status: dict[str, int]
    # Runs with a duration (started and ended), and its percentiles over them (seconds).
    timed: int
    p50: float | None
    p90: float | None


def summarize(runs: Iterable[tuple[str, float | None]]) -> Summary:
    """(status, duration or None) of each run → counts by status and the durations' p50/p90."""
    statuses: Counter[str] = Counter()
    durations: list[float] = []
    for status, duration in runs:
        statuses[status] += 1
        if duration is not None:
            durations.append(duration)
    return Summary(
        runs=sum(statuses.values()),
        by_status=dict(sorted(statuses.items())),
        timed=len(durations),
        p50=percentile(durations, 50),
        p90=percentile(durations, 90),
    )
