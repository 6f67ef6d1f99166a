"""The drain's waiting and hand-back decisions, with stand-in runs (no Docker, no AWS)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from runner.drain import drain


@dataclass
class FakeRun:
    key: str
    settled: bool = False
    handed_back: bool = False

    def hand_back(self) -> None:
        self.handed_back = True


def test_runs_that_end_within_the_deadline_are_not_handed_back() -> None:
    run = FakeRun("a")
    ends = threading.Timer(0.3, lambda: setattr(run, "settled", True))
    started = time.monotonic()
    ends.start()

    handed = drain(lambda: not run.settled, lambda: [run], 5.0, threading.Event())

    assert handed == [] and not run.handed_back
    assert 0.3 <= time.monotonic() - started < 5


def test_runs_still_going_at_the_deadline_are_handed_back_but_settled_ones_are_not() -> None:
    going, settled = FakeRun("going"), FakeRun("settled", settled=True)
    started = time.monotonic()

    handed = drain(lambda: True, lambda: [going, settled], 0.3, threading.Event())

    assert handed == ["going"]
    assert going.handed_back and not settled.handed_back
    assert 0.3 <= time.monotonic() - started < 5


def test_a_hurry_hands_back_at_once() -> None:
    going = FakeRun("going")
    hurry = threading.Event()
    hurry.set()
    started = time.monotonic()

    handed = drain(lambda: True, lambda: [going], 120.0, hurry)

    assert handed == ["going"] and going.handed_back
    assert time.monotonic() - started < 5
