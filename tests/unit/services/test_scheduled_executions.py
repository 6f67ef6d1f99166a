"""Executions made ahead of their instants (``scheduled``): not listed, not counted and never a
job's "last execution" until a runner claims them; promoted when their message is late;
cancelled (deleted) by a stop or a PUT."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.adapters.models import DUE_SHARD, awaiting_shard
from chalicelib.domain.ids import derived_execution_id
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.domain.urls import Urls
from chalicelib.services import dispatcher, jobs, lookups, outputs, queries, stopping
from chalicelib.services.dispatcher import TickReport
from chalicelib.settings import get_settings
from tests.fakes.installed import Fakes
from tests.fakes.items import HOST, JOB, NOW, TASK, a_job, an_execution, spec_of

URLS = Urls("http://api.test")
SPEC = spec_of(cron="* * * * *")
DUE = NOW.replace(second=0) + timedelta(minutes=1)  # 53 s after NOW


def _cron_job_with_a_past_run(fakes: Fakes) -> str:
    """A ``* * * * *`` job due at DUE whose last run (done, log "first") is in the tables."""
    job = a_job(SPEC, scheduled=True, next_run_at=DUE.timestamp(), due_shard=DUE_SHARD)
    past = an_execution(SPEC, job, ExecutionStatus.DONE)
    # An id of its own time (a fresh one would be of the real clock, later than the test's NOW).
    past.execution_id = derived_execution_id(JOB, int((NOW - timedelta(minutes=2)).timestamp() * 1000), "test")
    past.log = "first\n"
    job.execution_count, job.last_execution_id = 1, past.execution_id
    fakes.tables.put(job, past)
    return past.execution_id


def _ticked(fakes: Fakes) -> str:
    """One dispatcher tick before DUE: the id of the execution it made ahead."""
    (made,) = dispatcher.tick(NOW).created
    return made


def test_an_execution_made_ahead_is_not_listed_counted_or_last_until_due(fakes: Fakes) -> None:
    past_id = _cron_job_with_a_past_run(fakes)

    ahead_id = _ticked(fakes)

    assert fakes.tables.stored(JOB, ahead_id).status == ExecutionStatus.SCHEDULED.value
    job = queries.job_details(TASK, JOB, 1, URLS)["job"]
    assert [e["executionId"] for e in job["executions"]] == [past_id]
    assert job["executionCount"] == 1 and job["executionsPagination"]["total"] == 1
    # The job still says it runs next at DUE, though its schedule moved on to the tick after.
    assert job["scheduled"] is True and job["nextRunAt"] == DUE.strftime("%Y-%m-%dT%H:%M:%S.%f")
    _, last = lookups.require_latest_execution(TASK, JOB)
    assert last.execution_id == past_id
    assert outputs.combined(last).text == "first\n" + outputs.LOG_SEPARATOR
    # By its id it still answers, with its status and due instant.
    details = queries.execution_details(TASK, JOB, ahead_id, URLS)["execution"]
    assert details["status"] == "scheduled" and details["dueAt"] == DUE.strftime("%Y-%m-%dT%H:%M:%S.%f")


def test_its_claim_makes_it_a_run_counted_and_last(fakes: Fakes) -> None:
    _cron_job_with_a_past_run(fakes)
    ahead_id = _ticked(fakes)

    claim = fakes.tables.claim(JOB, ahead_id, HOST, None, "m-1")

    assert claim.claimed and claim.execution is not None
    assert claim.execution.status == ExecutionStatus.PULLING.value
    stored = fakes.tables.stored(JOB, ahead_id)
    assert (stored.status, stored.host, stored.awaiting_shard) == ("pulling", HOST, None)
    job = fakes.tables.jobs[TASK, JOB]
    assert (job.execution_count, job.last_execution_id) == (2, ahead_id)
    assert queries.job_details(TASK, JOB, 1, URLS)["job"]["executions"][0]["executionId"] == ahead_id
    # A duplicate delivery's claim finds it held and counts nothing more.
    assert not fakes.tables.claim(JOB, ahead_id, "runner-2", None, "m-1").claimed
    assert fakes.tables.jobs[TASK, JOB].execution_count == 2


def test_a_late_one_is_made_enqueued_by_the_reconciler_only_past_its_grace(fakes: Fakes) -> None:
    _cron_job_with_a_past_run(fakes)
    ahead_id = _ticked(fakes)
    grace = get_settings().scheduled_promote_after_seconds

    early, late = TickReport(), TickReport()
    dispatcher.reconcile(DUE + timedelta(seconds=grace - 1), early)
    assert early.promoted == [] and fakes.tables.stored(JOB, ahead_id).status == "scheduled"
    dispatcher.reconcile(DUE + timedelta(seconds=grace + 1), late)

    assert late.promoted == [ahead_id] and late.resent == []
    stored = fakes.tables.stored(JOB, ahead_id)
    assert (stored.status, stored.awaiting_shard) == ("enqueued", awaiting_shard(ahead_id))
    job = queries.job_details(TASK, JOB, 1, URLS)["job"]
    assert job["executionCount"] == 2 and job["executions"][0]["status"] == "enqueued"
    # Once promoted it is an ordinary waiting run: resent when its message counts as lost.
    resend = TickReport()
    dispatcher.reconcile(DUE + timedelta(seconds=get_settings().reconcile_after_seconds + 1), resend)
    assert resend.resent == [ahead_id] and resend.promoted == []
    assert fakes.tables.claim(JOB, ahead_id, HOST, None, "m-2").claimed
    assert fakes.tables.jobs[TASK, JOB].execution_count == 2


def test_stopping_the_job_deletes_its_scheduled_runs_and_their_message_finds_nothing(fakes: Fakes) -> None:
    past_id = _cron_job_with_a_past_run(fakes)
    ahead_id = _ticked(fakes)

    stopping.stop_job(TASK, JOB)

    assert [e.execution_id for e in fakes.tables.executions_of(JOB)] == [past_id]
    assert fakes.notification_queue.published == []  # never a run: no "finishes" for it
    claim = fakes.tables.claim(JOB, ahead_id, HOST, None, "m-1")
    assert not claim.claimed and claim.execution is None
    job = fakes.tables.jobs[TASK, JOB]
    assert (job.execution_count, job.last_execution_id, job.next_run_at) == (1, past_id, None)


def test_a_stop_that_races_its_claim_stops_it_on_its_runner(fakes: Fakes) -> None:
    _cron_job_with_a_past_run(fakes)
    ahead_id = _ticked(fakes)
    read_before_the_claim = fakes.tables.get_execution(JOB, ahead_id)
    assert read_before_the_claim is not None
    assert fakes.tables.claim(JOB, ahead_id, HOST, None, "m-1").claimed

    stopping.request_stop(read_before_the_claim, NOW)

    assert fakes.tables.stored(JOB, ahead_id).stop_requested is True
    assert fakes.control.stops == [(HOST, ahead_id)]


def test_a_start_in_within_the_look_ahead_is_scheduled_and_shows_when_it_runs(fakes: Fakes) -> None:
    enqueued = jobs.enqueue(TASK, {"image": "busybox", "command": "true", "startIn": "30s"}, job_id=JOB, now=NOW)

    (ahead,) = fakes.tables.executions_of(JOB)
    assert enqueued.execution_id is None and ahead.status == "scheduled"
    job = queries.job_details(TASK, JOB, 1, URLS)["job"]
    assert job["executions"] == [] and job["executionCount"] == 0
    assert job["scheduled"] is True
    assert job["nextRunAt"] == (NOW + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.%f")


def test_one_handed_back_for_lack_of_a_slot_keeps_its_instant_and_shows_as_waiting_past_it(fakes: Fakes) -> None:
    _cron_job_with_a_past_run(fakes)
    ahead_id = _ticked(fakes)
    grace = get_settings().scheduled_promote_after_seconds

    # A runner without a free slot hands its message back, due again in 20 s.
    handed_back = fakes.tables.mark_redispatched(
        fakes.tables.stored(JOB, ahead_id), (DUE + timedelta(seconds=20)).timestamp()
    )
    report = TickReport()
    dispatcher.reconcile(DUE + timedelta(seconds=grace + 1), report)

    assert not handed_back and report.promoted == [ahead_id]
    assert queries.job_details(TASK, JOB, 1, URLS)["job"]["executions"][0]["status"] == "enqueued"


def test_the_job_websocket_and_stream_page_follow_the_previous_run_not_the_scheduled_one(fakes: Fakes) -> None:
    from chalicelib.api import stream_page
    from chalicelib.services import live_logs

    past_id = _cron_job_with_a_past_run(fakes)
    ahead_id = _ticked(fakes)

    connected = live_logs.record("viewer-1", TASK, JOB)
    page = stream_page.job_page(TASK, JOB)

    assert connected.execution.execution_id == past_id and fakes.connections.viewers(past_id) == ["viewer-1"]
    assert fakes.connections.viewers(ahead_id) == []
    assert f"/executions/{past_id}/" in page and ahead_id not in page
