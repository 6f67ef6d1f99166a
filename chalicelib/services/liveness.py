"""No execution stays ``running`` forever: executions whose runner went silent are ended, and
no clock but the reaper's own decides it.

A runner beats on every execution it holds every ``execution_heartbeat_seconds``: it writes
``heartbeat_at`` (its own clock) and adds one to ``beats``. ``reap`` (run by each dispatcher
tick and, between beats, by every live runner, so a dead host is noticed even where the
dispatcher ticks once a minute) never compares another host's clock with its own. It watches:

- Candidates: the held executions whose ``heartbeat_at`` looks older than
  ``execution_stale_seconds / reap_candidate_factor`` by its clock (one Query per shard of the
  sparse ``by-heartbeat`` index), those it already watches, and, every ``reap_sweep_seconds``
  and on its first pass, every held execution (so a dead runner whose clock was far ahead is
  found too). A reaper whose clock is off reads more candidates; it ends none for that.
- For each, the beat token (``beats`` and ``heartbeat_at``) is compared with what this reaper
  recorded on the execution (``watches[reaper]``: the token and when, by the reaper's clock, it
  first saw it). A new token is recorded; the same token seen for ``execution_stale_seconds``
  by this same reaper ends the run ``failed`` (``ending.end_run``: retried when it has retries
  left), with an ``error`` naming the silent runner.

Timeline of the race this guards against::

    reaper reads heartbeat h ─────────────── reaper writes "failed" if heartbeat is still h
              runner (back from a pause) beats h' ──┘ → the reaper's write fails; the run goes on

and the other way round: once the reaper has written, the runner's next beat and its own finish
are refused (both need the run still active on its host), so exactly one of them ends it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.adapters import execution_repository, job_repository
from chalicelib.adapters.models import ExecutionModel
from chalicelib.domain.clock import utcnow
from chalicelib.domain.payload import JobSpec
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import log_replay
from chalicelib.services.ending import end_run
from chalicelib.services.executions import send
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)


@dataclass
class _Seen:
    """A beat token as this reaper saw it, and since when (the reaper's epoch seconds)."""

    token: str
    since: float
    # Looked at again on every pass: a candidate by its heartbeat time, or a token unchanged.
    recheck: bool


@dataclass
class _Memory:
    """What one reaper process keeps between passes. Memory first, so a healthy run costs no
    write even when this reaper's clock makes every run a candidate; the watch recorded on the
    execution (``watches[reaper]``) is written only on a candidate's first sight, so a reaper
    that restarts (a cold Lambda) picks up where its previous life was."""

    seen: dict[tuple[str, str], _Seen] = field(default_factory=dict)
    # time.monotonic() after which the next pass looks at every held execution.
    next_sweep: float = 0.0


_MEMORY: dict[str, _Memory] = {}


def reap(now: datetime | None = None, reaper: str = "dispatcher", sweep: bool | None = None) -> list[str]:
    """End the executions on which ``reaper`` saw no new beat for ``execution_stale_seconds``
    by its own clock (``now``); answers their ids. ``sweep`` True also looks at every held
    execution, False only at the candidates; None: every ``reap_sweep_seconds``."""
    settings = get_settings()
    now = now or utcnow()
    memory = _MEMORY.setdefault(reaper, _Memory())
    if sweep is None:
        sweep = time.monotonic() >= memory.next_sweep
    if sweep:
        memory.next_sweep = time.monotonic() + settings.reap_sweep_seconds
    before = now.timestamp() - settings.execution_stale_seconds / settings.reap_candidate_factor
    by_time = execution_repository.silent_executions(before)
    candidates = set(by_time)
    swept = execution_repository.silent_executions(None) if sweep else []
    if sweep:
        # Forget what is no longer held (ended since the last sweep).
        held = set(swept)
        memory.seen = {key: seen for key, seen in memory.seen.items() if key in held}
    rechecked = [key for key, seen in memory.seen.items() if seen.recheck]
    ended: list[str] = []
    for key in dict.fromkeys([*by_time, *rechecked, *swept]):
        execution = execution_repository.get_execution(*key, consistent=True)
        if execution is None or not is_held(execution):
            memory.seen.pop(key, None)
            continue
        silent_since = _look(memory, key, execution, reaper, now, candidate=key in candidates, swept=sweep)
        if silent_since is None:
            continue
        error = silence_error(execution, now.timestamp() - silent_since, reaper)
        if give_up(execution, now, error, heartbeat_at=float(execution.heartbeat_at)):
            memory.seen.pop(key, None)
            ended.append(execution.execution_id)
    return ended


def _look(
    memory: _Memory,
    key: tuple[str, str],
    execution: ExecutionModel,
    reaper: str,
    now: datetime,
    candidate: bool,
    swept: bool,
) -> float | None:
    """Compare the run's beat token with what this reaper saw before; answers since when it is
    silent once the same token was seen for ``execution_stale_seconds``, else None.

    A new token is looked at again on the next pass when the run is a candidate by its
    heartbeat time or was found by a sweep (a run that beats drops out at that look), and
    recorded on the execution only for a candidate seen the first time.
    """
    token = beat_token(execution)
    seen = memory.seen.get(key)
    if seen is None:
        recorded = watch_of(execution, reaper)
        if recorded is not None:
            seen = _Seen(str(recorded.get("token")), float(recorded.get("since", now.timestamp())), candidate)
    if seen is not None and seen.token == token:
        seen.recheck = True
        memory.seen[key] = seen
        if now.timestamp() - seen.since >= get_settings().execution_stale_seconds:
            return seen.since
        return None
    first_sight = key not in memory.seen
    memory.seen[key] = _Seen(token, now.timestamp(), recheck=candidate or swept)
    if candidate and first_sight:
        execution_repository.record_watch(execution, reaper, token, now.timestamp())
    return None


def is_held(execution: ExecutionModel) -> bool:
    """Still held by a runner (pulling or running, in the by-heartbeat index, with a heartbeat)."""
    return (
        ExecutionStatus(execution.status).is_active
        and execution.active_shard is not None
        and execution.heartbeat_at is not None
    )


def beat_token(execution: ExecutionModel) -> str:
    """What changes with every heartbeat: the beat count and the heartbeat's value."""
    return f"{int(execution.beats or 0)}@{float(execution.heartbeat_at or 0):.3f}"


def watch_of(execution: ExecutionModel, reaper: str) -> dict[str, Any] | None:
    """What ``reaper`` recorded on the execution: {"token", "since"}, or None."""
    watches: Any = execution.watches
    if watches is None:
        return None
    entries = watches.as_dict() if hasattr(watches, "as_dict") else dict(watches)
    entry = entries.get(reaper)
    return dict(entry) if entry is not None else None


def silence_error(execution: ExecutionModel, silent_for: float, reaper: str) -> str:
    return (
        f"runner {execution.host} stopped heart-beating: no new heartbeat for {silent_for:.0f} s "
        f"(as seen by {reaper}); its host is presumed gone"
    )


def give_up(execution: ExecutionModel, now: datetime, error: str, heartbeat_at: float | None = None) -> bool:
    """End a held execution that has no outcome: ``failed`` (retried when owed), or ``stopped``
    when a stop had been asked for. False when it had already ended or changed hands."""
    status = ExecutionStatus.STOPPED if execution.stop_requested else ExecutionStatus.FAILED
    job = job_repository.get_job(execution.task_id, execution.job_id)
    spec = JobSpec.from_dict(job.spec) if job is not None else None
    values = {"finished_at": now, "error": error}
    if not end_run(execution, status, values, job, spec, now, heartbeat_at=heartbeat_at).ended:
        return False
    logger.warning("execution %s ended %s: %s", execution.execution_id, status.value, error)
    # Live viewers learn of this end as of any other (webhooks and e-mails did, in end_run).
    try:
        log_replay.close_viewers(execution)
    except Exception:
        logger.exception("could not close the live viewers of %s", execution.execution_id)
    return True


def give_back(execution: ExecutionModel, host: str, now: datetime) -> bool:
    """Put an execution ``host`` holds but never ran (or gave up mid-run) back in the queue."""
    if not execution_repository.hand_back(execution, host, now):
        return False
    send(execution, now)
    logger.info("execution %s handed back to the queue by %s", execution.execution_id, host)
    return True
