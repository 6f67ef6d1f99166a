"""Where one execution's run on this runner is: an explicit state, its transitions declared once.

::

    received ─► claimed ─► created ─► started ─► settled
    received ─► started                              a re-attached run (its container runs already)
    claimed, created ─► settled                      ended before its start (job gone, expired, failed)
    any step ─► stopping | handing_back | abandoned ─► settled
    abandoned ─► handing_back ─► stopping            a stronger interruption replaces a weaker one

The run's own thread moves it along its steps (``claimed``, ``created``, ``started``) and
``settled``; the control channel (``stopping``), the drain (``handing_back``) and the execution
heartbeats (``abandoned``) interrupt it from their own threads, at any step. Every change goes
through one lock, so a step and an interruption never overwrite each other.
"""

from __future__ import annotations

import logging
import threading
from enum import Enum

logger = logging.getLogger(__name__)


class RunState(Enum):
    """The states of an ``ExecutionRun``.

    ``RECEIVED``
        The run exists and holds nothing of the execution yet: a message in hand, not claimed
        (or, for a run re-attached after a restart, the table's word that the container is ours;
        such a run goes from here straight to ``STARTED``: its container runs already). A run
        that ends here (malformed, early, not admitted, not claimed) never held the execution.
    ``CLAIMED``
        The execution is this runner's (``pulling``): the job is read, the overlap policy
        decided. A run skipped by the policy ends here (its tick is stored as skipped, not ended).
    ``CREATED``
        Its container exists but has not started: it waits for its instant and a start slot.
    ``STARTED``
        Its container was started (the execution is ``running``); the run follows it to its end.
    ``STOPPING``
        A stop was requested (the control channel, or the table for a re-attached run): the run
        ends ``stopped``, whatever step it had reached.
    ``HANDING_BACK``
        Given up without an outcome (a drain past its deadline, or the runner stopping while the
        run waited for a start slot): its container goes, the execution back to the queue.
    ``ABANDONED``
        No longer this runner's (the reconciler ended it while this runner was silent): its
        container is killed; its own ending would be refused.
    ``SETTLED``
        Its outcome is stored (or the write was refused: someone else ended it), or it was handed
        back or given up: the runner's heartbeats and the drain leave it alone. Final.

    Merged: the four booleans this replaces could hold two interruptions at once; one state
    holds the strongest, ``STOPPING`` > ``HANDING_BACK`` > ``ABANDONED``. A stop wins (the run
    ends ``stopped`` rather than going back to the queue to run again); a hand-back wins over
    an abandon (the run never starts, and its hand-back write is refused like the abandoned
    run's own ending would be). A weaker interruption arriving later changes nothing.

    The steps of an interrupted run go on (a stop that came with the claim still lets the run
    create its container before it ends ``stopped before it started``): in an interruption the
    steps are absorbed, the state stays.
    """

    RECEIVED = "received"
    CLAIMED = "claimed"
    CREATED = "created"
    STARTED = "started"
    STOPPING = "stopping"
    HANDING_BACK = "handing_back"
    ABANDONED = "abandoned"
    SETTLED = "settled"

    @property
    def leaves_without_outcome(self) -> bool:
        """The run gives the execution up without storing an outcome of its own (unless a stop
        comes too): handed back or abandoned."""
        return self in (RunState.HANDING_BACK, RunState.ABANDONED)


_INTERRUPTIONS = frozenset({RunState.STOPPING, RunState.HANDING_BACK, RunState.ABANDONED})
_HELD = frozenset({RunState.CLAIMED, RunState.CREATED, RunState.STARTED})

# Where each state may go. Anything else is refused (IllegalTransition) unless ABSORBED says
# the request leaves the state as it is.
TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.RECEIVED: frozenset({RunState.CLAIMED, RunState.STARTED}) | _INTERRUPTIONS,
    RunState.CLAIMED: frozenset({RunState.CREATED, RunState.SETTLED}) | _INTERRUPTIONS,
    RunState.CREATED: frozenset({RunState.STARTED, RunState.SETTLED}) | _INTERRUPTIONS,
    RunState.STARTED: frozenset({RunState.SETTLED}) | _INTERRUPTIONS,
    RunState.STOPPING: frozenset({RunState.SETTLED}),
    RunState.HANDING_BACK: frozenset({RunState.STOPPING, RunState.SETTLED}),
    RunState.ABANDONED: frozenset({RunState.STOPPING, RunState.HANDING_BACK, RunState.SETTLED}),
    RunState.SETTLED: frozenset(),
}

# Requests that are legal but change nothing: the steps of an interrupted run, an interruption
# no stronger than the one in place, any interruption of a settled run (a late stop request).
ABSORBED: dict[RunState, frozenset[RunState]] = {
    RunState.RECEIVED: frozenset(),
    RunState.CLAIMED: frozenset(),
    RunState.CREATED: frozenset(),
    RunState.STARTED: frozenset(),
    RunState.STOPPING: _HELD | _INTERRUPTIONS,
    RunState.HANDING_BACK: _HELD | {RunState.HANDING_BACK, RunState.ABANDONED},
    RunState.ABANDONED: _HELD | {RunState.ABANDONED},
    RunState.SETTLED: _INTERRUPTIONS,
}


class IllegalTransition(RuntimeError):
    """A move the run's state may not make: a programming error of the run's code."""

    def __init__(self, current: RunState, wanted: RunState) -> None:
        super().__init__(f"a run in state {current.value} cannot become {wanted.value}")
        self.current = current
        self.wanted = wanted


class RunStateMachine:
    """The state of one run, changed only by ``move``, from any thread.

    An illegal move raises ``IllegalTransition`` (and logs it): only the run's own thread makes
    moves that can be illegal (its steps and ``settled``), and those are decided by its code, not
    by timing, so a wrong one is a bug the tests must see, not something to carry on from. The
    other threads only interrupt, which is legal in every state, so a race never raises there.
    """

    def __init__(self, state: RunState = RunState.RECEIVED) -> None:
        self._state = state
        self._lock = threading.Lock()

    @property
    def state(self) -> RunState:
        with self._lock:
            return self._state

    # -- questions on the state (each one read under the lock) ------------------------------

    @property
    def stopping(self) -> bool:
        """A stop was requested: the run ends ``stopped``."""
        return self.state is RunState.STOPPING

    @property
    def handing_back(self) -> bool:
        """The run goes back to the queue without an outcome (and no stop came)."""
        return self.state is RunState.HANDING_BACK

    @property
    def abandoned(self) -> bool:
        """The execution is no longer this runner's (and no stop or hand-back came)."""
        return self.state is RunState.ABANDONED

    @property
    def leaves_without_outcome(self) -> bool:
        """Handed back or abandoned: the run stores no outcome of its own."""
        return self.state.leaves_without_outcome

    @property
    def settled(self) -> bool:
        return self.state is RunState.SETTLED

    def move(self, to: RunState, *, only_from: RunState | None = None) -> bool:
        """Go to ``to``; True if the state changed, False if the move was absorbed (or, with
        ``only_from``, the state was another one: then nothing is checked or changed)."""
        with self._lock:
            current = self._state
            if only_from is not None and current is not only_from:
                return False
            if to in TRANSITIONS[current]:
                self._state = to
                return True
            if to in ABSORBED[current]:
                return False
        logger.error("illegal run state transition %s -> %s", current.value, to.value)
        raise IllegalTransition(current, to)

    def __repr__(self) -> str:
        return f"RunStateMachine({self.state.value})"
