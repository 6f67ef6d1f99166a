"""runner.start_gate: container slots of one runner, with runs prepared ahead waiting for them."""

from __future__ import annotations

import threading
import time

from runner.start_gate import StartGate


def _enter_in_thread(gate: StartGate, interrupted: threading.Event) -> tuple[threading.Thread, list[bool]]:
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(gate.enter(interrupted)))
    thread.start()
    return thread, result


def test_a_waiting_run_enters_the_moment_a_slot_is_left() -> None:
    gate = StartGate(1)
    assert gate.enter(threading.Event())
    thread, result = _enter_in_thread(gate, threading.Event())
    time.sleep(0.3)
    assert result == []  # the one slot is held

    left = time.monotonic()
    gate.leave()
    thread.join(2)
    assert result == [True]
    assert time.monotonic() - left < 0.05  # woken by the release, not by its periodic check


def test_an_interrupted_or_closed_gate_lets_the_waiting_run_go_without_a_slot() -> None:
    gate = StartGate(1)
    assert gate.enter(threading.Event())
    stop = threading.Event()
    thread, result = _enter_in_thread(gate, stop)
    stop.set()
    thread.join(2)
    assert result == [False]

    thread, result = _enter_in_thread(gate, threading.Event())
    gate.closed.set()
    thread.join(2)
    assert result == [False]
    gate.leave()
    assert gate.enter(threading.Event()) is False  # closed: nothing enters, even with a slot free
    assert gate.take()  # the slot was given back, not kept by the refused entries


def test_take_holds_a_free_slot_without_waiting() -> None:
    gate = StartGate(2)
    assert gate.take() and gate.take()
    assert gate.take() is False
