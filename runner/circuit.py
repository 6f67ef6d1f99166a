"""A runner's circuit breaker over its Docker Engine (pure logic; the clock is injected).

closed ──(N consecutive Docker failures)──► open ──(reset time)──► half-open
   ▲                                          ▲                        │
   └────────────(the probe succeeds)──────────┼────────────────────────┤
                                              └──(the probe fails)─────┘

Open, the runner takes no work; half-open, it takes exactly one message as a probe. Only
faults of the Docker Engine count (unreachable, refusing), never a job's non-zero exit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    def __init__(self, threshold: int, reset_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.threshold = max(1, threshold)
        self.reset_seconds = reset_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False
        self.last_error: str | None = None

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return CLOSED
        if self.clock() - self._opened_at >= self.reset_seconds:
            return HALF_OPEN
        return OPEN

    @property
    def opened_at(self) -> float | None:
        return self._opened_at

    def allowance(self) -> int | None:
        """How many messages the runner may take now: None = no limit, 0 = none."""
        with self._lock:
            state = self._state()
            if state == CLOSED:
                return None
            if state == HALF_OPEN and not self._probe_in_flight:
                return 1
            return 0

    def admit(self) -> bool:
        """May one message start now? In half-open, the first admitted one is the probe."""
        with self._lock:
            state = self._state()
            if state == CLOSED:
                return True
            if state == HALF_OPEN and not self._probe_in_flight:
                self._probe_in_flight = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._probe_in_flight = False
            self.last_error = None

    def record_failure(self, error: str) -> None:
        with self._lock:
            self.last_error = error
            self._failures += 1
            if self._probe_in_flight or self._failures >= self.threshold:
                self._opened_at = self.clock()
                self._probe_in_flight = False

    def probe_abandoned(self) -> None:
        """The admitted probe ended without touching Docker (e.g. its claim was lost): allow another."""
        with self._lock:
            self._probe_in_flight = False
