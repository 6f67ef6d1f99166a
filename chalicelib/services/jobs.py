"""Enqueueing jobs: creating or replacing them, and starting or scheduling their runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters import execution_repository, job_repository
from chalicelib.adapters.models import ExecutionModel, JobModel
from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.ids import is_uuid4, new_job_id
from chalicelib.domain.job_limits import refuse_too_many_deliveries
from chalicelib.domain.overrides import RunOverrides, apply_overrides
from chalicelib.domain.payload import JobSpec, parse_job, refuse_oversized, validate_task_id
from chalicelib.domain.pools import pool_for_task, queue_for_task, sandbox_of
from chalicelib.domain.registries import refuse_unlisted
from chalicelib.domain.scheduling import first_run
from chalicelib.domain.secret_refs import refuse_unusable_refs
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.domain.webhook_targets import refuse_blocked_literals
from chalicelib.services import schedules
from chalicelib.services.executions import new_execution, send
from chalicelib.services.lookups import require_job
from chalicelib.services.stopping import request_stop
from chalicelib.settings import get_settings


@dataclass(frozen=True)
class Enqueued:
    task_id: str
    job_id: str
    # None for a delayed job (startAt/startIn/cron in the future): the execution appears later.
    execution_id: str | None
    queue_job_id: str | None


def enqueue(
    task_id: str,
    body: dict[str, Any],
    job_id: str | None = None,
    request_ip: str | None = None,
    now: datetime | None = None,
) -> Enqueued:
    """Create (or, with ``job_id``, create or replace) a job, and run or schedule it."""
    validate_task_id(task_id)
    queue_for_task(task_id, get_settings())  # a task no pool takes is refused before anything is stored
    if job_id is not None and not is_uuid4(job_id):
        raise ValidationError(f"job id {job_id!r} is not a UUID4", field="jobId")
    spec = parse_job(body)
    refuse_outside_pool(task_id, spec)
    refuse_oversized(spec, get_settings().max_job_bytes)
    refuse_blocked_literals(spec.webhooks, get_settings().blocked_networks)
    refuse_too_many_deliveries(
        spec.webhooks, spec.notify, get_settings().max_webhooks_per_job, get_settings().max_email_recipients_per_job
    )
    refuse_unusable_refs(spec.envs, get_settings().env_secret_ref_patterns)
    now = now or utcnow()
    new_job = job_id is None
    job_id = job_id or new_job_id()
    due = first_run(spec, now)
    if spec.cron is None and due <= now:
        execution = new_execution(task_id, job_id, spec, now, request_ip=request_ip)
        saved = job_repository.save_job(
            task_id, job_id, spec.to_dict(), now, execution, new_job=new_job, request_ip=request_ip
        )
        if not saved.created:
            _cancel_scheduled_runs(task_id, job_id, now, keep=execution.execution_id)
        return _sent(saved.job, execution, now)
    saved = job_repository.save_job(
        task_id, job_id, spec.to_dict(), now, None, next_run_at=due.timestamp(), new_job=new_job, request_ip=request_ip
    )
    if not saved.created:
        _cancel_scheduled_runs(task_id, job_id, now)
    if due <= now + timedelta(seconds=get_settings().dispatch_lookahead_seconds):
        # Due before the next dispatcher tick could see it: dispatch it now.
        schedules.materialize(saved.job, now)
    return Enqueued(task_id, job_id, None, None)


def refuse_outside_pool(task_id: str, spec: JobSpec) -> None:
    """A job its pool would not run is refused now: ``resources`` above the pool's ceiling, or an
    image from a registry the pool does not allow (the runner checks both again)."""
    settings = get_settings()
    pool = pool_for_task(task_id, settings)
    if pool is None:
        return
    sandbox_of(pool, settings).limits_for(spec.resources)
    refuse_unlisted(spec.image, pool.registries, pool.name)


def retry_now(task_id: str, job_id: str, request_ip: str | None = None) -> Enqueued:
    """A new execution of the job, at once, with its current details."""
    return run_now(task_id, job_id, RunOverrides(), request_ip=request_ip)


def run_now(
    task_id: str, job_id: str, overrides: RunOverrides, request_ip: str | None = None, now: datetime | None = None
) -> Enqueued:
    """A new execution of the job, at once, with ``overrides`` over its env and command for that
    execution only; the job's definition and schedule (suspended or not) stay as they are."""
    job = require_job(task_id, job_id)
    spec = JobSpec.from_dict(job.spec)
    refuse_oversized(apply_overrides(spec, overrides), get_settings().max_job_bytes)
    now = now or utcnow()
    execution = new_execution(task_id, job_id, spec, now, request_ip=request_ip, overrides=overrides)
    job_repository.add_execution(job, execution, now)
    return _sent(job, execution, now)


def _sent(job: JobModel, execution: ExecutionModel, now: datetime) -> Enqueued:
    # The message id is recorded on the execution by the runner that claims it (one write
    # fewer on the enqueue path); the job's ``enqueued_id`` shows the latest one.
    message_id = send(execution, now)
    return Enqueued(job.task_id, job.job_id, execution.execution_id, message_id)


def _cancel_scheduled_runs(task_id: str, job_id: str, now: datetime, keep: str | None = None) -> None:
    """A replaced job's runs that were scheduled but not started are cancelled: the new
    schedule (or the immediate run) replaces them."""
    for execution in execution_repository.unfinished_executions(task_id, job_id):
        pending = execution.status == ExecutionStatus.SCHEDULED.value or (
            execution.status == ExecutionStatus.ENQUEUED.value and execution.scheduled_for is not None
        )
        if pending and execution.execution_id != keep:
            request_stop(execution, now)
