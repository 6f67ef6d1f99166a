"""services.jobs.run_now: one execution now, with env and command overrides for it alone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.errors import NotFound, ValidationError
from chalicelib.domain.overrides import RunOverrides
from chalicelib.domain.payload import JobSpec
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.domain.urls import Urls
from chalicelib.services import jobs, suspension
from chalicelib.services.retries import plan_retry
from chalicelib.services.views import execution as execution_view
from chalicelib.settings import get_settings
from tests.fakes.installed import Fakes
from tests.fakes.items import JOB, NOW, TASK

BODY = {"image": "busybox", "command": "echo usual", "envs": {"MODE": "full", "KEEP": "yes"}, "retries": 1}


def test_overrides_are_stored_on_the_execution_and_the_job_is_left_as_it_was(fakes: Fakes) -> None:
    jobs.enqueue(TASK, {**BODY, "startIn": "1h"}, job_id=JOB, now=NOW)
    before = dict(fakes.tables.jobs[TASK, JOB].spec)

    enqueued = jobs.run_now(TASK, JOB, RunOverrides(env={"MODE": "dry"}, command="echo once"), now=NOW)

    assert enqueued.execution_id is not None
    execution = fakes.tables.stored(JOB, enqueued.execution_id)
    assert execution.command == "echo once" and execution.scheduled_for is None
    assert execution.overrides == {"env": {"MODE": "dry"}, "command": "echo once"}
    assert fakes.job_queue.sent_ids() == [enqueued.execution_id]
    job = fakes.tables.jobs[TASK, JOB]
    assert job.spec == before and job.next_run_at == (NOW + timedelta(hours=1)).timestamp()
    assert job.last_execution_id == enqueued.execution_id


def test_without_overrides_it_runs_the_job_as_defined(fakes: Fakes) -> None:
    jobs.enqueue(TASK, {**BODY, "startIn": "1h"}, job_id=JOB, now=NOW)

    enqueued = jobs.run_now(TASK, JOB, RunOverrides(), now=NOW)

    assert enqueued.execution_id is not None
    execution = fakes.tables.stored(JOB, enqueued.execution_id)
    assert (execution.command, execution.overrides) == ("echo usual", None)


def test_a_suspended_cron_can_still_be_run_now_and_stays_suspended(fakes: Fakes) -> None:
    jobs.enqueue(TASK, {**BODY, "cron": "0 3 * * *"}, job_id=JOB, now=NOW)
    suspension.suspend(TASK, JOB, now=NOW)

    enqueued = jobs.run_now(TASK, JOB, RunOverrides(command="echo manual"), now=NOW)

    assert fakes.tables.stored(JOB, enqueued.execution_id or "").status == ExecutionStatus.ENQUEUED.value
    assert fakes.tables.jobs[TASK, JOB].suspended is True


def test_a_retry_of_an_overridden_run_keeps_its_overrides(fakes: Fakes) -> None:
    jobs.enqueue(TASK, {**BODY, "startIn": "1h"}, job_id=JOB, now=NOW)
    enqueued = jobs.run_now(TASK, JOB, RunOverrides(env={"MODE": "dry"}), now=NOW)
    execution = fakes.tables.stored(JOB, enqueued.execution_id or "")
    job = fakes.tables.jobs[TASK, JOB]

    retry = plan_retry(execution, ExecutionStatus.FAILED, job, JobSpec.from_dict(job.spec), NOW)

    assert retry is not None and retry.overrides == {"env": {"MODE": "dry"}}


def test_secret_override_values_are_masked_in_the_execution_view(fakes: Fakes) -> None:
    jobs.enqueue(TASK, {**BODY, "startIn": "1h"}, job_id=JOB, now=NOW)
    enqueued = jobs.run_now(TASK, JOB, RunOverrides(env={"API_KEY": "s3cret", "MODE": "dry"}), now=NOW)

    view = execution_view(fakes.tables.stored(JOB, enqueued.execution_id or ""), Urls("http://x"))

    # Every value masked unless its name is on the visible list (none here), as the job's own envs.
    assert view["overrides"] == {"env": {"API_KEY": "***", "MODE": "***"}}


def test_overrides_that_would_not_fit_the_item_are_refused(fakes: Fakes) -> None:
    jobs.enqueue(TASK, {**BODY, "startIn": "1h"}, job_id=JOB, now=NOW)
    huge = "x" * (get_settings().max_job_bytes + 1)

    with pytest.raises(ValidationError):
        jobs.run_now(TASK, JOB, RunOverrides(env={"BIG": huge}), now=NOW)
    assert fakes.tables.executions_of(JOB) == []


def test_an_unknown_job_is_not_found(fakes: Fakes) -> None:
    with pytest.raises(NotFound):
        jobs.run_now(TASK, JOB, RunOverrides(), now=NOW)
