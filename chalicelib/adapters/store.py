"""Loading and saving tasks, jobs and executions (the DynamoDB adapter).

Writes that must happen together (a task, its job and the job's first execution) go in one
transaction; state changes a runner makes are conditional updates, so two runners holding the
same SQS message can never both start a container.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.expressions.condition import size
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.aws import connection
from chalicelib.adapters.models import (
    ACTIVE_SHARD,
    AWAITING_SHARD,
    DUE_SHARD,
    TASK_LISTING,
    CounterModel,
    ExecutionModel,
    JobModel,
    TaskModel,
    TaskWordModel,
)
from chalicelib.domain.clock import ISO_FORMAT, utcnow
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.domain.task_words import task_words

TASKS_COUNTER = "tasks"
JOBS_COUNTER = "jobs"


class ConcurrentChange(Exception):
    """Another writer changed the item between our read and our conditional write."""


@dataclass
class SavedJob:
    job: JobModel
    execution: ExecutionModel | None
    created: bool


def get_task(task_id: str) -> TaskModel | None:
    try:
        return TaskModel.get(task_id)
    except DoesNotExist:
        return None


def get_job(task_id: str, job_id: str) -> JobModel | None:
    try:
        return JobModel.get(task_id, job_id)
    except DoesNotExist:
        return None


def get_execution(job_id: str, execution_id: str, consistent: bool = False) -> ExecutionModel | None:
    try:
        return ExecutionModel.get(job_id, execution_id, consistent_read=consistent)
    except DoesNotExist:
        return None


def counter(name: str) -> int:
    try:
        return int(CounterModel.get(name).value)
    except DoesNotExist:
        return 0


def save_job(
    task_id: str,
    job_id: str,
    spec: dict[str, Any],
    now: datetime,
    execution: ExecutionModel | None,
    next_run_at: float | None = None,
    new_job: bool = False,
    request_ip: str | None = None,
) -> SavedJob:
    """Create or replace a job (and its task on first use), with its first execution if given.

    One transaction: either the task, the job, the counters and the execution are all written, or
    none is. The existence checks are re-asserted as conditions, so a racing writer makes this
    attempt fail cleanly and it is retried with fresh reads.

    The first attempt reads nothing it can assume: the task is assumed to exist (true for all
    but a task's first job) and, with ``new_job`` (a server-made id), the job not to. A wrong
    guess only cancels the transaction, and the next attempt reads.
    """
    for attempt in range(5):
        guess = attempt == 0
        task = TaskModel(task_id) if guess else get_task(task_id)
        job = None if guess and new_job else get_job(task_id, job_id)
        try:
            return _save_job_once(task_id, job_id, spec, now, execution, next_run_at, task, job, request_ip)
        except TransactWriteError as exc:
            if exc.cause_response_code != "TransactionCanceledException":
                raise
    raise ConcurrentChange(f"job {task_id}/{job_id} kept changing while being saved")


def _save_job_once(
    task_id: str,
    job_id: str,
    spec: dict[str, Any],
    now: datetime,
    execution: ExecutionModel | None,
    next_run_at: float | None,
    task: TaskModel | None,
    job: JobModel | None,
    request_ip: str | None = None,
) -> SavedJob:
    with TransactWrite(connection=connection()) as tx:
        if task is None:
            task = TaskModel(
                task_id,
                listing=TASK_LISTING,
                created_key=f"{now.strftime(ISO_FORMAT)}#{task_id}",
                created_at=now,
                last_modified_at=now,
                jobs_count=1,
            )
            tx.save(task, condition=TaskModel.task_id.does_not_exist())
            tx.update(CounterModel(TASKS_COUNTER), actions=[CounterModel.value.add(1)])
            for word in task_words(task_id):
                tx.save(TaskWordModel(word, task_id))
        else:
            tx.update(
                task,
                actions=[
                    TaskModel.last_modified_at.set(now),
                    TaskModel.jobs_count.add(0 if job else 1),
                ],
                condition=TaskModel.task_id.exists(),
            )
        created = job is None
        previous_modified = None if job is None else job.last_modified_at
        if job is None:
            job = JobModel(task_id, job_id, spec=spec, created_at=now, last_modified_at=now, execution_count=0)
            tx.update(CounterModel(JOBS_COUNTER), actions=[CounterModel.value.add(1)])
        else:
            job.spec = spec
            job.last_modified_at = now
        job.request_ip = request_ip
        # A pending schedule is replaced by the new one (or cleared for an immediate run).
        job.scheduled = next_run_at is not None
        job.next_run_at = next_run_at
        job.due_shard = DUE_SHARD if next_run_at is not None else None
        if execution is not None:
            job.execution_count = (job.execution_count or 0) + 1
            job.last_execution_id = execution.execution_id
            tx.save(execution, condition=ExecutionModel.execution_id.does_not_exist())
        # Optimistic lock: the job must be as we read it (absent, or unchanged since).
        version_check = JobModel.job_id.does_not_exist() if created else JobModel.last_modified_at == previous_modified
        tx.save(job, condition=version_check)
    return SavedJob(job=job, execution=execution, created=created)


def list_task_page(page: int, per_page: int) -> list[TaskModel]:
    """Page ``page`` (1-based) of all tasks, newest first, walking the index's keys only."""
    start_key = _skip(TaskModel.by_creation, TASK_LISTING, (page - 1) * per_page)
    if start_key is False:
        return []
    return list(
        TaskModel.by_creation.query(
            TASK_LISTING, scan_index_forward=False, limit=per_page, last_evaluated_key=start_key or None
        )
    )


def _skip(index: Any, hash_key: str, count: int) -> dict[str, Any] | None | bool:
    """The exclusive start key after ``count`` items of a query, False when there are fewer."""
    if count == 0:
        return None
    results = index.query(
        hash_key, scan_index_forward=False, limit=count, attributes_to_get=["task_id"], page_size=min(count, 500)
    )
    seen = sum(1 for _ in results)
    if seen < count:
        return False
    return results.last_evaluated_key


def tasks_by_word(word: str, page: int, per_page: int) -> tuple[list[str], int]:
    ids = [item.task_id for item in TaskWordModel.query(word)]
    total = len(ids)
    return ids[(page - 1) * per_page : page * per_page], total


def list_jobs(task_id: str) -> list[JobModel]:
    return list(JobModel.query(task_id))


def list_executions(job_id: str, page: int, per_page: int) -> list[ExecutionModel]:
    """Page ``page`` of a job's executions, newest first."""
    start_key: dict[str, Any] | None = None
    skip = (page - 1) * per_page
    if skip:
        results = ExecutionModel.query(
            job_id, scan_index_forward=False, limit=skip, attributes_to_get=["job_id", "execution_id"]
        )
        if sum(1 for _ in results) < skip:
            return []
        start_key = results.last_evaluated_key
    return list(ExecutionModel.query(job_id, scan_index_forward=False, limit=per_page, last_evaluated_key=start_key))


def latest_execution(job: JobModel) -> ExecutionModel | None:
    if job.last_execution_id:
        return get_execution(job.job_id, job.last_execution_id)
    return None


_ACTIVE = (ExecutionStatus.PULLING, ExecutionStatus.RUNNING)


def _status_in(statuses: tuple[ExecutionStatus, ...]) -> Any:
    return ExecutionModel.status.is_in(*(status.value for status in statuses))


def _set_actions(values: dict[str, Any]) -> list[Any]:
    return [
        getattr(ExecutionModel, name).set(value) if value is not None else getattr(ExecutionModel, name).remove()
        for name, value in values.items()
    ]


def update_execution(
    execution: ExecutionModel, only_if: tuple[ExecutionStatus, ...] | None = _ACTIVE, **values: Any
) -> bool:
    """Set attributes (None removes one), only while the status is one of ``only_if``.

    The condition is what keeps a late writer (a runner finishing after a stop, a stop after
    the end) from overwriting a final state.
    """
    return _update_if(execution, values, _status_in(only_if) if only_if else None)


def _update_if(execution: ExecutionModel, values: dict[str, Any], condition: Any) -> bool:
    try:
        execution.update(actions=_set_actions(values), condition=condition)
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def ping() -> None:
    """Raise if DynamoDB cannot be reached (used by the health check)."""
    connection().describe_table(TaskModel.Meta.table_name)


@dataclass
class Claim:
    """What claiming an execution found: it is ours (``claimed``), or why not."""

    execution: ExecutionModel | None
    claimed: bool


def claim(
    job_id: str, execution_id: str, host: str, docker_port: int | None, message_id: str, now: float | None = None
) -> Claim:
    """``enqueued`` → ``pulling`` on this host, atomically.

    The condition is what makes a duplicate SQS delivery harmless: of two runners holding the
    same message only one update succeeds; the other reads the execution to learn why.
    """
    execution = ExecutionModel(job_id, execution_id)
    try:
        execution.update(
            actions=[
                ExecutionModel.status.set(ExecutionStatus.PULLING.value),
                ExecutionModel.host.set(host),
                ExecutionModel.docker_port.set(docker_port) if docker_port else ExecutionModel.docker_port.remove(),
                ExecutionModel.queue_message_id.set(message_id),
                # Leaves the sparse awaiting-dispatch index: the reconciler need not look at it again.
                ExecutionModel.awaiting_shard.remove(),
                ExecutionModel.dispatch_at.remove(),
                # Enters the index of held executions, with a first heartbeat.
                ExecutionModel.active_shard.set(ACTIVE_SHARD),
                ExecutionModel.heartbeat_at.set(_epoch(now)),
            ],
            condition=ExecutionModel.status == ExecutionStatus.ENQUEUED.value,
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return Claim(get_execution(job_id, execution_id, consistent=True), claimed=False)
        raise
    return Claim(execution, claimed=True)


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
        awaiting_shard=AWAITING_SHARD,
        dispatch_at=now.timestamp(),
    )


# -- scheduling -------------------------------------------------------------------------------


def due_jobs(horizon: float) -> list[tuple[str, str]]:
    """(task id, job id) of every job due at or before ``horizon`` (epoch seconds), soonest first."""
    return [(item.task_id, item.job_id) for item in JobModel.by_due.query(DUE_SHARD, JobModel.next_run_at <= horizon)]


def next_scheduled(limit: int) -> list[tuple[str, str, float]]:
    """(task id, job id, next run epoch) of the ``limit`` soonest scheduled jobs (the due index)."""
    return [
        (item.task_id, item.job_id, float(item.next_run_at)) for item in JobModel.by_due.query(DUE_SHARD, limit=limit)
    ]


def advance_schedule(
    job: JobModel,
    due: float,
    next_run: float | None,
    execution: ExecutionModel | None,
    skipped: int,
    now: datetime,
) -> bool:
    """Atomically: create the execution of the due instant and move the job to its next one.

    Conditioned on the job still waiting for exactly ``due``: of two dispatchers racing on one
    instant, or a dispatcher racing a PUT or a stop, only one write lands; the other gets False.
    """
    actions = [JobModel.last_modified_at.set(now)]
    if next_run is None:
        actions += [JobModel.next_run_at.remove(), JobModel.due_shard.remove(), JobModel.scheduled.set(False)]
    else:
        actions += [JobModel.next_run_at.set(next_run), JobModel.due_shard.set(DUE_SHARD)]
    if skipped:
        actions += [JobModel.skipped_ticks.add(skipped), JobModel.last_skipped_at.set(now)]
    if execution is not None:
        actions += [JobModel.execution_count.add(1), JobModel.last_execution_id.set(execution.execution_id)]
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(job, actions=actions, condition=JobModel.next_run_at == due)
            if execution is not None:
                tx.save(execution, condition=ExecutionModel.execution_id.does_not_exist())
    except TransactWriteError as exc:
        if exc.cause_response_code == "TransactionCanceledException":
            return False
        raise
    return True


def awaiting_dispatch(before: float) -> list[tuple[str, str]]:
    """(job id, execution id) of unclaimed executions that were due before ``before``."""
    return [
        (item.job_id, item.execution_id)
        for item in ExecutionModel.awaiting_dispatch.query(AWAITING_SHARD, ExecutionModel.dispatch_at < before)
    ]


def mark_redispatched(execution: ExecutionModel, at: float) -> bool:
    """Record a resend, only while the execution is still waiting for a runner."""
    return update_execution(execution, only_if=(ExecutionStatus.ENQUEUED,), dispatch_at=at)


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
    values = {**values, "active_shard": None}
    condition = _status_in(_ACTIVE)
    if heartbeat_at is not None:
        condition &= ExecutionModel.heartbeat_at == heartbeat_at
    if retry is None:
        return _update_if(execution, values, condition)
    try:
        with TransactWrite(connection=connection()) as tx:
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
    except TransactWriteError as exc:
        if exc.cause_response_code == "TransactionCanceledException":
            return False
        raise
    # A transaction does not refresh the item as a plain update does: mirror what was written.
    for name, value in values.items():
        setattr(execution, name, value)
    return True


def cancel_schedule(job: JobModel, now: datetime) -> None:
    job.update(
        actions=[
            JobModel.next_run_at.remove(),
            JobModel.due_shard.remove(),
            JobModel.scheduled.set(False),
            JobModel.stopped_at.set(now),
            JobModel.last_modified_at.set(now),
        ]
    )


def unfinished_executions(job_id: str, limit: int = 50) -> list[ExecutionModel]:
    """The job's recent executions that have not ended (a Query of one partition, newest first)."""
    return [
        item
        for item in ExecutionModel.query(job_id, scan_index_forward=False, limit=limit)
        if not ExecutionStatus(item.status).is_finished
    ]


def add_execution(job: JobModel, execution: ExecutionModel, now: datetime) -> None:
    """Add a run to an existing job (the retry route)."""
    with TransactWrite(connection=connection()) as tx:
        tx.save(execution, condition=ExecutionModel.execution_id.does_not_exist())
        tx.update(
            job,
            actions=[
                JobModel.execution_count.add(1),
                JobModel.last_execution_id.set(execution.execution_id),
                JobModel.last_modified_at.set(now),
            ],
            condition=JobModel.job_id.exists(),
        )


def record_skipped_tick(execution: ExecutionModel, now: datetime, reason: str) -> bool:
    """End a cron run that must not start (``forbid`` overlap) and count it on the job."""
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(
                execution,
                actions=_set_actions(
                    {
                        "status": ExecutionStatus.STOPPED.value,
                        "finished_at": now,
                        "error": f"skipped: {reason}",
                        "active_shard": None,
                    }
                ),
                condition=_status_in(_ACTIVE),
            )
            tx.update(
                JobModel(execution.task_id, execution.job_id),
                actions=[JobModel.skipped_ticks.add(1), JobModel.last_skipped_at.set(now)],
            )
    except TransactWriteError as exc:
        if exc.cause_response_code == "TransactionCanceledException":
            return False
        raise
    return True


# -- liveness of held executions ----------------------------------------------------------------


def _epoch(now: float | None) -> float:
    # Milliseconds: the value is compared for equality by the reconciler's guard.
    return round(utcnow().timestamp() if now is None else now, 3)


def beat(job_id: str, execution_id: str, host: str, now: float | None = None) -> bool:
    """Record that ``host`` still holds the execution; False when it no longer does (it ended,
    was handed back, or the reconciler gave it up).

    Written through a key-only item, so the runner's own copy of the execution, which its run
    thread is filling in, is not overwritten with what the table holds.
    """
    return _update_if(
        ExecutionModel(job_id, execution_id),
        {"heartbeat_at": _epoch(now)},
        _status_in(_ACTIVE) & (ExecutionModel.host == host),
    )


def silent_executions(before: float) -> list[tuple[str, str]]:
    """(job id, execution id) of held executions whose last heartbeat is older than ``before``."""
    return [
        (item.job_id, item.execution_id)
        for item in ExecutionModel.by_heartbeat.query(ACTIVE_SHARD, ExecutionModel.heartbeat_at < before)
    ]


def held_by(host: str) -> list[tuple[str, str]]:
    """(job id, execution id) of the executions ``host`` holds (one Query of the sparse index)."""
    return [
        (item.job_id, item.execution_id)
        for item in ExecutionModel.by_heartbeat.query(ACTIVE_SHARD, filter_condition=ExecutionModel.host == host)
    ]


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
        "awaiting_shard": AWAITING_SHARD,
        "dispatch_at": now.timestamp(),
    }
    return _update_if(execution, values, _status_in(_ACTIVE) & (ExecutionModel.host == host))


def append_dispatch(job_id: str, execution_id: str, record: dict[str, Any], kept: int) -> bool:
    """Append one notification attempt to the execution, while it holds fewer than ``kept``.

    One update expression (``list_append`` on ``if_not_exists``), so concurrent deliveries of
    one execution never overwrite each other's records. False when the list is full (the
    attempt happened; it is only not stored) or the execution is gone.
    """
    entry = {key: value for key, value in record.items() if value is not None}
    dispatches = ExecutionModel.dispatches
    try:
        ExecutionModel(job_id, execution_id).update(
            actions=[dispatches.set((dispatches | []).append([entry]))],
            condition=ExecutionModel.execution_id.exists() & (dispatches.does_not_exist() | (size(dispatches) < kept)),
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True
