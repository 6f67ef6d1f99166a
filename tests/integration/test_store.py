"""The DynamoDB adapter on the moto server: conditional writes that keep runs unique."""

from __future__ import annotations

import threading
import uuid

from chalicelib import jobs, store
from chalicelib.clock import utcnow
from chalicelib.payload import parse_job
from infra.local.harness import StackProcess
from tests.conftest import TEST_IMAGE


def _saved_execution(task_id: str) -> tuple[str, str]:
    spec = parse_job({"image": TEST_IMAGE, "command": "true"})
    job_id = str(uuid.uuid4())
    execution = jobs.new_execution(task_id, job_id, spec, utcnow())
    store.save_job(task_id, job_id, spec.to_dict(), utcnow(), execution)
    return job_id, execution.execution_id


def test_only_one_of_two_racing_claims_wins(stack: StackProcess, task_id: str) -> None:
    job_id, execution_id = _saved_execution(task_id)
    results: list[store.Claim] = []
    barrier = threading.Barrier(4)

    def claim(host: str) -> None:
        barrier.wait()
        results.append(store.claim(job_id, execution_id, host, None, f"message-{host}"))

    threads = [threading.Thread(target=claim, args=(f"host-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [result for result in results if result.claimed]
    assert len(winners) == 1
    stored = store.get_execution(job_id, execution_id, consistent=True)
    assert stored is not None and stored.status == "pulling" and stored.host == winners[0].execution.host
    assert stored.awaiting_shard is None and stored.dispatch_at is None
    assert all(r.execution is not None and r.execution.status == "pulling" for r in results if not r.claimed)


def test_claiming_an_unknown_execution_finds_nothing(stack: StackProcess) -> None:
    claim = store.claim(str(uuid.uuid4()), str(uuid.uuid4()), "host", None, "m")

    assert claim.claimed is False and claim.execution is None


def test_racing_creations_of_one_task_count_it_once(stack: StackProcess, task_id: str) -> None:
    before = store.counter(store.TASKS_COUNTER)
    barrier = threading.Barrier(3)

    def create() -> None:
        barrier.wait()
        _saved_execution(task_id)

    threads = [threading.Thread(target=create) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    task = store.get_task(task_id)
    assert task is not None and task.jobs_count == 3
    assert store.counter(store.TASKS_COUNTER) == before + 1
    assert len(store.list_jobs(task_id)) == 3
