"""Finding a task's job or execution, or a NotFound naming what is missing."""

from __future__ import annotations

from chalicelib.adapters import execution_repository, job_repository, task_repository
from chalicelib.adapters.models import ExecutionModel, JobModel
from chalicelib.domain.errors import NotFound


def require_job(task_id: str, job_id: str) -> JobModel:
    job = job_repository.get_job(task_id, job_id)
    if job is None:
        if task_repository.get_task(task_id) is None:
            raise NotFound(f"task {task_id!r} does not exist", taskId=task_id)
        raise NotFound(f"job {job_id!r} does not exist in task {task_id!r}", taskId=task_id, jobId=job_id)
    return job


def require_execution(task_id: str, job_id: str, execution_id: str) -> ExecutionModel:
    """One read when the execution exists (the hot path of clients polling for its end)."""
    execution = execution_repository.get_execution(job_id, execution_id)
    if execution is not None and execution.task_id == task_id:
        return execution
    require_job(task_id, job_id)
    raise NotFound(
        f"execution {execution_id!r} does not exist in job {job_id!r}",
        taskId=task_id,
        jobId=job_id,
        executionId=execution_id,
    )


def require_latest_execution(task_id: str, job_id: str) -> tuple[JobModel, ExecutionModel]:
    job = require_job(task_id, job_id)
    execution = execution_repository.latest_execution(job)
    if execution is None:
        raise NotFound(f"job {job_id!r} has no execution yet", taskId=task_id, jobId=job_id)
    return job, execution
