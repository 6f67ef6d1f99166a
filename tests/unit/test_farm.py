"""runner.farm: admission of executions (blacklist, circuit, pool and task slots), with the
slot leases replaced by an in-memory fake and an injected clock."""

from __future__ import annotations

import pytest

from chalicelib.adapters.job_queue import ExecutionMessage
from chalicelib.settings import Settings
from runner import farm as farm_module
from runner.circuit import HALF_OPEN, OPEN
from runner.farm import FarmMember

POOLS = '[{"name": "a", "match": "", "maxRunning": 2, "maxRunningPerTask": 1}]'


class FakeSlots:
    """chalicelib.adapters.slots in memory: {key: execution id}."""

    def __init__(self) -> None:
        self.held: dict[str, str] = {}
        self.pool_slots = farm_module.slots.pool_slots
        self.task_slots = farm_module.slots.task_slots

    def acquire(self, prefix: str, limit: int, execution_id: str, host_id: str, now: float, lease: float) -> str | None:
        for index in range(limit):
            key = f"{prefix}#{index}"
            if self.held.get(key, execution_id) == execution_id:
                self.held[key] = execution_id
                return key
        return None

    def release(self, key: str, execution_id: str) -> None:
        if self.held.get(key) == execution_id:
            del self.held[key]

    def renew(self, key: str, execution_id: str, until: float) -> bool:
        return self.held.get(key) == execution_id


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake_slots(monkeypatch: pytest.MonkeyPatch) -> FakeSlots:
    fake = FakeSlots()
    monkeypatch.setattr(farm_module, "slots", fake)
    return fake


def _member(clock: Clock, **settings: object) -> FarmMember:
    values = {"pools": POOLS, "runner_pool": "a", "runner_host": "h", "circuit_failures": 2, **settings}
    return FarmMember(Settings(**values), engine_port=None, clock=clock)  # type: ignore[arg-type]


def _message(n: int, task: str = "t") -> ExecutionMessage:
    return ExecutionMessage(task, "job", f"e{n}")


def test_the_host_id_is_name_and_docker_port(fake_slots: FakeSlots) -> None:
    assert _member(Clock()).host_id == "h:2375"
    assert FarmMember(Settings(runner_host="h"), engine_port=12345).host_id == "h:12345"
    assert FarmMember(Settings(runner_host="h", runner_port=9), engine_port=12345).host_id == "h:9"


def test_pool_and_task_slots_bound_admission_and_come_back_on_release(fake_slots: FakeSlots) -> None:
    member = _member(Clock())
    first = member.admit(_message(1, "t1"))
    same_task = member.admit(_message(2, "t1"))
    other_task = member.admit(_message(3, "t2"))
    pool_full = member.admit(_message(4, "t3"))

    assert first.admitted and other_task.admitted
    assert not same_task.admitted and "task runs its maximum of 1" in same_task.reason
    assert not pool_full.admitted and "pool runs its maximum of 2" in pool_full.reason
    assert same_task.retry_after == member.settings.slot_retry_seconds
    # The refused ones hold nothing: two pool slots and two task slots are held.
    assert sorted(fake_slots.held.values()) == ["e1", "e1", "e3", "e3"]

    member.release(_message(1, "t1"), first)
    assert member.admit(_message(4, "t3")).admitted


def test_a_blacklisted_host_admits_nothing_and_receives_nothing(fake_slots: FakeSlots) -> None:
    member = _member(Clock())
    member.blacklisted = True

    assert member.allowance() == 0
    assert not member.admit(_message(1)).admitted
    assert fake_slots.held == {}


def test_docker_failures_open_the_circuit_and_a_probe_closes_it(fake_slots: FakeSlots) -> None:
    clock = Clock()
    member = _member(clock, circuit_reset_seconds=10.0)
    for n in range(2):
        admission = member.admit(_message(n, f"t{n}"))
        member.engine_failed(admission, "refused")
        member.release(_message(n, f"t{n}"), admission)

    assert member.circuit.state == OPEN
    assert member.allowance() == 0
    assert not member.admit(_message(5)).admitted
    clock.now += 10
    assert member.circuit.state == HALF_OPEN
    assert member.allowance() == 1
    probe = member.admit(_message(6))
    assert probe.admitted and probe.probe
    assert not member.admit(_message(7, "other")).admitted
    member.engine_ok(probe)
    assert member.allowance() is None


def test_a_probe_that_never_reached_docker_lets_the_next_message_probe(fake_slots: FakeSlots) -> None:
    clock = Clock()
    member = _member(clock, circuit_failures=1, circuit_reset_seconds=1.0)
    admission = member.admit(_message(1))
    member.engine_failed(admission, "refused")
    member.release(_message(1), admission)
    clock.now += 1

    probe = member.admit(_message(2))
    member.release(_message(2), probe)  # e.g. its claim was lost: Docker was not tried

    assert member.admit(_message(3, "t3")).admitted


def test_only_a_failure_or_a_change_of_circuit_asks_for_a_heartbeat_at_once(fake_slots: FakeSlots) -> None:
    member = _member(Clock())
    admission = member.admit(_message(1))

    member.engine_ok(admission)
    assert not member._wake.is_set()  # every successful create: no extra write

    member.engine_failed(admission, "refused")
    assert member._wake.is_set()  # its error shows in /status/ at once
    member._wake.clear()
    member.engine_failed(admission, "refused")  # the second failure opens the circuit
    assert member.circuit.state == OPEN
    assert member._wake.is_set()


def test_a_reattached_run_holds_the_slots_it_can_and_is_never_refused(fake_slots: FakeSlots) -> None:
    member = _member(Clock())
    member.blacklisted = True  # admission would refuse; a running container is not stopped
    first = member.hold(_message(1, "t1"))
    assert len(first.slot_keys) == 2  # its pool slot and its task slot

    over = member.hold(_message(2, "t1"))  # the task's one slot is taken: runs over it, logged
    assert first.admitted and over.admitted
    assert len(over.slot_keys) == 1  # the pool's second slot only

    member.release(_message(1, "t1"), first)
    member.release(_message(2, "t1"), over)
    assert fake_slots.held == {}
