"""runner.run_state: the states of an execution's run, their transitions, and moves from two threads."""

from __future__ import annotations

import threading

import pytest

from runner.run_state import ABSORBED, TRANSITIONS, IllegalTransition, RunState, RunStateMachine

S = RunState
ALL = list(RunState)
INTERRUPTIONS = [S.STOPPING, S.HANDING_BACK, S.ABANDONED]

ALLOWED = [(src, dst) for src in ALL for dst in sorted(TRANSITIONS[src], key=ALL.index)]
ABSORBED_MOVES = [(src, dst) for src in ALL for dst in sorted(ABSORBED[src], key=ALL.index)]
REFUSED = [(src, dst) for src in ALL for dst in ALL if dst not in TRANSITIONS[src] | ABSORBED[src]]


def _ids(pairs: list[tuple[RunState, RunState]]) -> list[str]:
    return [f"{src.value}->{dst.value}" for src, dst in pairs]


def test_the_declared_transitions_are_the_issue_s_graph() -> None:
    graph = {
        S.RECEIVED: {S.CLAIMED, S.STARTED, *INTERRUPTIONS},
        S.CLAIMED: {S.CREATED, S.SETTLED, *INTERRUPTIONS},
        S.CREATED: {S.STARTED, S.SETTLED, *INTERRUPTIONS},
        S.STARTED: {S.SETTLED, *INTERRUPTIONS},
        S.STOPPING: {S.SETTLED},
        S.HANDING_BACK: {S.STOPPING, S.SETTLED},
        S.ABANDONED: {S.STOPPING, S.HANDING_BACK, S.SETTLED},
        S.SETTLED: set(),
    }
    assert graph == TRANSITIONS
    # A move is either a transition, absorbed, or refused: never two of them.
    for state in ALL:
        assert not TRANSITIONS[state] & ABSORBED[state]


@pytest.mark.parametrize(("src", "dst"), ALLOWED, ids=_ids(ALLOWED))
def test_every_allowed_transition_is_made(src: RunState, dst: RunState) -> None:
    machine = RunStateMachine(src)
    assert machine.move(dst) is True
    assert machine.state is dst


@pytest.mark.parametrize(("src", "dst"), ABSORBED_MOVES, ids=_ids(ABSORBED_MOVES))
def test_absorbed_moves_change_nothing(src: RunState, dst: RunState) -> None:
    machine = RunStateMachine(src)
    assert machine.move(dst) is False
    assert machine.state is src


@pytest.mark.parametrize(("src", "dst"), REFUSED, ids=_ids(REFUSED))
def test_every_other_move_is_refused_and_changes_nothing(src: RunState, dst: RunState) -> None:
    machine = RunStateMachine(src)
    with pytest.raises(IllegalTransition) as refused:
        machine.move(dst)
    assert (refused.value.current, refused.value.wanted) == (src, dst)
    assert machine.state is src


def test_some_refusals_by_name() -> None:
    """Spelled out, so a change of the tables that allows these fails here."""
    for src, dst in [
        (S.SETTLED, S.SETTLED),  # settled twice
        (S.SETTLED, S.CLAIMED),
        (S.RECEIVED, S.CREATED),  # a container before the claim
        (S.RECEIVED, S.SETTLED),  # an outcome without the execution
        (S.STARTED, S.CLAIMED),  # backwards
        (S.CREATED, S.RECEIVED),
    ]:
        with pytest.raises(IllegalTransition):
            RunStateMachine(src).move(dst)


@pytest.mark.parametrize("state", ALL, ids=[s.value for s in ALL])
@pytest.mark.parametrize("interruption", INTERRUPTIONS, ids=[s.value for s in INTERRUPTIONS])
def test_an_interruption_is_never_refused(state: RunState, interruption: RunState) -> None:
    """Stops, hand-backs and abandons come from other threads at any moment: never an error."""
    RunStateMachine(state).move(interruption)


def test_the_steps_of_a_run_from_receipt_to_settled() -> None:
    machine = RunStateMachine()
    assert machine.state is S.RECEIVED
    for step in (S.CLAIMED, S.CREATED, S.STARTED, S.SETTLED):
        assert machine.move(step)
    assert machine.settled


def test_a_re_attached_run_is_started_from_the_first() -> None:
    machine = RunStateMachine()
    assert machine.move(S.STARTED) and machine.move(S.SETTLED)


