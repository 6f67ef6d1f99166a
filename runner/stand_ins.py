"""The small interfaces an ``ExecutionRun`` talks to, and do-nothing stand-ins for each.

A run without live logs, a start gate, a farm or an output listener gets the stand-in, so its
code asks no ``is None`` of them. The real ones (``LogFanout``/``ExecutionFanout``,
``StartGate``, ``FarmMember``) fit these protocols as they are.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from chalicelib.adapters.job_queue import ExecutionMessage
from runner.farm import Admission

if TYPE_CHECKING:
    from chalicelib.adapters.models import ExecutionModel


class Viewers(Protocol):
    """The live viewers of one execution (``log_fanout.ExecutionFanout``)."""

    execution_id: str

    def feed(self, stream: str, chunk: bytes) -> None: ...

    def abandon(self) -> None: ...

    def close(self, status: str, exit_code: int | None) -> None: ...


class LiveLogs(Protocol):
    """The runner's live-log fan-out (``log_fanout.LogFanout``)."""

    def open(self, execution_id: str) -> Viewers: ...

    def close_soon(self, fanout: Viewers, status: str, exit_code: int | None) -> None: ...

    def flush(self, timeout: float = 10.0) -> None: ...


class Gate(Protocol):
    """The runner's container slots (``start_gate.StartGate``)."""

    def enter(self, interrupted: threading.Event) -> bool: ...

    def take(self) -> bool: ...

    def leave(self) -> None: ...


class Farm(Protocol):
    """The runner's place in the farm (``farm.FarmMember``)."""

    # Whether a Docker host fault before the container existed may send the run to another host.
    moves_runs_on_host_faults: bool

    def admit(self, message: ExecutionMessage) -> Admission: ...

    def hold(self, message: ExecutionMessage) -> Admission: ...

    def release(self, message: ExecutionMessage, admission: Admission) -> None: ...

    def engine_ok(self, admission: Admission) -> None: ...

    def engine_failed(self, admission: Admission, error: str) -> None: ...

    def container_started(self, message: ExecutionMessage, container_id: str, started_at: datetime) -> None: ...


class NoViewers:
    """No one watches: output is dropped."""

    execution_id = ""

    def feed(self, stream: str, chunk: bytes) -> None:
        return None

    def abandon(self) -> None:
        return None

    def close(self, status: str, exit_code: int | None) -> None:
        return None


NO_VIEWERS = NoViewers()


class NoLiveLogs:
    """No WebSocket API configured: no viewers to open, close or wait for."""

    def open(self, execution_id: str) -> Viewers:
        return NO_VIEWERS

    def close_soon(self, fanout: Viewers, status: str, exit_code: int | None) -> None:
        return None

    def flush(self, timeout: float = 10.0) -> None:
        return None


NO_LIVE_LOGS = NoLiveLogs()


class NoGate:
    """No bound on the containers running at once: every run enters without waiting."""

    def enter(self, interrupted: threading.Event) -> bool:
        return True

    def take(self) -> bool:
        return False

    def leave(self) -> None:
        return None


NO_GATE = NoGate()


class NoFarm:
    """A runner on its own: every run is admitted, holds no slots, and reports to no one; a
    Docker host fault fails the run (there is no other host to send it to)."""

    moves_runs_on_host_faults = False

    def admit(self, message: ExecutionMessage) -> Admission:
        return Admission(True)

    def hold(self, message: ExecutionMessage) -> Admission:
        return Admission(True)

    def release(self, message: ExecutionMessage, admission: Admission) -> None:
        return None

    def engine_ok(self, admission: Admission) -> None:
        return None

    def engine_failed(self, admission: Admission, error: str) -> None:
        return None

    def container_started(self, message: ExecutionMessage, container_id: str, started_at: datetime) -> None:
        return None


NO_FARM = NoFarm()


def no_output(execution: ExecutionModel, stream: str, chunk: bytes) -> None:
    """The output listener of a run no one listens to."""
    return None
