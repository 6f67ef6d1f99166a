"""Every container a stage's runners start, counted per execution, through Docker's own events.

A container is removed once its run is stored, so ``docker ps -a`` after the fact sees none;
Docker's event stream sees each ``start`` as it happens. Starts, not creates: a container made
but never started (a runner killed before its start) is removed and made again, and never ran.
The stream is read by a thread from the start of a fault test and followed across a restart of
the daemon (a daemon keeps no events of its earlier life: it is read live, and picked up again
once the daemon answers).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from types import TracebackType

import docker


class ContainerStarts:
    def __init__(self, stage: str, client: Callable[[], docker.DockerClient]) -> None:
        self._filters = {"type": "container", "event": "start", "label": f"slipway.stage={stage}"}
        self._client = client
        self._started: Counter[str] = Counter()
        # Container ids already counted: a stream picked up again may repeat its last event.
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._since = time.time()
        self._thread = threading.Thread(target=self._follow, name="container-events", daemon=True)

    def _follow(self) -> None:
        while not self._done.is_set():
            try:
                stream = self._client().events(since=self._since, decode=True, filters=self._filters)
                for event in stream:
                    self._record(event)
                    if self._done.is_set():
                        break
            except Exception:  # noqa: BLE001 - the daemon restarts: read again once it answers
                self._done.wait(0.2)

    def _record(self, event: dict[str, object]) -> None:
        actor = event.get("Actor") or {}
        attributes = actor.get("Attributes", {}) if isinstance(actor, dict) else {}
        execution = str(attributes.get("slipway.execution", ""))
        with self._lock:
            if event.get("id") not in self._seen:
                self._seen.add(str(event.get("id")))
                self._started[execution] += 1
        time_nano = event.get("timeNano")
        if isinstance(time_nano, int):
            self._since = time_nano / 1e9

    def start(self) -> ContainerStarts:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()

    def started(self, execution_id: str) -> int:
        """Containers started for ``execution_id`` so far."""
        with self._lock:
            return self._started[execution_id]

    def __enter__(self) -> ContainerStarts:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
