"""domain.history: the ``?limit=`` of a job's history, run durations and the summary's figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import ValidationError
from chalicelib.domain.history import duration_seconds, parse_limit, percentile, summarize

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def test_the_limit_defaults_and_is_bounded() -> None:
    assert parse_limit(None, 200, 1000) == 200
    assert parse_limit("", 200, 1000) == 200
    assert parse_limit("1", 200, 1000) == 1
    assert parse_limit("1000", 200, 1000) == 1000


@pytest.mark.parametrize("raw", ["0", "1001", "-3", "abc", "1.5", "+5", " 5", "５"])
def test_a_limit_out_of_bounds_or_not_digits_is_refused_naming_the_field(raw: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_limit(raw, 200, 1000)
    assert refused.value.to_dict()["field"] == "limit"
    assert "from 1 to 1000" in refused.value.to_dict()["error"]


def test_a_duration_needs_both_ends() -> None:
    assert duration_seconds(T0, T0 + timedelta(seconds=1.23456)) == 1.235
    assert duration_seconds(T0, None) is None and duration_seconds(None, T0) is None
    # A clock step backwards between start and end is no negative duration.
    assert duration_seconds(T0, T0 - timedelta(seconds=1)) == 0.0


def test_percentiles_are_nearest_rank_values_that_occurred() -> None:
    values = [float(n) for n in range(1, 11)]  # 1 … 10
    assert (percentile(values, 50), percentile(values, 90)) == (5.0, 9.0)
    assert percentile([3.0], 50) == percentile([3.0], 90) == 3.0
    assert percentile([], 50) is None


def test_the_summary_counts_each_status_and_times_only_ended_runs() -> None:
    summary = summarize([("done", 1.0), ("failed", 4.0), ("done", 2.0), ("running", None), ("done", 3.0)])

    assert summary.runs == 5
    assert summary.by_status == {"done": 3, "failed": 1, "running": 1}
    assert (summary.timed, summary.p50, summary.p90) == (4, 2.0, 4.0)
    empty = summarize([])
    assert (empty.runs, empty.by_status, empty.timed, empty.p50, empty.p90) == (0, {}, 0, None, None)
