"""runner/metrics_flush.py: the runner writes its slots in use and what its runs recorded, every
interval and once more when it stops."""

from __future__ import annotations

import time

from runner.metrics_flush import MetricsFlusher
from tests.fakes.installed import Fakes


def test_each_round_records_the_slots_in_use_by_host_and_flushes(fakes: Fakes) -> None:
    in_use = [2]
    flusher = MetricsFlusher("runner-1:2375", 0.1, lambda: in_use[0])
    flusher.start()
    deadline = time.monotonic() + 5
    while fakes.metrics.flushes < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    in_use[0] = 0
    flusher.stop()

    assert fakes.metrics.flushes >= 3, "two rounds, then one at the stop"
    values = fakes.metrics.named("RunnerSlotsInUse")
    assert values[0] == (2.0, "runner-1:2375") and values[-1] == (0.0, "runner-1:2375")


def test_a_runner_that_never_started_its_flusher_still_flushes_at_the_stop(fakes: Fakes) -> None:
    MetricsFlusher("runner-1:2375", 60, lambda: 0).stop()

    assert fakes.metrics.flushes == 1 and fakes.metrics.named("RunnerSlotsInUse") == [(0.0, "runner-1:2375")]
