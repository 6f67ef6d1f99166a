"""services.liveness.reap: runs whose runner went silent are ended (and retried when owed); a
run whose runner beat again is kept; and no clock but the reaper's own decides it: a reaper
whose clock runs ahead ends no healthy run, a runner whose clock is off is still reaped when it
dies, within a bounded time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.adapters import execution_repository
from chalicelib.adapters.models import ExecutionModel
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import liveness
from chalicelib.settings import get_settings
from tests.fakes.installed import Fakes
from tests.fakes.items import HOST, JOB, NOW, TASK, a_job, an_execution, spec_of

REAPER = "reaper-1"


@pytest.fixture(autouse=True)
def fresh_reapers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with reapers that remember nothing (their process memory)."""
    monkeypatch.setattr(liveness, "_MEMORY", {})


def _stale() -> float:
    return float(get_settings().execution_stale_seconds)


def _held(fakes: Fakes, retries: int = 0, heartbeat_at: float | None = None) -> str:
    spec = spec_of(retries=retries)
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.RUNNING)
    execution.heartbeat_at = NOW.timestamp() - _stale() - 5 if heartbeat_at is None else heartbeat_at
    fakes.tables.put(job, execution)
    return execution.execution_id


def _reap_twice(reaper: str = REAPER) -> list[str]:
    """A first look, then one ``execution_stale_seconds`` later by the same reaper's clock."""
    assert liveness.reap(NOW, reaper=reaper, sweep=False) == []
    return liveness.reap(NOW + timedelta(seconds=_stale()), reaper=reaper, sweep=False)


def test_a_silent_run_with_retries_left_fails_and_is_retried(fakes: Fakes) -> None:
    execution_id = _held(fakes, retries=1)

    assert _reap_twice() == [execution_id]

    stored = fakes.tables.stored(JOB, execution_id)
    assert stored.status == ExecutionStatus.FAILED.value and stored.active_shard is None
    assert stored.error is not None and f"runner {HOST} stopped heart-beating" in stored.error
    assert f"as seen by {REAPER}" in stored.error
    (retry,) = [e for e in fakes.tables.executions_of(JOB) if e.retry_of == execution_id]
    assert (retry.status, retry.attempt) == (ExecutionStatus.ENQUEUED.value, 1)
    assert fakes.tables.jobs[TASK, JOB].retry_count == 1
    assert fakes.job_queue.sent_ids() == [retry.execution_id]
    assert fakes.tables.silent_executions(None) == []


def test_a_silent_run_without_retries_left_just_fails(fakes: Fakes) -> None:
    execution_id = _held(fakes, retries=0)

    assert _reap_twice() == [execution_id]

    assert [e.execution_id for e in fakes.tables.executions_of(JOB)] == [execution_id]
    assert fakes.job_queue.sent == []


def test_an_old_heartbeat_alone_ends_nothing_the_reaper_has_not_watched(fakes: Fakes) -> None:
    execution_id = _held(fakes, heartbeat_at=NOW.timestamp() - 3600)

    assert liveness.reap(NOW, reaper=REAPER, sweep=False) == []

    stored = fakes.tables.stored(JOB, execution_id)
    assert stored.status == ExecutionStatus.RUNNING.value
    assert liveness.watch_of(stored, REAPER) == {"token": liveness.beat_token(stored), "since": NOW.timestamp()}


def test_a_run_that_beat_between_two_looks_is_kept(fakes: Fakes) -> None:
    execution_id = _held(fakes)
    assert liveness.reap(NOW, reaper=REAPER, sweep=False) == []
    # Its runner, back from a pause, beats (with its clock, still far behind).
    assert fakes.tables.beat(JOB, execution_id, HOST, now=NOW.timestamp() - 3000)

    assert liveness.reap(NOW + timedelta(seconds=_stale()), reaper=REAPER, sweep=False) == []
    assert fakes.tables.stored(JOB, execution_id).status == ExecutionStatus.RUNNING.value


def test_watches_are_per_reaper_so_two_reapers_never_shorten_each_others_wait(fakes: Fakes) -> None:
    execution_id = _held(fakes)
    assert liveness.reap(NOW, reaper="a", sweep=False) == []
    later = NOW + timedelta(seconds=_stale() - 1)

    # Reaper "b" looks first just before "a"'s wait is over: its own wait starts then.
    assert liveness.reap(later, reaper="b", sweep=False) == []
    assert liveness.reap(later + timedelta(seconds=2), reaper="b", sweep=False) == []
    assert liveness.reap(later + timedelta(seconds=2), reaper="a", sweep=False) == [execution_id]


