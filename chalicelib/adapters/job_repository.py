"""Jobs in DynamoDB: saving one (with its task and first execution, in one transaction), reading
them, adding runs to them, and their schedules (the sparse due index).

A racing writer never overwrites a job it did not read: saving is optimistically locked on the
job's ``last_modified_at``, and advancing a schedule is conditioned on the instant it handles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import counters, task_repository
from chalicelib.adapters.aws import connection
from chalicelib.adapters.conditional_writes import conditional_write
from chalicelib.adapters.models import (
    DUE_SHARD,
    CounterModel,
    ExecutionModel,
    JobModel,
    TaskModel,
    TaskWordModel,
    new_task,
)
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.domain.task_words import task_words

# Attempts of ``save_job`` before a job that keeps changing is given up on.
_SAVE_ATTEMPTS = 5


class ConcurrentChange(Exception):
    """Another writer changed the item between our read and our conditional write."""


@dataclass
class SavedJob:
    job: JobModel
    execution: ExecutionModel | None
    created: bool


def get_job(task_id: str, job_id: str) -> JobModel | None:
    try:
        return JobModel.get(task_id, job_id)
    except DoesNotExist:
        return None


def list_job_ids(task_id: str, page: int, per_page: int) -> list[str]:
    """Page ``page`` (1-based) of the task's job ids, in key order, reading keys only."""
    start_key: dict[str, Any] | None = None
    skip = (page - 1) * per_page
    if skip:
        skipped = JobModel.query(task_id, limit=skip, attributes_to_get=["task_id", "job_id"], page_size=min(skip, 500))
        if sum(1 for _ in skipped) < skip:
            return []
        start_key = skipped.last_evaluated_key
    found = JobModel.query(
        task_id, limit=per_page, attributes_to_get=["task_id", "job_id"], last_evaluated_key=start_key
    )
    return [job.job_id for job in found]


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
    for attempt in range(_SAVE_ATTEMPTS):
        guess = attempt == 0
        task = TaskModel(task_id) if guess else task_repository.get_task(task_id)
        job = None if guess and new_job else get_job(task_id, job_id)
        with conditional_write() as write:
            saved = _save_job_once(task_id, job_id, spec, now, execution, next_run_at, task, job, request_ip)
        if write.applied:
            return saved
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
            task = new_task(task_id, now)
            tx.save(task, condition=TaskModel.task_id.does_not_exist())
            tx.update(CounterModel(counters.TASKS), actions=[CounterModel.value.add(1)])
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
        if execution is not None:
            tx.save(execution, condition=ExecutionModel.execution_id.does_not_exist())
        if job is None:
            job = JobModel(task_id, job_id, spec=spec, created_at=now, last_modified_at=now, execution_count=0)
            _set_details(job, spec, now, next_run_at, execution, request_ip)
            tx.update(CounterModel(counters.JOBS), actions=[CounterModel.value.add(1)])
            tx.save(job, condition=JobModel.job_id.does_not_exist())
        else:
            # An update, never a whole-item put: the counters (runs, retries, skipped ticks) that
            # runners and the dispatcher add to meanwhile are left as the table holds them.
            # Optimistic lock: the job is unchanged since we read it.
            previous_modified = job.last_modified_at
            tx.update(
                job,
                actions=_detail_actions(spec, now, next_run_at, execution, request_ip),
                condition=JobModel.last_modified_at == previous_modified,
            )
            _set_details(job, spec, now, next_run_at, execution, request_ip)
    return SavedJob(job=job, execution=execution, created=created)


def _detail_actions(
    spec: dict[str, Any],
    now: datetime,
    next_run_at: float | None,
    execution: ExecutionModel | None,
    request_ip: str | None,
) -> list[Any]:
    """What a PUT changes on an existing job: its details and schedule, and (with a run) one more run."""
    actions: list[Any] = [
        JobModel.spec.set(spec),
        JobModel.last_modified_at.set(now),
        JobModel.request_ip.set(request_ip) if request_ip else JobModel.request_ip.remove(),
        # A pending schedule is replaced by the new one (or cleared for an immediate run).
        JobModel.scheduled.set(next_run_at is not None),
        # A replaced job starts afresh: a suspension of the old definition does not carry over.
        JobModel.suspended.remove(),
    ]
    if next_run_at is None:
        actions += [JobModel.next_run_at.remove(), JobModel.due_shard.remove()]
    else:
        actions += [JobModel.next_run_at.set(next_run_at), JobModel.due_shard.set(DUE_SHARD)]
    if execution is not None:
        actions += [JobModel.execution_count.add(1), JobModel.last_execution_id.set(execution.execution_id)]
    return actions


def _set_details(
    job: JobModel,
    spec: dict[str, Any],
    now: datetime,
    next_run_at: float | None,
    execution: ExecutionModel | None,
    request_ip: str | None,
) -> None:
    """Mirror on ``job`` what the write stored (a transaction does not refresh the item)."""
    job.spec = spec
    job.last_modified_at = now
    job.request_ip = request_ip
    job.scheduled = next_run_at is not None
    job.suspended = None
    job.next_run_at = next_run_at
    job.due_shard = DUE_SHARD if next_run_at is not None else None
    if execution is not None:
        job.execution_count = (job.execution_count or 0) + 1
        job.last_execution_id = execution.execution_id


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


# -- schedules ----------------------------------------------------------------------------------


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
    if execution is not None and execution.status != ExecutionStatus.SCHEDULED.value:
        # A ``scheduled`` one (made ahead of its instant) is counted, and becomes the job's last
        # execution, only when a runner claims it (execution_repository.claim).
        actions += [JobModel.execution_count.add(1), JobModel.last_execution_id.set(execution.execution_id)]
    with conditional_write() as write, TransactWrite(connection=connection()) as tx:
        tx.update(job, actions=actions, condition=JobModel.next_run_at == due)
        if execution is not None:
            tx.save(execution, condition=ExecutionModel.execution_id.does_not_exist())
    return write.applied


def cancel_schedule(job: JobModel, now: datetime) -> None:
    job.update(
        actions=[
            JobModel.next_run_at.remove(),
            JobModel.due_shard.remove(),
            JobModel.scheduled.set(False),
            JobModel.suspended.remove(),
            JobModel.stopped_at.set(now),
            JobModel.last_modified_at.set(now),
        ]
    )


def suspend_schedule(job: JobModel, now: datetime) -> None:
    """Take the job out of the due index and mark it suspended. A dispatcher racing this write
    loses: its own is conditioned on the instant it read, which is gone."""
    job.update(
        actions=[
            JobModel.next_run_at.remove(),
            JobModel.due_shard.remove(),
            JobModel.scheduled.set(False),
            JobModel.suspended.set(True),
            JobModel.last_modified_at.set(now),
        ],
        condition=JobModel.job_id.exists(),
    )


def resume_schedule(job: JobModel, next_run: float, now: datetime) -> bool:
    """Put a suspended job back in the due index at ``next_run``; False when it was not
    suspended any more (resumed, replaced or stopped meanwhile)."""
    with conditional_write() as write:
        job.update(
            actions=[
                JobModel.suspended.remove(),
                JobModel.next_run_at.set(next_run),
                JobModel.due_shard.set(DUE_SHARD),
                JobModel.scheduled.set(True),
                JobModel.last_modified_at.set(now),
            ],
            condition=JobModel.suspended == True,  # noqa: E712 (a PynamoDB condition, not a comparison)
        )
    return write.applied
