"""At most ``runner_concurrency`` containers of a runner running at once, with runs prepared ahead.

The runner receives, claims and creates up to ``runner_prefetch`` runs more than it may run:
each waits here, its container created, and starts the moment a running container ends. The
storage calls between two containers on one slot (receive, claim, the job read, the container's
creation, and the previous run's final write) then overlap a running container instead of
leaving the Docker engine idle. A slot is held from the container's start to its exit, not to
the end of the run's bookkeeping.

A run prepared ahead holds its message and its pool slots while it waits, like a run whose
scheduled instant has not come: at most ``runner_prefetch`` of them per runner. When the runner
stops, the ones still waiting are handed back at once rather than started.
"""

from __future__ import annotations

import threading

# How often a waiting run looks whether it was stopped (seconds); a freed slot wakes it at once.
_CHECK_EVERY = 0.1


class StartGate:
    def __init__(self, size: int, closed: threading.Event | None = None) -> None:
        self._slots = threading.Semaphore(size)
        # Set when the runner stops: nothing waiting enters any more.
        self.closed = closed or threading.Event()

    def enter(self, interrupted: threading.Event) -> bool:
        """Wait for a slot; False (holding none) once ``interrupted`` or the gate is closed."""
        while not self._slots.acquire(timeout=_CHECK_EVERY):
            if interrupted.is_set() or self.closed.is_set():
                return False
        if interrupted.is_set() or self.closed.is_set():
            self._slots.release()
            return False
        return True

    def take(self) -> bool:
        """A slot without waiting (for a container already running, re-attached): False if none."""
        return self._slots.acquire(blocking=False)

    def leave(self) -> None:
        self._slots.release()
