"""What the stack-driven benchmarks share: the API's timestamps as epoch seconds, and percentiles."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

IMAGE = "slipway-test/busybox:latest"
RESULTS = Path(__file__).resolve().parent / "results"


def iso_seconds(text: str) -> float:
    """An API timestamp (UTC, ISO 8601 with microseconds, no offset) as epoch seconds."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC).timestamp()


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]
