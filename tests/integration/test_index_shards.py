"""The sharded sparse indexes on the local emulator: held and waiting executions spread over
``index_shards`` partition values and are all found, and items written before sharding (the
bare ``active``/``awaiting`` values) are still found."""

from __future__ import annotations

import uuid
from collections import Counter

from chalicelib.adapters import execution_repository, job_repository
from chalicelib.adapters.models import ACTIVE_SHARD, AWAITING_SHARD, ExecutionModel
from chalicelib.domain.clock import utcnow
from chalicelib.domain.payload import parse_job
from chalicelib.services.executions import new_execution
from chalicelib.settings import get_settings
from infra.local.harness import StackProcess
from tests.conftest import TEST_IMAGE


def _saved(task_id: str, count: int) -> tuple[str, list[ExecutionModel]]:
    """A job and ``count`` of its executions, never sent to SQS (the session runner never sees them)."""
    spec = parse_job({"image": TEST_IMAGE, "command": "true"})
    job_id = str(uuid.uuid4())
    now = utcnow()
    first = new_execution(task_id, job_id, spec, now)
    job_repository.save_job(task_id, job_id, spec.to_dict(), now, first)
    executions = [first]
    for _ in range(count - 1):
        execution = new_execution(task_id, job_id, spec, now)
        execution.save()
        executions.append(execution)
    return job_id, executions


def test_held_executions_spread_over_the_shards_and_are_all_found(stack: StackProcess, task_id: str) -> None:
    host = f"sharded-{uuid.uuid4().hex[:6]}"
    job_id, executions = _saved(task_id, 24)
    old = utcnow().timestamp() - 3600
    for execution in executions:
        assert execution_repository.claim(job_id, execution.execution_id, host, None, "m", now=old).claimed

    stored = [execution_repository.get_execution(job_id, e.execution_id, consistent=True) for e in executions]
    shards = Counter(item.active_shard for item in stored if item is not None)
    assert len(shards) > 1 and all(str(shard).startswith(f"{ACTIVE_SHARD}#") for shard in shards)
    assert len(shards) <= get_settings().index_shards
    ours = {(job_id, e.execution_id) for e in executions}
    assert ours <= set(execution_repository.held_by(host))
    assert ours <= set(execution_repository.silent_executions(old + 1))
    assert ours <= set(execution_repository.silent_executions(None))
    # Oldest first across the shards, as one partition would answer.
    silent = execution_repository.silent_executions(None)
    beats = [float(execution_repository.get_execution(*key).heartbeat_at or 0) for key in silent[:50]]
    assert beats == sorted(beats)


def test_waiting_executions_spread_over_the_shards_and_are_all_found(stack: StackProcess, task_id: str) -> None:
    job_id, executions = _saved(task_id, 16)
    shards = {e.awaiting_shard for e in executions}

    assert len(shards) > 1 and all(str(shard).startswith(f"{AWAITING_SHARD}#") for shard in shards)
    due = {(job_id, e.execution_id) for e in executions}
    assert due <= set(execution_repository.awaiting_dispatch(utcnow().timestamp() + 1))


def test_items_written_before_sharding_are_still_found(stack: StackProcess, task_id: str) -> None:
    host = f"legacy-{uuid.uuid4().hex[:6]}"
    job_id, (held, waiting) = _saved(task_id, 2)
    assert execution_repository.claim(job_id, held.execution_id, host, None, "m").claimed
    # As an older release wrote them: the single partition value of each index.
    for execution, values in (
        (held, {"active_shard": ACTIVE_SHARD, "heartbeat_at": utcnow().timestamp() - 3600}),
        (waiting, {"awaiting_shard": AWAITING_SHARD}),
    ):
        execution_repository.update_execution(execution, only_if=None, **values)

    assert (job_id, held.execution_id) in execution_repository.held_by(host)
    assert (job_id, held.execution_id) in execution_repository.silent_executions(utcnow().timestamp() - 60)
    assert (job_id, waiting.execution_id) in execution_repository.awaiting_dispatch(utcnow().timestamp() + 1)