def test_an_interrupted_run_keeps_its_interruption_through_its_steps() -> None:
    machine = RunStateMachine()
    machine.move(S.STOPPING)  # a stop that came with the claim
    for step in (S.CLAIMED, S.CREATED, S.STARTED):
        assert machine.move(step) is False
    assert machine.stopping
    assert machine.move(S.SETTLED)


@pytest.mark.parametrize(
    ("first", "second", "held"),
    [
        (S.STOPPING, S.HANDING_BACK, S.STOPPING),
        (S.HANDING_BACK, S.STOPPING, S.STOPPING),
        (S.STOPPING, S.ABANDONED, S.STOPPING),
        (S.ABANDONED, S.STOPPING, S.STOPPING),
        (S.HANDING_BACK, S.ABANDONED, S.HANDING_BACK),
        (S.ABANDONED, S.HANDING_BACK, S.HANDING_BACK),
    ],
)
def test_two_interruptions_hold_the_stronger_whatever_their_order(
    first: RunState, second: RunState, held: RunState
) -> None:
    machine = RunStateMachine(S.STARTED)
    machine.move(first)
    machine.move(second)
    assert machine.state is held


def test_questions_on_the_state() -> None:
    assert RunStateMachine(S.STOPPING).stopping
    assert RunStateMachine(S.HANDING_BACK).handing_back
    assert RunStateMachine(S.ABANDONED).abandoned
    assert RunStateMachine(S.SETTLED).settled
    assert {state for state in ALL if RunStateMachine(state).leaves_without_outcome} == {
        S.HANDING_BACK,
        S.ABANDONED,
    }
    quiet = RunStateMachine(S.STARTED)
    assert not (quiet.stopping or quiet.handing_back or quiet.abandoned or quiet.settled)


def test_only_from_moves_only_from_that_state() -> None:
    """The runner stopping while a run waits for its start slot hands it back, unless it was
    interrupted already."""
    waiting = RunStateMachine(S.CREATED)
    assert waiting.move(S.HANDING_BACK, only_from=S.CREATED)
    assert waiting.handing_back
    abandoned = RunStateMachine(S.ABANDONED)
    assert abandoned.move(S.HANDING_BACK, only_from=S.CREATED) is False
    assert abandoned.abandoned
    # Not from the state named: nothing is checked either (no IllegalTransition).
    assert RunStateMachine(S.SETTLED).move(S.CLAIMED, only_from=S.RECEIVED) is False


def _race(*moves: RunState, machine: RunStateMachine) -> list[BaseException | None]:
    """Make ``moves`` at once from one thread each; what each one raised (None: nothing)."""
    barrier = threading.Barrier(len(moves))
    outcomes: list[BaseException | None] = [None] * len(moves)

    def make(index: int, move: RunState) -> None:
        barrier.wait()
        try:
            machine.move(move)
        except IllegalTransition as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=make, args=(i, move)) for i, move in enumerate(moves)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    return outcomes


def test_a_stop_and_a_hand_back_from_two_threads_end_stopping_every_time() -> None:
    for _ in range(300):
        machine = RunStateMachine(S.STARTED)
        assert _race(S.STOPPING, S.HANDING_BACK, machine=machine) == [None, None]
        assert machine.state is S.STOPPING


def test_of_two_threads_settling_one_run_exactly_one_does() -> None:
    """The check and the change are one step under the lock: a second settle always sees the first."""
    for _ in range(300):
        machine = RunStateMachine(S.STARTED)
        outcomes = _race(S.SETTLED, S.SETTLED, machine=machine)
        assert sum(outcome is None for outcome in outcomes) == 1
        assert machine.settled


def _steps_while_interrupted(interruption: RunState) -> tuple[RunStateMachine, list[BaseException]]:
    machine = RunStateMachine()
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def steps() -> None:
        barrier.wait()
        try:
            for step in (S.CLAIMED, S.CREATED, S.STARTED):
                machine.move(step)
        except IllegalTransition as exc:
            errors.append(exc)

    def interrupt() -> None:
        barrier.wait()
        machine.move(interruption)

    threads = [threading.Thread(target=steps), threading.Thread(target=interrupt)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    return machine, errors


@pytest.mark.parametrize("interruption", INTERRUPTIONS, ids=[s.value for s in INTERRUPTIONS])
def test_the_run_s_steps_and_an_interruption_from_two_threads_never_clash(interruption: RunState) -> None:
    """The run thread takes its steps while another thread interrupts it: every step is either
    made or absorbed, and the interruption holds whenever it came."""
    for _ in range(200):
        machine, errors = _steps_while_interrupted(interruption)
        assert errors == []
        assert machine.state is interruption
        assert machine.move(S.SETTLED)
