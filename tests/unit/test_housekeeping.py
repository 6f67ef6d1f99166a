"""The background remover tries a failed removal again (the Docker Engine restarting), gives up
after its deadline, and stops retrying at shutdown. The real Engine's restart is played by the
fault suite (tests/faults); here a stand-in engine fails a given number of times."""

from __future__ import annotations

import time

from runner.docker_engine import EngineError
from runner.housekeeping import ContainerRemover


class FlakyEngine:
    """Refuses the first ``failures`` removals, as an Engine that is down, then removes."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[str] = []
        self.removed: list[str] = []

    def remove(self, container_id: str) -> None:
        self.calls.append(container_id)
        if len(self.calls) <= self.failures:
            raise EngineError("Docker Engine unreachable")
        self.removed.append(container_id)


def test_a_failed_removal_is_tried_again_until_it_succeeds() -> None:
    engine = FlakyEngine(failures=3)
    remover = ContainerRemover(engine, retry_seconds=30)  # type: ignore[arg-type]
    remover.remove_later("c1")
    deadline = time.monotonic() + 10
    while not engine.removed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.removed == ["c1"]
    assert engine.calls == ["c1"] * 4
    remover.flush()


def test_a_removal_is_given_up_after_its_deadline() -> None:
    engine = FlakyEngine(failures=1000)
    remover = ContainerRemover(engine, retry_seconds=0.5)  # type: ignore[arg-type]
    remover.remove_later("c1")
    time.sleep(1.5)
    tried = len(engine.calls)
    time.sleep(0.5)
    assert 2 <= tried == len(engine.calls)  # tried more than once, then no more
    assert engine.removed == []
    remover.flush()


def test_shutdown_stops_the_retries_at_once() -> None:
    engine = FlakyEngine(failures=1000)
    remover = ContainerRemover(engine, retry_seconds=300)  # type: ignore[arg-type]
    remover.remove_later("c1")
    time.sleep(0.3)
    started = time.monotonic()
    remover.flush()
    assert time.monotonic() - started < 2
    assert engine.removed == []
