"""Exponential back-off, the one rule for every wait between attempts (pure).

Retries of failed runs (``services/retries.py``) and of failed webhook and e-mail deliveries
(``domain/deliveries.py``) both wait by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off between retries: ``min_ms * factor**n``, capped at ``max_ms``."""

    min_ms: float = 1000.0
    factor: float = 2.0
    max_ms: float = 900_000.0

    @classmethod
    def for_job(cls, override: dict[str, float] | None, cap_ms: float) -> Backoff:
        override = override or {}
        return cls(
            min_ms=float(override.get("minMs", cls.min_ms)),
            factor=float(override.get("factor", cls.factor)),
            max_ms=min(float(override.get("maxMs", cap_ms)), cap_ms),
        )

    def delay_ms(self, retry_number: int) -> float:
        """The wait before retry ``retry_number`` (1 for the first retry), in milliseconds."""
        try:
            grown = self.min_ms * self.factor ** max(retry_number - 1, 0)
        except OverflowError:  # factor**n beyond a float (about the 1025th retry at factor 2): capped anyway
            grown = self.max_ms
        return min(grown, self.max_ms)

    def delay(self, retry_number: int) -> timedelta:
        """The wait before retry ``retry_number`` (1 for the first retry)."""
        return timedelta(milliseconds=self.delay_ms(retry_number))
