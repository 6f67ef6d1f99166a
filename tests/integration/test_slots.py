"""chalicelib.adapters.slots on the local emulator: leases that bound a pool's running containers."""

from __future__ import annotations

import threading
import uuid

from chalicelib.adapters import slots
from infra.local.harness import StackProcess

NOW = 1_800_000_000.0


def _prefix() -> str:
    return slots.pool_slots(f"pool-{uuid.uuid4().hex[:8]}")


def test_a_limit_of_two_gives_two_slots_and_refuses_the_third(stack: StackProcess) -> None:
    prefix = _prefix()

    first = slots.acquire(prefix, 2, "e1", "h:1", NOW, 60)
    second = slots.acquire(prefix, 2, "e2", "h:2", NOW, 60)
    third = slots.acquire(prefix, 2, "e3", "h:1", NOW, 60)

    assert first and second and first != second
    assert third is None


def test_a_released_slot_is_taken_by_the_next_execution(stack: StackProcess) -> None:
    prefix = _prefix()
    held = slots.acquire(prefix, 1, "e1", "h:1", NOW, 60)
    assert held is not None
    slots.release(held, "e1")

    assert slots.acquire(prefix, 1, "e2", "h:1", NOW, 60) == held


def test_an_expired_lease_frees_the_slot_of_a_dead_runner(stack: StackProcess) -> None:
    prefix = _prefix()
    held = slots.acquire(prefix, 1, "dead", "gone:1", NOW, 60)

    # The taker frees it once it saw the lease stand still for a whole lease by its own clock.
    assert slots.acquire(prefix, 1, "e2", "h:1", NOW + 1, 60) is None
    assert slots.acquire(prefix, 1, "e2", "h:1", NOW + 60, 60) is None
    assert slots.acquire(prefix, 1, "e2", "h:1", NOW + 61, 60) == held
    # The dead runner, back, can neither renew nor release what it lost.
    assert slots.renew(held, "dead", NOW + 200) is False
    slots.release(held, "dead")
    assert slots.acquire(prefix, 1, "e3", "h:1", NOW + 62, 60) is None


def test_a_dead_holder_whose_clock_ran_ahead_still_frees_its_slot(stack: StackProcess) -> None:
    prefix = _prefix()
    # Its lease_until is ten minutes past the taker's clock: compared with it, never expired.
    held = slots.acquire(prefix, 1, "dead", "fast:1", NOW + 600, 60)

    assert slots.acquire(prefix, 1, "e2", "h:1", NOW, 60) is None
    assert slots.acquire(prefix, 1, "e2", "h:1", NOW + 61, 60) == held


def test_a_taker_whose_clock_runs_ahead_steals_no_renewed_slot(stack: StackProcess) -> None:
    prefix = _prefix()
    held = slots.acquire(prefix, 1, "e1", "h:1", NOW, 60)
    assert held is not None
    fast = NOW + 600  # the taker's clock, ten minutes ahead of the holder's

    for step in range(4):
        assert slots.acquire(prefix, 1, "e2", "other:1", fast + 61 * step, 60) is None
        assert slots.renew(held, "e1", NOW + 60 + 30 * step)


def test_renewing_keeps_the_slot_past_its_first_lease(stack: StackProcess) -> None:
    prefix = _prefix()
    held = slots.acquire(prefix, 1, "e1", "h:1", NOW, 60)
    assert held is not None

    assert slots.renew(held, "e1", NOW + 120)
    assert slots.acquire(prefix, 1, "e2", "h:1", NOW + 90, 60) is None


def test_racing_acquirers_never_exceed_the_limit(stack: StackProcess) -> None:
    prefix = _prefix()
    barrier = threading.Barrier(6)
    won: list[str] = []

    def take(n: int) -> None:
        barrier.wait()
        if slots.acquire(prefix, 2, f"e{n}", "h:1", NOW, 60) is not None:
            won.append(f"e{n}")

    threads = [threading.Thread(target=take, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(won) == 2
