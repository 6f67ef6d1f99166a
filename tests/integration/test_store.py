"""The DynamoDB adapter on the local emulator: conditional writes that keep runs unique."""

from __future__ import annotations

import threading
import uuid

from chalicelib.adapters import counters, execution_repository, job_repository, task_repository
from chalicelib.domain.clock import utcnow
from chalicelib.domain.payload import parse_job
from chalicelib.services import stopping
from chalicelib.services.executions import new_execution
from infra.local.harness import StackProcess
from tests.conftest import TEST_IMAGE


def _saved_execution(task_id: str) -> tuple[str, str]:
    spec = parse_job({"image": TEST_IMAGE, "command": "true"})
    job_id = str(uuid.uuid4())
    execution = new_execution(task_id, job_id, spec, utcnow())
    job_repository.save_job(task_id, job_id, spec.to_dict(), utcnow(), execution)
    return job_id, execution.execution_id


def test_only_one_of_two_racing_claims_wins(stack: StackProcess, task_id: str) -> None:
    job_id, execution_id = _saved_execution(task_id)
    results: list[execution_repository.Claim] = []
    barrier = threading.Barrier(4)

    def claim(host: str) -> None:
        barrier.wait()
        results.append(execution_repository.claim(job_id, execution_id, host, None, f"message-{host}"))

    threads = [threading.Thread(target=claim, args=(f"host-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [result for result in results if result.claimed]
    assert len(winners) == 1
    stored = execution_repository.get_execution(job_id, execution_id, consistent=True)
    assert stored is not None and stored.status == "pulling" and stored.host == winners[0].execution.host
    assert stored.awaiting_shard is None and stored.dispatch_at is None
    assert all(r.execution is not None and r.execution.status == "pulling" for r in results if not r.claimed)


def test_claiming_an_unknown_execution_finds_nothing(stack: StackProcess) -> None:
    claim = execution_repository.claim(str(uuid.uuid4()), str(uuid.uuid4()), "host", None, "m")

    assert claim.claimed is False and claim.execution is None


def test_racing_creations_of_one_task_count_it_once(stack: StackProcess, task_id: str) -> None:
    before = counters.count(counters.TASKS)
    barrier = threading.Barrier(3)

    def create() -> None:
        barrier.wait()
        _saved_execution(task_id)

    threads = [threading.Thread(target=create) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    task = task_repository.get_task(task_id)
    assert task is not None and task.jobs_count == 3
    assert counters.count(counters.TASKS) == before + 1
    assert len(job_repository.list_job_ids(task_id, 1, 100)) == 3


def test_racing_dispatchers_create_one_execution_per_due_instant(stack: StackProcess, task_id: str) -> None:
    from datetime import timedelta

    from chalicelib.services import schedules

    spec = parse_job({"image": TEST_IMAGE, "command": "true", "cron": "* * * * *"})
    job_id = str(uuid.uuid4())
    now = utcnow()
    due = now.replace(second=0, microsecond=0) + timedelta(minutes=30)
    job_repository.save_job(task_id, job_id, spec.to_dict(), now, None, next_run_at=due.timestamp())
    created: list[object] = []
    barrier = threading.Barrier(4)

    def race() -> None:
        job = job_repository.get_job(task_id, job_id)
        assert job is not None
        barrier.wait()
        created.append(schedules.materialize(job, due - timedelta(seconds=30)))

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [execution for execution in created if execution is not None]
    assert len(winners) == 1
    # Made ahead of its instant: ``scheduled``, neither listed nor counted until a runner claims it.
    assert execution_repository.list_executions(task_id, job_id, 1, 20) == []
    ahead = execution_repository.scheduled_executions(task_id, job_id)
    assert [e.execution_id for e in ahead] == [winners[0].execution_id]  # type: ignore[attr-defined]
    job = job_repository.get_job(task_id, job_id)
    assert job is not None and job.execution_count == 0 and job.last_execution_id is None
    assert job.next_run_at == (due + timedelta(minutes=1)).timestamp()
    # Clean up: a stop deletes it, never started (its early message is handed back meanwhile).
    stopping.stop_job(task_id, job_id)
    assert execution_repository.get_execution(job_id, ahead[0].execution_id, consistent=True) is None


def _scheduled_execution(task_id: str) -> tuple[str, str]:
    """A cron job whose next instant (in 30 min) the dispatcher made ahead: ``scheduled``."""
    from datetime import timedelta

    from chalicelib.services import schedules

    spec = parse_job({"image": TEST_IMAGE, "command": "true", "cron": "*/30 * * * *"})
    job_id = str(uuid.uuid4())
    now = utcnow()
    due = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    job_repository.save_job(task_id, job_id, spec.to_dict(), now, None, next_run_at=due.timestamp())
    job = job_repository.get_job(task_id, job_id)
    assert job is not None
    made = schedules.materialize(job, due - timedelta(seconds=30))
    assert made is not None and made.status == "scheduled"
    return job_id, made.execution_id


def test_racing_claims_of_a_scheduled_execution_count_it_once(stack: StackProcess, task_id: str) -> None:
    job_id, execution_id = _scheduled_execution(task_id)
    results: list[execution_repository.Claim] = []
    barrier = threading.Barrier(4)

    def claim(host: str, hinted: bool) -> None:
        barrier.wait()
        # Half of them with the runner's hint (the task id of a message ahead of its instant).
        hint = task_id if hinted else None
        results.append(execution_repository.claim(job_id, execution_id, host, None, f"message-{host}", task_id=hint))

    threads = [threading.Thread(target=claim, args=(f"host-{n}", n % 2 == 0)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [result for result in results if result.claimed]
    assert len(winners) == 1 and winners[0].execution is not None
    stored = execution_repository.get_execution(job_id, execution_id, consistent=True)
    assert stored is not None and stored.status == "pulling" and stored.host == winners[0].execution.host
    assert stored.awaiting_shard is None and stored.active_shard is not None
    job = job_repository.get_job(task_id, job_id)
    assert job is not None and (job.execution_count, job.last_execution_id) == (1, execution_id)
    assert [e.execution_id for e in execution_repository.list_executions(task_id, job_id, 1, 20)] == [execution_id]
    assert execution_repository.finish_execution(stored, {"status": "stopped", "finished_at": utcnow()})


def test_a_hinted_claim_of_an_enqueued_execution_still_claims_it_and_counts_nothing_more(
    stack: StackProcess, task_id: str
) -> None:
    job_id, execution_id = _saved_execution(task_id)

    claim = execution_repository.claim(job_id, execution_id, "host-1", None, "message-1", task_id=task_id)

    assert claim.claimed and claim.execution is not None and claim.execution.status == "pulling"
    job = job_repository.get_job(task_id, job_id)
    assert job is not None and job.execution_count == 1


def test_a_stop_racing_the_claim_of_a_scheduled_execution_either_deletes_it_or_stops_it(
    stack: StackProcess, task_id: str
) -> None:
    job_id, execution_id = _scheduled_execution(task_id)
    ahead = execution_repository.get_execution(job_id, execution_id, consistent=True)
    assert ahead is not None
    barrier = threading.Barrier(2)
    claims: list[execution_repository.Claim] = []

    def claim() -> None:
        barrier.wait()
        claims.append(execution_repository.claim(job_id, execution_id, "host-1", None, "message-1"))

    thread = threading.Thread(target=claim)
    thread.start()
    barrier.wait()
    stopping.request_stop(ahead, utcnow())
    thread.join()

    stored = execution_repository.get_execution(job_id, execution_id, consistent=True)
    job = job_repository.get_job(task_id, job_id)
    assert job is not None
    if claims[0].claimed:
        # The claim won: a run, counted, with the stop asked of its runner.
        assert stored is not None and stored.status == "pulling" and stored.stop_requested is True
        assert job.execution_count == 1
        execution_repository.finish_execution(stored, {"status": "stopped", "finished_at": utcnow()})
    else:
        # The stop won: gone, never counted, and the claim found nothing.
        assert stored is None and claims[0].execution is None and job.execution_count == 0
    job_repository.cancel_schedule(job, utcnow())


def test_replacing_a_job_keeps_the_counters_other_writers_added_meanwhile(
    stack: StackProcess, task_id: str, monkeypatch
) -> None:
    job_id, execution_id = _saved_execution(task_id)
    stale = job_repository.get_job(task_id, job_id)
    assert stale is not None and stale.execution_count == 1
    # Between the PUT's read and its write, a run ends with a retry (runs and retries + 1).
    execution = execution_repository.get_execution(job_id, execution_id, consistent=True)
    assert execution is not None
    assert execution_repository.claim(job_id, execution_id, "host-a", None, "message-1").claimed
    spec = parse_job({"image": TEST_IMAGE, "command": "true", "retries": 1})
    retry = new_execution(task_id, job_id, spec, utcnow(), attempt=1, retry_of=execution_id)
    assert execution_repository.finish_execution(execution, {"status": "failed", "finished_at": utcnow()}, retry)
    monkeypatch.setattr(job_repository, "get_job", lambda *_: stale)

    replaced = parse_job({"image": TEST_IMAGE, "command": "echo replaced"})
    job_repository.save_job(
        task_id, job_id, replaced.to_dict(), utcnow(), None, next_run_at=utcnow().timestamp() + 3600
    )

    monkeypatch.undo()
    job = job_repository.get_job(task_id, job_id)
    assert job is not None
    assert job.spec["command"] == "echo replaced"
    assert (job.execution_count, job.retry_count) == (2, 1)
    assert job.last_execution_id == retry.execution_id


def test_a_tasks_job_ids_page_by_key_without_reading_the_jobs(stack: StackProcess, task_id: str) -> None:
    for _ in range(5):
        _saved_execution(task_id)

    pages = [job_repository.list_job_ids(task_id, page, 2) for page in (1, 2, 3, 4)]

    assert [len(page) for page in pages] == [2, 2, 1, 0]
    listed = [job_id for page in pages for job_id in page]
    assert sorted(listed) == listed  # key order: one Query, continued
    assert len(set(listed)) == 5
