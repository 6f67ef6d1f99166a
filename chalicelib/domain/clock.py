"""The one notion of "now" in the service; tests replace it instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(moment: datetime | None) -> str | None:
    """UTC timestamp in the API document's format (``2019-01-17T15:13:02.754000``)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime(ISO_FORMAT)
