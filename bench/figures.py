"""What the stack-driven benchmarks share: the API's timestamps as epoch seconds, percentiles, and
the ``--stack-env NAME=VALUE`` options."""

from __future__ import annotations

from collections.abc import Sequence
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


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    """``--stack-env NAME=VALUE`` options as the stack's extra environment."""
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--stack-env wants NAME=VALUE, not {pair!r}")
        env[name] = value
    return env
