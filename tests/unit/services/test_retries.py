"""services.retries.plan_retry: which end owes a retry, and when it is due."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services.retries import plan_retry
from tests.fakes.items import NOW, a_job, an_execution, spec_of


def test_a_failure_with_retries_left_owes_one_after_the_back_off() -> None:
    spec = spec_of(retries=3, retryBackoff={"minMs": 2000, "factor": 3})
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.RUNNING)
    execution.attempt = 1
    execution.request_ip = "203.0.113.7"

    retry = plan_retry(execution, ExecutionStatus.FAILED, job, spec, NOW)

    assert retry is not None
    assert (retry.attempt, retry.retry_of, retry.request_ip) == (2, execution.execution_id, "203.0.113.7")
    assert retry.scheduled_for == NOW + timedelta(seconds=6)  # 2 s x 3 for the second retry
    assert retry.dispatch_at == retry.scheduled_for.timestamp()
    # Derived from the failed run: planning it again names the same execution.
    again = plan_retry(execution, ExecutionStatus.FAILED, job, spec, NOW)
    assert again is not None and again.execution_id == retry.execution_id


def test_a_timeout_is_retried_too() -> None:
    spec = spec_of(retries=1)
    job = a_job(spec)

    assert plan_retry(an_execution(spec, job), ExecutionStatus.TIMEDOUT, job, spec, NOW) is not None


def test_success_stop_and_spent_retries_owe_none() -> None:
    spec = spec_of(retries=1)
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.RUNNING)

    assert plan_retry(execution, ExecutionStatus.DONE, job, spec, NOW) is None
    assert plan_retry(execution, ExecutionStatus.STOPPED, job, spec, NOW) is None
    execution.attempt = 1
    assert plan_retry(execution, ExecutionStatus.FAILED, job, spec, NOW) is None


def test_a_job_stopped_after_the_run_was_made_owes_none() -> None:
    spec = spec_of(retries=5)
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.RUNNING)
    job.stopped_at = execution.created_at + timedelta(seconds=1)

    assert plan_retry(execution, ExecutionStatus.FAILED, job, spec, NOW) is None
    job.stopped_at = execution.created_at - timedelta(seconds=1)
    assert plan_retry(execution, ExecutionStatus.FAILED, job, spec, NOW) is not None