def test_a_restarted_reaper_goes_on_from_the_watch_it_recorded(fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    execution_id = _held(fakes)
    assert liveness.reap(NOW, reaper=REAPER, sweep=False) == []
    # A cold Lambda: the process memory is gone, the watch on the execution is not.
    monkeypatch.setattr(liveness, "_MEMORY", {})

    assert liveness.reap(NOW + timedelta(seconds=_stale()), reaper=REAPER, sweep=True) == [execution_id]


def test_a_run_whose_runner_beat_after_the_reaper_read_it_is_kept(fakes: Fakes) -> None:
    execution_id = _held(fakes, retries=1)
    read_by_reaper = fakes.tables.get_execution(JOB, execution_id)
    assert read_by_reaper is not None
    assert fakes.tables.beat(JOB, execution_id, HOST, now=NOW.timestamp())

    given_up = liveness.give_up(
        read_by_reaper,
        NOW,
        liveness.silence_error(read_by_reaper, _stale(), REAPER),
        heartbeat_at=read_by_reaper.heartbeat_at,
    )

    assert not given_up
    stored = fakes.tables.stored(JOB, execution_id)
    assert stored.status == ExecutionStatus.RUNNING.value and stored.heartbeat_at == NOW.timestamp()
    assert len(fakes.tables.executions_of(JOB)) == 1 and fakes.job_queue.sent == []


class Farm:
    """Simulated true time: a runner beating every ``execution_heartbeat_seconds`` by its own
    clock (``runner_offset`` from the truth) until it dies, and a reaper looking every
    ``reap_every`` seconds by its own clock (``reaper_offset``), sweeping every
    ``reap_sweep_seconds``."""

    def __init__(self, fakes: Fakes, runner_offset: float, reaper_offset: float, reap_every: float = 15.0) -> None:
        self.fakes = fakes
        self.runner_offset = runner_offset
        self.reaper_offset = reaper_offset
        self.reap_every = reap_every
        self.execution_id = _held(fakes, heartbeat_at=NOW.timestamp() + runner_offset)

    def run(self, seconds: float, dies_at: float | None = None) -> float | None:
        """Seconds of true time after which the run was reaped (None: it was not)."""
        settings = get_settings()
        next_beat, next_reap, next_sweep = 0.0, 0.0, 0.0
        for tick in range(int(seconds) + 1):
            t = float(tick)
            alive = dies_at is None or t < dies_at
            if alive and t >= next_beat:
                assert self.fakes.tables.beat(
                    JOB, self.execution_id, HOST, now=NOW.timestamp() + t + self.runner_offset
                )
                next_beat = t + settings.execution_heartbeat_seconds
            if t >= next_reap:
                sweep = t >= next_sweep
                if sweep:
                    next_sweep = t + settings.reap_sweep_seconds
                reaper_now = NOW + timedelta(seconds=t + self.reaper_offset)
                if liveness.reap(reaper_now, reaper=REAPER, sweep=sweep):
                    return t
                next_reap = t + self.reap_every
        return None


@pytest.mark.parametrize("reaper_offset", [30.0, 600.0], ids=["30 s fast", "10 min fast"])
def test_a_reaper_whose_clock_runs_ahead_ends_no_healthy_run(fakes: Fakes, reaper_offset: float) -> None:
    farm = Farm(fakes, runner_offset=0.0, reaper_offset=reaper_offset)

    assert farm.run(seconds=900) is None

    assert fakes.tables.stored(JOB, farm.execution_id).status == ExecutionStatus.RUNNING.value


def test_a_reaper_whose_clock_runs_ahead_writes_a_healthy_runs_watch_once(
    fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    farm = Farm(fakes, runner_offset=0.0, reaper_offset=600.0)
    writes: list[str] = []

    def counted(execution: ExecutionModel, reaper: str, token: str, since: float) -> bool:
        writes.append(token)
        return fakes.tables.record_watch(execution, reaper, token, since)

    monkeypatch.setattr(execution_repository, "record_watch", counted)

    assert farm.run(seconds=300) is None
    # Every run is a candidate by its heartbeat time; only the first sight is written.
    assert len(writes) == 1


@pytest.mark.parametrize(
    ("runner_offset", "reaper_offset"),
    [(0.0, 0.0), (-600.0, 0.0), (600.0, 0.0), (0.0, 30.0), (0.0, -600.0)],
    ids=["clocks agree", "runner 10 min slow", "runner 10 min fast", "reaper 30 s fast", "reaper 10 min slow"],
)
def test_a_dead_runner_is_reaped_within_a_bounded_time_whatever_the_clocks(
    fakes: Fakes, runner_offset: float, reaper_offset: float
) -> None:
    settings = get_settings()
    farm = Farm(fakes, runner_offset=runner_offset, reaper_offset=reaper_offset)
    dies_at = 60.0
    # Found by a sweep at the latest, then watched for the stale time, a look or two later.
    bound = settings.reap_sweep_seconds + settings.execution_stale_seconds + 2 * farm.reap_every

    reaped_at = farm.run(seconds=dies_at + bound + 1, dies_at=dies_at)

    assert reaped_at is not None, "the dead runner's run was never reaped"
    assert reaped_at - dies_at >= settings.execution_stale_seconds
    if runner_offset <= 0 and reaper_offset >= 0:
        # Its heartbeat looks old at once: no sweep needed.
        limit = settings.execution_stale_seconds * (1 + 1 / settings.reap_candidate_factor) + 2 * farm.reap_every
        assert reaped_at - dies_at <= limit
    assert fakes.tables.stored(JOB, farm.execution_id).status == ExecutionStatus.FAILED.value


def test_a_run_handed_back_goes_to_the_queue_again(fakes: Fakes) -> None:
    spec = spec_of()
    job = a_job(spec)
    execution = an_execution(spec, job, ExecutionStatus.PULLING)
    fakes.tables.put(job, execution)

    assert not liveness.give_back(execution, "another-host", NOW)
    assert liveness.give_back(execution, HOST, NOW)

    stored = fakes.tables.stored(JOB, execution.execution_id)
    assert (stored.status, stored.host, stored.active_shard) == (ExecutionStatus.ENQUEUED.value, None, None)
    assert fakes.job_queue.sent_ids() == [execution.execution_id]
    assert fakes.tables.held_by(HOST) == []
