"""The tasks, jobs, executions and counters, in memory: every public function of
``task_repository``, ``job_repository``, ``execution_repository`` and ``counters``, with the same
conditions as their DynamoDB writes.

The PynamoDB models are used as plain objects and never saved. The tables hold their own copies:
what a caller holds is what it read, so a stale copy meets the same conditions it would meet in
DynamoDB. Writes that DynamoDB answers with the new item (a plain conditional update) refresh the
caller's object; transactions do not, as there.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model

from chalicelib.adapters import counters
from chalicelib.adapters.execution_repository import Claim, OwedEvent
from chalicelib.adapters.job_repository import ConcurrentChange, SavedJob
from chalicelib.adapters.models import (
    DUE_SHARD,
    SCHEDULED_SHARD,
    TASK_LISTING,
    ExecutionModel,
    JobModel,
    TaskModel,
    active_shard,
    awaiting_shard,
)
from chalicelib.domain.clock import ISO_FORMAT, utcnow
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.domain.task_words import task_words

ACTIVE = (ExecutionStatus.PULLING, ExecutionStatus.RUNNING)
_SAVE_ATTEMPTS = 5

M = TypeVar("M", bound=Model)


def _copy(item: M) -> M:
    return copy.deepcopy(item)


def _refresh(target: Model, source: Model) -> None:
    """What a plain update does to the caller's object: it becomes the item as stored."""
    target.attribute_values = copy.deepcopy(source.attribute_values)


