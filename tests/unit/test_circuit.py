"""runner.circuit: the breaker's states under an injected clock."""

from __future__ import annotations

from runner.circuit import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_closed_circuit_admits_everything_and_survives_fewer_failures_than_the_threshold():
    breaker = CircuitBreaker(threshold=3, reset_seconds=60, clock=Clock())
    breaker.record_failure("refused")
    breaker.record_failure("refused")

    assert breaker.state == CLOSED
    assert breaker.allowance() is None
    assert breaker.admit()


def test_a_success_resets_the_count_of_consecutive_failures():
    breaker = CircuitBreaker(threshold=2, reset_seconds=60, clock=Clock())
    breaker.record_failure("refused")
    breaker.record_success()
    breaker.record_failure("refused")

    assert breaker.state == CLOSED


def test_n_consecutive_failures_open_it_and_it_then_admits_nothing():
    clock = Clock()
    breaker = CircuitBreaker(threshold=2, reset_seconds=60, clock=clock)
    breaker.record_failure("first")
    breaker.record_failure("Docker Engine unreachable")

    assert breaker.state == OPEN
    assert breaker.opened_at == clock.now
    assert breaker.last_error == "Docker Engine unreachable"
    assert breaker.allowance() == 0
    assert not breaker.admit()


def test_after_the_reset_time_it_is_half_open_and_lets_exactly_one_probe_through():
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, reset_seconds=60, clock=clock)
    breaker.record_failure("down")
    clock.now += 59.9
    assert breaker.state == OPEN
    clock.now += 0.2

    assert breaker.state == HALF_OPEN
    assert breaker.allowance() == 1
    assert breaker.admit()
    assert breaker.allowance() == 0
    assert not breaker.admit()


def test_a_successful_probe_closes_it():
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, reset_seconds=5, clock=clock)
    breaker.record_failure("down")
    clock.now += 5
    assert breaker.admit()
    breaker.record_success()

    assert breaker.state == CLOSED
    assert breaker.opened_at is None
    assert breaker.last_error is None


def test_a_failed_probe_opens_it_again_for_a_whole_reset_time():
    clock = Clock()
    breaker = CircuitBreaker(threshold=5, reset_seconds=5, clock=clock)
    for _ in range(5):
        breaker.record_failure("down")
    clock.now += 6
    assert breaker.admit()
    breaker.record_failure("still down")

    assert breaker.state == OPEN
    assert breaker.opened_at == clock.now
    clock.now += 5
    assert breaker.state == HALF_OPEN


def test_an_abandoned_probe_lets_another_one_through():
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, reset_seconds=1, clock=clock)
    breaker.record_failure("down")
    clock.now += 1
    assert breaker.admit()
    breaker.probe_abandoned()

    assert breaker.admit()
