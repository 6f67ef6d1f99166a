"""Executions in DynamoDB: reading them, and every change of their state.

State changes are conditional updates, so two runners holding the same SQS message can never
both start a container, and a late writer (a runner finishing after a stop, a stop after the
end, a reaper after a fresh heartbeat) never overwrites a final state. Executions a runner holds
sit in the sparse by-heartbeat index; unclaimed ones in the awaiting-dispatch index; those
owing a ``started``/``finished`` event in the owed-events index (the outbox). Each of the three
spreads its items over ``index_shards`` partition values and is read by one Query per value.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import size
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.aws import connection
from chalicelib.adapters.conditional_writes import conditional_write
from chalicelib.adapters.models import (
    ACTIVE_SHARD,
    AWAITING_SHARD,
    OWED_SHARD,
    SCHEDULED_SHARD,
    ExecutionModel,
    JobModel,
    active_shard,
    awaiting_shard,
    partitions,
)
from chalicelib.domain.clock import utcnow
from chalicelib.domain.statuses import ExecutionStatus

_ACTIVE = (ExecutionStatus.PULLING, ExecutionStatus.RUNNING)


@dataclass
class Claim:
    """What claiming an execution found: it is ours (``claimed``), or why not."""

    execution: ExecutionModel | None
    claimed: bool


@dataclass(frozen=True)
class OwedEvent:
    """An execution whose ``started`` and/or ``finished`` event is still owed (the outbox)."""

    task_id: str
    job_id: str
    execution_id: str
    # The owed event's status ("running" for a start, the final status for an end), or None.
    start: str | None
    end: str | None
    owed_at: float


# -- reading ------------------------------------------------------------------------------------


def get_execution(job_id: str, execution_id: str, consistent: bool = False) -> ExecutionModel | None:
    try:
        return ExecutionModel.get(job_id, execution_id, consistent_read=consistent)
    except DoesNotExist:
        return None


def list_executions(task_id: str, job_id: str, page: int, per_page: int) -> list[ExecutionModel]:
    """Page ``page`` of a job's executions, newest first. The partition is the job id's; the
    task's filter keeps out the runs of a job of the same id in another task. ``scheduled`` ones
    are not runs yet and are left out (a job holds a few at most: the look-ahead's next instants)."""
    start_key: dict[str, Any] | None = None
    listed = ExecutionModel.status != ExecutionStatus.SCHEDULED.value
    skip = (page - 1) * per_page
    of_task = ExecutionModel.task_id == task_id
    if skip:
        results = ExecutionModel.query(
            job_id,
            scan_index_forward=False,
            limit=skip,
            attributes_to_get=["job_id", "execution_id", "task_id"],
            filter_condition=listed & of_task,
        )
        if sum(1 for _ in results) < skip:
            return []
        start_key = results.last_evaluated_key
    return list(
        ExecutionModel.query(
            job_id,
            scan_index_forward=False,
            limit=per_page,
            last_evaluated_key=start_key,
            filter_condition=listed & of_task,
        )
    )


# What a job's history answers of each execution (and the task id its filter reads).
HISTORY_ATTRIBUTES = (
    "job_id",
    "execution_id",
    "task_id",
    "status",
    "created_at",
    "started_at",
    "finished_at",
    "exit_code",
)


def execution_history(task_id: str, job_id: str, limit: int) -> list[ExecutionModel]:
    """The job's newest ``limit`` executions, newest first, each with ``HISTORY_ATTRIBUTES`` only.

    One Query of the job's partition in reverse key order (the ids are UUIDv7s: newest first),
    with a projection, so however long the history, ``limit`` items are read, plus the few left
    out here: ``scheduled`` runs (not runs yet; they carry the newest ids) and runs of a job of
    the same id in another task. It is paged only when DynamoDB's 1 MB per page cuts it short or
    items were left out, each further page asking only for the runs still missing.

    The items are left out here rather than by a FilterExpression: DynamoDB reads and bills the
    items a filter drops all the same, and the local emulator parses a filter once per item
    (some 70 ms of a 200-run answer). DynamoDB bills the items read whole; the projection saves
    the transfer, not the read.
    """
    results = ExecutionModel.query(
        job_id, scan_index_forward=False, page_size=limit, attributes_to_get=list(HISTORY_ATTRIBUTES)
    )
    found: list[ExecutionModel] = []
    for item in results:
        if item.status != ExecutionStatus.SCHEDULED.value and item.task_id == task_id:
            found.append(item)
            if len(found) == limit:
                break
        # PynamoDB asks each page for ``page_size`` items; a next page needs only what is missing.
        results.page_iter.page_size = limit - len(found)
    return found


def scheduled_executions(task_id: str, job_id: str, newest: int = 5) -> list[ExecutionModel]:
    """The job's ``scheduled`` executions among its ``newest`` (made ahead of their instants,
    they carry the newest ids: UUIDv7s of their due instants)."""
    return [
        item
        for item in ExecutionModel.query(job_id, scan_index_forward=False, limit=newest)
        if item.status == ExecutionStatus.SCHEDULED.value and item.task_id == task_id
    ]


def latest_execution(job: JobModel) -> ExecutionModel | None:
    if job.last_execution_id:
        return get_execution(job.job_id, job.last_execution_id)
    return None


def unfinished_executions(task_id: str, job_id: str, limit: int = 50) -> list[ExecutionModel]:
    """The job's recent executions that have not ended (a Query of one partition, newest first,
    of this task's runs only)."""
    query = ExecutionModel.query(
        job_id, scan_index_forward=False, limit=limit, filter_condition=ExecutionModel.task_id == task_id
    )
    return [item for item in query if not ExecutionStatus(item.status).is_finished]


# -- conditional updates ------------------------------------------------------------------------


def _status_in(statuses: tuple[ExecutionStatus, ...]) -> Any:
    return ExecutionModel.status.is_in(*(status.value for status in statuses))


def _set_actions(values: dict[str, Any]) -> list[Any]:
    return [
        getattr(ExecutionModel, name).set(value) if value is not None else getattr(ExecutionModel, name).remove()
        for name, value in values.items()
    ]


def _update_if(execution: ExecutionModel, values: dict[str, Any], condition: Any) -> bool:
    with conditional_write() as write:
        execution.update(actions=_set_actions(values), condition=condition)
    return write.applied


def update_execution(
    execution: ExecutionModel, only_if: tuple[ExecutionStatus, ...] | None = _ACTIVE, **values: Any
) -> bool:
    """Set attributes (None removes one), only while the status is one of ``only_if``.

    The condition is what keeps a late writer (a runner finishing after a stop, a stop after
    the end) from overwriting a final state.
    """
    return _update_if(execution, values, _status_in(only_if) if only_if else None)


# -- claiming and dispatching -------------------------------------------------------------------


def claim(
    job_id: str,
    execution_id: str,
    host: str,
    docker_port: int | None,
    message_id: str,
    now: float | None = None,
    task_id: str | None = None,
) -> Claim:
    """``enqueued`` (or ``scheduled``) → ``pulling`` on this host, atomically.

    The condition is what makes a duplicate SQS delivery harmless: of two runners holding the
    same message only one update succeeds; the other reads the execution to learn why. A
    ``scheduled`` execution is claimed in a transaction that also counts it on its job and makes
    it the job's last execution: it becomes a run only now. With ``task_id`` (a message that
    came ahead of its instant: most likely ``scheduled``) that transaction is tried first, so
    the claim of a scheduled run costs a transaction and a read, on the path to its start.
    """
    claimed = _claimed_values(execution_id, host, docker_port, message_id, now)
    if task_id is not None:
        ahead = ExecutionModel(job_id, execution_id, task_id=task_id)
        if _promote(ahead, claimed):
            return Claim(get_execution(job_id, execution_id, consistent=True), claimed=True)
    return _claim_waiting(job_id, execution_id, claimed)


def _claimed_values(
    execution_id: str, host: str, docker_port: int | None, message_id: str, now: float | None
) -> dict[str, Any]:
    return {
        "status": ExecutionStatus.PULLING.value,
        "host": host,
        "docker_port": docker_port or None,
        "queue_message_id": message_id,
        # Leaves the sparse awaiting-dispatch index: the reconciler need not look at it again.
        "awaiting_shard": None,
        "dispatch_at": None,
        # Enters the index of held executions, with a first heartbeat.
        "active_shard": active_shard(execution_id),
        "heartbeat_at": _epoch(now),
    }


def _claim_waiting(job_id: str, execution_id: str, claimed: dict[str, Any]) -> Claim:
    execution = ExecutionModel(job_id, execution_id)
    if _update_if(execution, claimed, ExecutionModel.status == ExecutionStatus.ENQUEUED.value):
        return Claim(execution, claimed=True)
    found = get_execution(job_id, execution_id, consistent=True)
    if found is None or found.status != ExecutionStatus.SCHEDULED.value:
        return Claim(found, claimed=False)
    if _promote(found, claimed):
        return Claim(found, claimed=True)
    # Changed between the read and the transaction (another runner's claim, a stop): as it is now.
    return Claim(get_execution(job_id, execution_id, consistent=True), claimed=False)


def promote_scheduled(execution: ExecutionModel) -> bool:
    """``scheduled`` → ``enqueued``: its instant is past and no runner took it (its message is
    late), so it is listed and counted as a run waiting for a runner."""
    waiting = {"status": ExecutionStatus.ENQUEUED.value, "awaiting_shard": awaiting_shard(execution.execution_id)}
    return _promote(execution, waiting)


def _promote(execution: ExecutionModel, values: dict[str, Any]) -> bool:
    """Change a ``scheduled`` execution and, in the same transaction, count it on its job."""
    with conditional_write() as write, TransactWrite(connection=connection()) as tx:
        tx.update(
            execution,
            actions=_set_actions(values),
            condition=ExecutionModel.status == ExecutionStatus.SCHEDULED.value,
        )
        tx.update(
            JobModel(execution.task_id, execution.job_id),
            actions=[JobModel.execution_count.add(1), JobModel.last_execution_id.set(execution.execution_id)],
        )
    if not write.applied:
        return False
    # A transaction does not refresh the item as a plain update does: mirror what was written.
    for name, value in values.items():
        setattr(execution, name, value)
    return True


def cancel_scheduled(execution: ExecutionModel) -> bool:
    """Delete a ``scheduled`` execution (a stop or a PUT cancels it before its instant); False
    when it is no longer ``scheduled`` (a runner claimed it, or the reconciler promoted it).

    Deleted rather than ended ``stopped``: it never was a run, no count or "last execution"
    included it, so none has to be corrected, and its late message finds nothing to run.
    """
    with conditional_write() as write:
        ExecutionModel(execution.job_id, execution.execution_id).delete(
            condition=ExecutionModel.status == ExecutionStatus.SCHEDULED.value
        )
    return write.applied


def unclaim(execution: ExecutionModel, now: datetime) -> bool:
    """``pulling`` → ``enqueued`` again, back in the awaiting-dispatch index: the host failed
    before the container existed, so another runner may claim the execution."""
    return update_execution(
        execution,
        only_if=(ExecutionStatus.PULLING,),
        status=ExecutionStatus.ENQUEUED.value,
        host=None,
        docker_port=None,
        active_shard=None,
        heartbeat_at=None,
        awaiting_shard=awaiting_shard(execution.execution_id),
        dispatch_at=now.timestamp(),
    )


def _merged(
    queries: Iterable[Iterator[ExecutionModel]], order: Callable[[ExecutionModel], float]
) -> list[ExecutionModel]:
    """The items of one Query per shard, merged in the index's order (each Query is sorted)."""
    return list(heapq.merge(*queries, key=order))


def awaiting_dispatch(before: float) -> list[tuple[str, str]]:
    """(job id, execution id) of unclaimed executions that were due before ``before``, oldest first."""
    queries = (
        ExecutionModel.awaiting_dispatch.query(shard, ExecutionModel.dispatch_at < before)
        for shard in partitions(AWAITING_SHARD)
    )
    return [(item.job_id, item.execution_id) for item in _merged(queries, lambda item: float(item.dispatch_at))]


def overdue_scheduled(before: float) -> list[tuple[str, str]]:
    """(job id, execution id) of ``scheduled`` executions whose message was due before ``before``."""
    return [
        (item.job_id, item.execution_id)
        for item in ExecutionModel.awaiting_dispatch.query(SCHEDULED_SHARD, ExecutionModel.dispatch_at < before)
    ]


def mark_redispatched(execution: ExecutionModel, at: float) -> bool:
    """Record a resend, only while the execution is ``enqueued``.

    A ``scheduled`` one keeps its dispatch instant (its due instant) when a runner hands its
    message back for lack of a slot: so the reconciler finds it past its instant and makes it
    ``enqueued``, a run shown as waiting.
    """
    return update_execution(execution, only_if=(ExecutionStatus.ENQUEUED,), dispatch_at=at)


# -- ending -------------------------------------------------------------------------------------


def finish_execution(
    execution: ExecutionModel,
    values: dict[str, Any],
    retry: ExecutionModel | None = None,
    heartbeat_at: float | None = None,
) -> bool:
    """End a run (only while it is pulling/running) and, in the same transaction, create its retry.

    With ``heartbeat_at``, only while the runner's last heartbeat is still that one: the
    reconciler's guard, so a runner that beat again in between keeps its run and only one of
    the two ever ends it.
    """
    values = {**values, "active_shard": None, "watches": None}
    condition = _status_in(_ACTIVE)
    if heartbeat_at is not None:
        condition &= ExecutionModel.heartbeat_at == heartbeat_at
    if retry is None:
        return _update_if(execution, values, condition)
    with conditional_write() as write, TransactWrite(connection=connection()) as tx:
        tx.update(execution, actions=_set_actions(values), condition=condition)
        tx.save(retry, condition=ExecutionModel.execution_id.does_not_exist())
        tx.update(
            JobModel(execution.task_id, execution.job_id),
            actions=[
                JobModel.retry_count.add(1),
                JobModel.execution_count.add(1),
                JobModel.last_execution_id.set(retry.execution_id),
            ],
        )
    if not write.applied:
        return False
    # A transaction does not refresh the item as a plain update does: mirror what was written.
    for name, value in values.items():
        setattr(execution, name, value)
    return True


def record_skipped_tick(
    execution: ExecutionModel, now: datetime, reason: str, extra: dict[str, Any] | None = None
) -> bool:
    """End a cron run that must not start (``forbid`` overlap) and count it on the job.

    ``extra``: more attributes stored by the same write (the outbox's mark of the owed end).
    """
    values = {
        "status": ExecutionStatus.STOPPED.value,
        "finished_at": now,
        "error": f"skipped: {reason}",
        "active_shard": None,
        **(extra or {}),
    }
    with conditional_write() as write, TransactWrite(connection=connection()) as tx:
        tx.update(execution, actions=_set_actions(values), condition=_status_in(_ACTIVE))
        tx.update(
            JobModel(execution.task_id, execution.job_id),
            actions=[JobModel.skipped_ticks.add(1), JobModel.last_skipped_at.set(now)],
        )
    return write.applied


# -- liveness of held executions ----------------------------------------------------------------


def _epoch(now: float | None) -> float:
    # Milliseconds: the value is compared for equality by the reconciler's guard.
    return round(utcnow().timestamp() if now is None else now, 3)


def beat(job_id: str, execution_id: str, host: str, now: float | None = None) -> bool:
    """Record that ``host`` still holds the execution; False when it no longer does (it ended,
    was handed back, or the reconciler gave it up).

    Written through a key-only item, so the runner's own copy of the execution, which its run
    thread is filling in, is not overwritten with what the table holds. Each beat also adds one
    to ``beats``: a reaper watches (heartbeat_at, beats) for change and compares no clock but
    its own.
    """
    with conditional_write() as write:
        ExecutionModel(job_id, execution_id).update(
            actions=[ExecutionModel.heartbeat_at.set(_epoch(now)), ExecutionModel.beats.add(1)],
            condition=_status_in(_ACTIVE) & (ExecutionModel.host == host),
        )
    return write.applied


def silent_executions(before: float | None) -> list[tuple[str, str]]:
    """(job id, execution id) of held executions whose last heartbeat is older than ``before``
    (by their runners' clocks), oldest first; ``before`` None: every held execution."""
    condition = None if before is None else ExecutionModel.heartbeat_at < before
    queries = (ExecutionModel.by_heartbeat.query(shard, condition) for shard in partitions(ACTIVE_SHARD))
    return [(item.job_id, item.execution_id) for item in _merged(queries, lambda item: float(item.heartbeat_at))]


def held_by(host: str) -> list[tuple[str, str]]:
    """(job id, execution id) of the executions ``host`` holds (one Query per shard of the sparse index)."""
    return [
        (item.job_id, item.execution_id)
        for shard in partitions(ACTIVE_SHARD)
        for item in ExecutionModel.by_heartbeat.query(shard, filter_condition=ExecutionModel.host == host)
    ]


def record_watch(execution: ExecutionModel, reaper: str, token: str, since: float) -> bool:
    """Record on the execution that ``reaper`` saw beat ``token`` at ``since`` (its own clock).

    Only while the run is still held and its heartbeat is still the one read: a watch always
    names the beat it was made on. The reaper's entry of the ``watches`` map is set alone, so
    reapers watching the same run never overwrite each other's.
    """
    entry = {"token": token, "since": since}
    held = _status_in(_ACTIVE) & (ExecutionModel.heartbeat_at == execution.heartbeat_at)
    key_only = ExecutionModel(execution.job_id, execution.execution_id)
    with conditional_write() as write:
        key_only.update(
            actions=[ExecutionModel.watches[reaper].set(entry)], condition=held & ExecutionModel.watches.exists()
        )
    if write.applied:
        return True
    with conditional_write() as write:
        key_only.update(
            actions=[ExecutionModel.watches.set({reaper: entry})],
            condition=held & ExecutionModel.watches.does_not_exist(),
        )
    if write.applied:
        return True
    # Another reaper made the map in between (or the run changed): one more try at the entry alone.
    with conditional_write() as write:
        key_only.update(
            actions=[ExecutionModel.watches[reaper].set(entry)], condition=held & ExecutionModel.watches.exists()
        )
    return write.applied


def hand_back(execution: ExecutionModel, host: str, now: datetime) -> bool:
    """``pulling``/``running`` on ``host`` → ``enqueued`` again, for another runner to run it afresh.

    Used when a runner gives up an execution without an outcome (a drain past its deadline, a
    restart that finds it was never started). It re-enters the awaiting-dispatch index, so it is
    sent again even if no message for it is left in the queue.
    """
    values: dict[str, Any] = {
        "status": ExecutionStatus.ENQUEUED.value,
        "host": None,
        "docker_port": None,
        "container_id": None,
        "started_at": None,
        "active_shard": None,
        "watches": None,
        "awaiting_shard": awaiting_shard(execution.execution_id),
        "dispatch_at": now.timestamp(),
    }
    return _update_if(execution, values, _status_in(_ACTIVE) & (ExecutionModel.host == host))


# -- notification attempts ----------------------------------------------------------------------


def append_dispatch(job_id: str, execution_id: str, record: dict[str, Any], kept: int) -> bool:
    """Append one notification attempt to the execution, while it holds fewer than ``kept``.

    One update expression (``list_append`` on ``if_not_exists``), so concurrent deliveries of
    one execution never overwrite each other's records. False when the list is full (the
    attempt happened; it is only not stored) or the execution is gone.
    """
    entry = {key: value for key, value in record.items() if value is not None}
    dispatches = ExecutionModel.dispatches
    with conditional_write() as write:
        ExecutionModel(job_id, execution_id).update(
            actions=[dispatches.set((dispatches | []).append([entry]))],
            condition=ExecutionModel.execution_id.exists() & (dispatches.does_not_exist() | (size(dispatches) < kept)),
        )
    return write.applied


# -- the outbox of start and end events ---------------------------------------------------------

_MARKS = {"start": ExecutionModel.start_event_pending, "end": ExecutionModel.end_event_pending}


def clear_owed_event(job_id: str, execution_id: str, kind: str, status: str) -> bool:
    """The ``kind`` ("start" or "end") event, owed with ``status``, was published: clear its
    mark, and leave the owed-events index when no other event is owed. False when the mark was
    not (or no longer) that one.
    """
    mark = _MARKS[kind]
    other = _MARKS["end" if kind == "start" else "start"]
    key_only = ExecutionModel(job_id, execution_id)
    with conditional_write() as write:
        key_only.update(
            actions=[mark.remove(), ExecutionModel.owed_shard.remove(), ExecutionModel.owed_at.remove()],
            condition=(mark == status) & other.does_not_exist(),
        )
    if write.applied:
        return True
    with conditional_write() as write:
        key_only.update(actions=[mark.remove()], condition=mark == status)
    return write.applied


def owed_events(before: float, per_shard: int) -> list[OwedEvent]:
    """Events owed since before ``before``: at most ``per_shard`` from each shard, one Query each."""
    found: list[OwedEvent] = []
    for shard in partitions(OWED_SHARD, legacy=False):
        for item in ExecutionModel.owing_events.query(shard, ExecutionModel.owed_at < before, limit=per_shard):
            found.append(
                OwedEvent(
                    item.task_id,
                    item.job_id,
                    item.execution_id,
                    item.start_event_pending,
                    item.end_event_pending,
                    float(item.owed_at),
                )
            )
    return sorted(found, key=lambda event: event.owed_at)