def _set(item: Model, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(item, name, copy.deepcopy(value))


def _cancelled() -> TransactWriteError:
    return TransactWriteError("Failed to write transaction items (a condition failed)")


@dataclass
class FakeTables:
    tasks: dict[str, TaskModel] = field(default_factory=dict)
    words: dict[str, set[str]] = field(default_factory=dict)
    jobs: dict[tuple[str, str], JobModel] = field(default_factory=dict)
    executions: dict[tuple[str, str], ExecutionModel] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    # -- arranging a test ---------------------------------------------------------------------

    def put(self, *items: Model) -> None:
        """Store copies of ``items`` as they are (a test's starting state)."""
        for item in items:
            if isinstance(item, ExecutionModel):
                self.executions[item.job_id, item.execution_id] = _copy(item)
            elif isinstance(item, JobModel):
                self.jobs[item.task_id, item.job_id] = _copy(item)
            elif isinstance(item, TaskModel):
                self.tasks[item.task_id] = _copy(item)
            else:
                raise TypeError(f"no fake table holds {type(item).__name__}")

    def stored(self, job_id: str, execution_id: str) -> ExecutionModel:
        """The execution as stored (a test's look at the table; raises when absent)."""
        return self.executions[job_id, execution_id]

    def executions_of(self, job_id: str) -> list[ExecutionModel]:
        return [item for (owner, _), item in sorted(self.executions.items()) if owner == job_id]

    def _execution(self, execution: ExecutionModel) -> ExecutionModel | None:
        return self.executions.get((execution.job_id, execution.execution_id))

    # -- counters -----------------------------------------------------------------------------

    def count(self, name: str) -> int:
        return self.counters.get(name, 0)

    def _add_to_counter(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    # -- task_repository ----------------------------------------------------------------------

    def get_task(self, task_id: str) -> TaskModel | None:
        task = self.tasks.get(task_id)
        return None if task is None else _copy(task)

    def list_task_page(self, page: int, per_page: int) -> list[TaskModel]:
        newest_first = sorted(self.tasks.values(), key=lambda task: task.created_key, reverse=True)
        return [_copy(task) for task in newest_first[(page - 1) * per_page : page * per_page]]

    def task_ids_newest_first(self) -> list[str]:
        newest_first = sorted(self.tasks.values(), key=lambda task: task.created_key, reverse=True)
        return [task.task_id for task in newest_first]

    def tasks_by_word(self, word: str, page: int, per_page: int) -> tuple[list[str], int]:
        ids = sorted(self.words.get(word, set()))
        return ids[(page - 1) * per_page : page * per_page], len(ids)

    def id_index_ready(self) -> bool:
        # Every task of these tables is stored by save_job, with its shard.
        return True

    def task_ids_with_prefixes(self, prefixes: Iterable[str]) -> list[str]:
        wanted = tuple(prefixes)
        return [task_id for task_id in self.task_ids_newest_first() if task_id.startswith(wanted)]

    def backfill_id_index(self, limit: int | None = None) -> bool:
        return True

    def task_ids_by_word_and_prefixes(self, word: str, prefixes: Iterable[str]) -> list[str]:
        wanted = tuple(prefixes)
        return [task_id for task_id in sorted(self.words.get(word, set())) if task_id.startswith(wanted)]

    def ping(self) -> None:
        return None

    # -- job_repository -----------------------------------------------------------------------

    def get_job(self, task_id: str, job_id: str) -> JobModel | None:
        job = self.jobs.get((task_id, job_id))
        return None if job is None else _copy(job)

    def list_job_ids(self, task_id: str, page: int, per_page: int) -> list[str]:
        ids = [job_id for (owner, job_id) in sorted(self.jobs) if owner == task_id]
        return ids[(page - 1) * per_page : page * per_page]

    def save_job(
        self,
        task_id: str,
        job_id: str,
        spec: dict[str, Any],
        now: datetime,
        execution: ExecutionModel | None,
        next_run_at: float | None = None,
        new_job: bool = False,
        request_ip: str | None = None,
    ) -> SavedJob:
        """As the transaction: the task must be as guessed or read, the job unchanged since it was
        read (its ``last_modified_at``), and the execution new; retried with fresh reads."""
        for attempt in range(_SAVE_ATTEMPTS):
            guess = attempt == 0
            task = TaskModel(task_id) if guess else self.get_task(task_id)
            job = None if guess and new_job else self.get_job(task_id, job_id)
            saved = self._save_job_once(task_id, job_id, spec, now, execution, next_run_at, task, job, request_ip)
            if saved is not None:
                return saved
        raise ConcurrentChange(f"job {task_id}/{job_id} kept changing while being saved")

    def _save_job_once(
        self,
        task_id: str,
        job_id: str,
        spec: dict[str, Any],
        now: datetime,
        execution: ExecutionModel | None,
        next_run_at: float | None,
        task: TaskModel | None,
        job: JobModel | None,
        request_ip: str | None,
    ) -> SavedJob | None:
        stored_job = self.jobs.get((task_id, job_id))
        unchanged = (
            stored_job is None
            if job is None
            else (stored_job is not None and stored_job.last_modified_at == job.last_modified_at)
        )
        task_as_read = (task_id in self.tasks) == (task is not None)
        execution_is_new = execution is None or (execution.job_id, execution.execution_id) not in self.executions
        if not (unchanged and task_as_read and execution_is_new):
            return None
        if task is None:
            self.tasks[task_id] = TaskModel(
                task_id,
                listing=TASK_LISTING,
                created_key=f"{now.strftime(ISO_FORMAT)}#{task_id}",
                created_at=now,
                last_modified_at=now,
                jobs_count=1,
            )
            self._add_to_counter(counters.TASKS)
            for word in task_words(task_id):
                self.words.setdefault(word, set()).add(task_id)
        else:
            stored_task = self.tasks[task_id]
            stored_task.last_modified_at = now
            stored_task.jobs_count = int(stored_task.jobs_count or 0) + (0 if job else 1)
        created = job is None
        if job is None:
            job = JobModel(task_id, job_id, spec=spec, created_at=now, last_modified_at=now, execution_count=0)
            self._add_to_counter(counters.JOBS)
        else:
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
            self.put(execution)
        self.put(job)
        return SavedJob(job=job, execution=execution, created=created)

    def add_execution(self, job: JobModel, execution: ExecutionModel, now: datetime) -> None:
        stored_job = self.jobs.get((job.task_id, job.job_id))
        if stored_job is None or self._execution(execution) is not None:
            raise _cancelled()
        self.put(execution)
        stored_job.execution_count = int(stored_job.execution_count or 0) + 1
        stored_job.last_execution_id = execution.execution_id
        stored_job.last_modified_at = now

    def due_jobs(self, horizon: float) -> list[tuple[str, str]]:
        due = [job for job in self._scheduled() if float(job.next_run_at) <= horizon]
        return [(job.task_id, job.job_id) for job in due]

    def next_scheduled(self, limit: int) -> list[tuple[str, str, float]]:
        return [(job.task_id, job.job_id, float(job.next_run_at)) for job in self._scheduled()[:limit]]

    def _scheduled(self) -> list[JobModel]:
        indexed = [job for job in self.jobs.values() if job.due_shard == DUE_SHARD and job.next_run_at is not None]
        return sorted(indexed, key=lambda job: float(job.next_run_at))

    def advance_schedule(
        self,
        job: JobModel,
        due: float,
        next_run: float | None,
        execution: ExecutionModel | None,
        skipped: int,
        now: datetime,
    ) -> bool:
        """Only while the stored job still waits for exactly ``due`` (and the execution is new)."""
        stored = self.jobs.get((job.task_id, job.job_id))
        if stored is None or stored.next_run_at is None or float(stored.next_run_at) != due:
            return False
        if execution is not None and self._execution(execution) is not None:
            return False
        stored.last_modified_at = now
        if next_run is None:
            _set(stored, {"next_run_at": None, "due_shard": None, "scheduled": False})
        else:
            _set(stored, {"next_run_at": next_run, "due_shard": DUE_SHARD})
        if skipped:
            stored.skipped_ticks = int(stored.skipped_ticks or 0) + skipped
            stored.last_skipped_at = now
        if execution is not None:
            if execution.status != ExecutionStatus.SCHEDULED.value:
                stored.execution_count = int(stored.execution_count or 0) + 1
                stored.last_execution_id = execution.execution_id
            self.put(execution)
        return True

    def cancel_schedule(self, job: JobModel, now: datetime) -> None:
        stored = self.jobs.setdefault((job.task_id, job.job_id), _copy(job))
        _set(
            stored,
            {
                "next_run_at": None,
                "due_shard": None,
                "scheduled": False,
                "suspended": None,
                "stopped_at": now,
                "last_modified_at": now,
            },
        )
        _refresh(job, stored)

    def suspend_schedule(self, job: JobModel, now: datetime) -> None:
        stored = self.jobs.get((job.task_id, job.job_id))
        if stored is None:
            raise _cancelled()
        values = {"next_run_at": None, "due_shard": None, "scheduled": False, "suspended": True}
        _set(stored, {**values, "last_modified_at": now})
        _refresh(job, stored)

    def resume_schedule(self, job: JobModel, next_run: float, now: datetime) -> bool:
        """Only while the stored job is still suspended."""
        stored = self.jobs.get((job.task_id, job.job_id))
        if stored is None or not stored.suspended:
            return False
        values = {"next_run_at": next_run, "due_shard": DUE_SHARD, "scheduled": True, "suspended": None}
        _set(stored, {**values, "last_modified_at": now})
        _refresh(job, stored)
        return True

    # -- execution_repository: reading ---------------------------------------------------------

    def get_execution(self, job_id: str, execution_id: str, consistent: bool = False) -> ExecutionModel | None:
        item = self.executions.get((job_id, execution_id))
        return None if item is None else _copy(item)

    def _newest_first(self, task_id: str, job_id: str) -> list[ExecutionModel]:
        return [item for item in reversed(self.executions_of(job_id)) if item.task_id == task_id]

    def list_executions(self, task_id: str, job_id: str, page: int, per_page: int) -> list[ExecutionModel]:
        """Newest first, ``scheduled`` ones left out (as the Query's filter does)."""
        newest = self._newest_first(task_id, job_id)
        listed = [item for item in newest if item.status != ExecutionStatus.SCHEDULED.value]
        return [_copy(item) for item in listed[(page - 1) * per_page : page * per_page]]

    def execution_history(self, task_id: str, job_id: str, limit: int) -> list[ExecutionModel]:
        """The newest ``limit`` runs, newest first, ``scheduled`` ones left out (the Query's filter)."""
        newest = self._newest_first(task_id, job_id)
        listed = [item for item in newest if item.status != ExecutionStatus.SCHEDULED.value]
        return [_copy(item) for item in listed[:limit]]

    def scheduled_executions(self, task_id: str, job_id: str, newest: int = 5) -> list[ExecutionModel]:
        recent = self._newest_first(task_id, job_id)[:newest]
        return [_copy(item) for item in recent if item.status == ExecutionStatus.SCHEDULED.value]

    def latest_execution(self, job: JobModel) -> ExecutionModel | None:
        if job.last_execution_id:
            return self.get_execution(job.job_id, job.last_execution_id)
        return None

    def unfinished_executions(self, task_id: str, job_id: str, limit: int = 50) -> list[ExecutionModel]:
        recent = self._newest_first(task_id, job_id)[:limit]
        return [_copy(item) for item in recent if not ExecutionStatus(item.status).is_finished]

    # -- execution_repository: conditional updates ---------------------------------------------

    def _update_if(self, execution: ExecutionModel, values: dict[str, Any], holds: bool) -> bool:
        stored = self._execution(execution)
        if stored is None or not holds:
            return False
        _set(stored, values)
        _refresh(execution, stored)
        return True

    def _status_in(self, execution: ExecutionModel, statuses: tuple[ExecutionStatus, ...]) -> bool:
        stored = self._execution(execution)
        return stored is not None and stored.status in {status.value for status in statuses}

    def update_execution(
        self, execution: ExecutionModel, only_if: tuple[ExecutionStatus, ...] | None = ACTIVE, **values: Any
    ) -> bool:
        if only_if is None and self._execution(execution) is None:
            # An unconditional update makes the item, as DynamoDB's does.
            self.put(execution)
        return self._update_if(execution, values, only_if is None or self._status_in(execution, only_if))

    def claim(
        self,
        job_id: str,
        execution_id: str,
        host: str,
        docker_port: int | None,
        message_id: str,
        now: float | None = None,
        task_id: str | None = None,
    ) -> Claim:
        """``enqueued`` → ``pulling``; ``scheduled`` → ``pulling`` counted on its job at once
        (``task_id``, a hint that it is scheduled, changes only the order of the attempts)."""
        execution = ExecutionModel(job_id, execution_id)
        values = {
            "status": ExecutionStatus.PULLING.value,
            "host": host,
            "docker_port": docker_port or None,
            "queue_message_id": message_id,
            "awaiting_shard": None,
            "dispatch_at": None,
            "active_shard": active_shard(execution_id),
            "heartbeat_at": _epoch(now),
        }
        if self._update_if(execution, values, self._status_in(execution, (ExecutionStatus.ENQUEUED,))):
            return Claim(execution, claimed=True)
        found = self.get_execution(job_id, execution_id)
        if found is not None and self._promote(found, values):
            return Claim(found, claimed=True)
        return Claim(found, claimed=False)

    def promote_scheduled(self, execution: ExecutionModel) -> bool:
        waiting = {"status": ExecutionStatus.ENQUEUED.value, "awaiting_shard": awaiting_shard(execution.execution_id)}
        return self._promote(execution, waiting)

    def _promote(self, execution: ExecutionModel, values: dict[str, Any]) -> bool:
        """Only from ``scheduled``; the job counts it and points at it (one transaction)."""
        stored = self._execution(execution)
        if stored is None or stored.status != ExecutionStatus.SCHEDULED.value:
            return False
        _set(stored, values)
        _set(execution, values)
        job = self.jobs.get((stored.task_id, stored.job_id))
        if job is not None:
            job.execution_count = int(job.execution_count or 0) + 1
            job.last_execution_id = stored.execution_id
        return True

    def cancel_scheduled(self, execution: ExecutionModel) -> bool:
        stored = self._execution(execution)
        if stored is None or stored.status != ExecutionStatus.SCHEDULED.value:
            return False
        del self.executions[stored.job_id, stored.execution_id]
        return True

    def unclaim(self, execution: ExecutionModel, now: datetime) -> bool:
        return self.update_execution(
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

    def awaiting_dispatch(self, before: float) -> list[tuple[str, str]]:
        waiting = [
            item
            for item in self.executions.values()
            if item.awaiting_shard not in (None, SCHEDULED_SHARD)
            and item.dispatch_at is not None
            and item.dispatch_at < before
        ]
        return [(item.job_id, item.execution_id) for item in sorted(waiting, key=lambda item: item.dispatch_at)]

    def overdue_scheduled(self, before: float) -> list[tuple[str, str]]:
        waiting = [
            item
            for item in self.executions.values()
            if item.awaiting_shard == SCHEDULED_SHARD and item.dispatch_at is not None and item.dispatch_at < before
        ]
        return [(item.job_id, item.execution_id) for item in sorted(waiting, key=lambda item: item.dispatch_at)]

    def mark_redispatched(self, execution: ExecutionModel, at: float) -> bool:
        return self.update_execution(execution, only_if=(ExecutionStatus.ENQUEUED,), dispatch_at=at)

    def finish_execution(
        self,
        execution: ExecutionModel,
        values: dict[str, Any],
        retry: ExecutionModel | None = None,
        heartbeat_at: float | None = None,
    ) -> bool:
        """Only while pulling/running and, with ``heartbeat_at``, while the last heartbeat is that
        one; the retry is created (and counted on the job) in the same write."""
        values = {**values, "active_shard": None, "watches": None}
        stored = self._execution(execution)
        holds = self._status_in(execution, ACTIVE) and (
            heartbeat_at is None or (stored is not None and stored.heartbeat_at == heartbeat_at)
        )
        if retry is None:
            return self._update_if(execution, values, holds)
        if not holds or stored is None or self._execution(retry) is not None:
            return False
        _set(stored, values)
        self.put(retry)
        job = self.jobs.get((execution.task_id, execution.job_id))
        if job is not None:
            job.retry_count = int(job.retry_count or 0) + 1
            job.execution_count = int(job.execution_count or 0) + 1
            job.last_execution_id = retry.execution_id
        # A transaction does not refresh the item: the repository mirrors what it wrote.
        _set(execution, values)
        return True

    def record_skipped_tick(
        self, execution: ExecutionModel, now: datetime, reason: str, extra: dict[str, Any] | None = None
    ) -> bool:
        stored = self._execution(execution)
        if stored is None or not self._status_in(execution, ACTIVE):
            return False
        values = {
            "status": ExecutionStatus.STOPPED.value,
            "finished_at": now,
            "error": f"skipped: {reason}",
            "active_shard": None,
            **(extra or {}),
        }
        _set(stored, values)
        job = self.jobs.get((execution.task_id, execution.job_id))
        if job is not None:
            job.skipped_ticks = int(job.skipped_ticks or 0) + 1
            job.last_skipped_at = now
        return True

    # -- execution_repository: liveness ----------------------------------------------------------

    def _held_on(self, execution: ExecutionModel, host: str) -> bool:
        stored = self._execution(execution)
        return self._status_in(execution, ACTIVE) and stored is not None and stored.host == host

    def beat(self, job_id: str, execution_id: str, host: str, now: float | None = None) -> bool:
        key_only = ExecutionModel(job_id, execution_id)
        stored = self._execution(key_only)
        beats = int(stored.beats or 0) + 1 if stored is not None else 1
        return self._update_if(key_only, {"heartbeat_at": _epoch(now), "beats": beats}, self._held_on(key_only, host))

    def silent_executions(self, before: float | None) -> list[tuple[str, str]]:
        silent = [item for item in self._held() if before is None or float(item.heartbeat_at) < before]
        return [(item.job_id, item.execution_id) for item in silent]

    def record_watch(self, execution: ExecutionModel, reaper: str, token: str, since: float) -> bool:
        stored = self._execution(execution)
        if stored is None or not self._status_in(execution, ACTIVE) or stored.heartbeat_at != execution.heartbeat_at:
            return False
        current: Any = stored.watches
        watches = current.as_dict() if current is not None else {}
        watches[reaper] = {"token": token, "since": since}
        stored.watches = watches
        return True

    def held_by(self, host: str) -> list[tuple[str, str]]:
        return [(item.job_id, item.execution_id) for item in self._held() if item.host == host]

    def _held(self) -> list[ExecutionModel]:
        held = [item for item in self.executions.values() if item.active_shard is not None]
        return sorted(held, key=lambda item: float(item.heartbeat_at or 0))

    def hand_back(self, execution: ExecutionModel, host: str, now: datetime) -> bool:
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
        return self._update_if(execution, values, self._held_on(execution, host))

    # -- execution_repository: notification attempts ---------------------------------------------

    def append_dispatch(self, job_id: str, execution_id: str, record: dict[str, Any], kept: int) -> bool:
        stored = self.executions.get((job_id, execution_id))
        if stored is None or len(stored.dispatches or []) >= kept:
            return False
        entry = {key: value for key, value in record.items() if value is not None}
        stored.dispatches = [*(stored.dispatches or []), copy.deepcopy(entry)]
        return True

    # -- execution_repository: the outbox ---------------------------------------------------------

    def clear_owed_event(self, job_id: str, execution_id: str, kind: str, status: str) -> bool:
        stored = self.executions.get((job_id, execution_id))
        mark, other = ("start_event_pending", "end_event_pending")[:: 1 if kind == "start" else -1]
        if stored is None or getattr(stored, mark) != status:
            return False
        setattr(stored, mark, None)
        if getattr(stored, other) is None:
            stored.owed_shard = stored.owed_at = None
        return True

    def owed_events(self, before: float, per_shard: int) -> list[OwedEvent]:
        by_shard: dict[str, list[ExecutionModel]] = {}
        for item in self.executions.values():
            if item.owed_shard is not None and item.owed_at is not None and item.owed_at < before:
                by_shard.setdefault(item.owed_shard, []).append(item)
        found = [
            OwedEvent(
                item.task_id,
                item.job_id,
                item.execution_id,
                item.start_event_pending,
                item.end_event_pending,
                float(item.owed_at),
            )
            for items in by_shard.values()
            for item in sorted(items, key=lambda item: float(item.owed_at))[:per_shard]
        ]
        return sorted(found, key=lambda event: event.owed_at)


def _epoch(now: float | None) -> float:
    return round(utcnow().timestamp() if now is None else now, 3)
