"""``startIn`` durations: ``10s``, ``5m``, ``2h30m50s``, ``1d2h``."""

from __future__ import annotations

import re

from chalicelib.domain.errors import ValidationError

_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> int:
    """Seconds in a ``1d2h3m4s``-style duration; raises ValidationError when malformed."""
    match = _DURATION.match(text.strip().lower()) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise ValidationError(
            f"startIn {text!r} is not a duration like '10s', '5m', '2h30m50s' or '1d'",
            field="startIn",
        )
    return sum(int(value or 0) * _UNIT_SECONDS[unit] for value, unit in zip(match.groups(), "dhms", strict=True))
