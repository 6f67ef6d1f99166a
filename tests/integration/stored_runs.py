"""Finished runs of a job written straight into the local stack's tables, as a runner would have
left them (status, timestamps, exit code; out of every index a runner or the dispatcher reads), so
a test gets a long history in a second instead of minutes of containers."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.adapters import job_repository
from chalicelib.adapters.models import ExecutionModel, JobModel
from chalicelib.domain.clock import utcnow
from chalicelib.domain.ids import new_execution_id, new_job_id
from chalicelib.domain.payload import parse_job
from chalicelib.services.executions import new_execution
from tests.conftest import TEST_IMAGE

# Every FAILED_EVERY-th stored run failed (exit 1); the others are done. Run n took
# (n % 7 + 1) * STEP_SECONDS.
FAILED_EVERY = 4
STEP_SECONDS = 0.25


def stored_duration(n: int) -> float:
    return (n % 7 + 1) * STEP_SECONDS


def stored_status(n: int) -> str:
    return "failed" if n % FAILED_EVERY == FAILED_EVERY - 1 else "done"


def store_finished_runs(task_id: str, count: int, job_id: str | None = None) -> tuple[str, list[ExecutionModel]]:
    """A new job of ``task_id`` (of id ``job_id`` if given, as a PUT may reuse one in another task)
    with ``count`` finished runs, 10 s apart, oldest first, counted on the job as the runner's
    transactions would."""
    spec = parse_job({"image": TEST_IMAGE, "command": "true"})
    began = utcnow() - timedelta(hours=2)
    job_id = job_id or new_job_id()
    job_repository.save_job(task_id, job_id, spec.to_dict(), began, None)
    runs: list[ExecutionModel] = []
    for n in range(count):
        created = began + timedelta(seconds=10 * n)
        execution_id = new_execution_id(int(created.timestamp() * 1000))
        execution = new_execution(task_id, job_id, spec, created, execution_id=execution_id)
        failed = stored_status(n) == "failed"
        execution.status = stored_status(n)
        # Ended: in no index the dispatcher or a runner reads, so nothing sends or reaps it.
        execution.awaiting_shard = None
        execution.dispatch_at = None
        execution.started_at = created + timedelta(seconds=0.5)
        execution.finished_at = execution.started_at + timedelta(seconds=stored_duration(n))
        execution.exit_code = 1 if failed else 0
        execution.host = "stored"
        runs.append(execution)
    with ExecutionModel.batch_write() as batch:
        for execution in runs:
            batch.save(execution)
    JobModel(task_id, job_id).update(
        actions=[JobModel.execution_count.add(count), JobModel.last_execution_id.set(runs[-1].execution_id)]
    )
    return job_id, runs
