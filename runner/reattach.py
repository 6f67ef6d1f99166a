"""Self-healing after a restart: a runner killed mid-run (``kill -9``, a crash, a reboot) loses
nothing.

Before it takes new work, a (re)starting runner looks for what a previous life of itself left,
by the container labels of its stage and host id (``settings.runner_host``, stable across
restarts) and by the executions the table says it holds:

===============================================  =============================================
found                                             done
===============================================  =============================================
container of an execution still held here,        re-attached: its output is read again from
running or exited                                 the start and the run ends as usual (exit
                                                  code, logs to S3, retry when owed)
container made but never started                  removed; the execution goes back to the queue
container of an execution that ended or that      removed (nothing to do: its outcome is
another runner holds                              already stored, or is another runner's)
execution held here, still ``pulling``, no        back to the queue: the runner died between
container                                         the claim and the container's creation
execution held here, ``running``, no container    ``failed`` (retried when owed): its container
                                                  was removed while no runner watched it
===============================================  =============================================

The redelivered SQS message of a re-attached run finds it running here and is deleted
(``Runner._already_here``); on any other runner its claim fails and the message is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.adapters import execution_repository
from chalicelib.adapters.models import ExecutionModel
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.services import liveness
from chalicelib.settings import Settings
from runner import labels
from runner.docker_engine import DockerEngine, EngineError

logger = logging.getLogger(__name__)

Resume = Callable[[ExecutionModel, str], None]


@dataclass
class Recovery:
    resumed: list[str] = field(default_factory=list)
    handed_back: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def recover(settings: Settings, engine: DockerEngine, resume: Resume, clock: Callable[[], datetime]) -> Recovery:
    """Settle what a previous life of this runner left; ``resume`` follows a container to its end."""
    report = Recovery()
    host = settings.runner_host
    with_container: set[str] = set()
    for container in engine.find(labels.of_this_host(settings)):
        owner = labels.owner(settings, container.labels)
        if owner is None:
            continue
        with_container.add(owner.execution_id)
        execution = execution_repository.get_execution(owner.job_id, owner.execution_id, consistent=True)
        if execution is None or not _held_here(execution, host):
            _remove(engine, container.id)
            report.removed.append(container.id)
        elif container.state == "created":
            _remove(engine, container.id)
            if liveness.give_back(execution, host, clock()):
                report.handed_back.append(execution.execution_id)
        else:
            logger.info("re-attaching to execution %s (container %s)", execution.execution_id, container.id[:12])
            resume(execution, container.id)
            report.resumed.append(execution.execution_id)
    for job_id, execution_id in execution_repository.held_by(host):
        if execution_id in with_container:
            continue
        execution = execution_repository.get_execution(job_id, execution_id, consistent=True)
        if execution is None or not _held_here(execution, host):
            continue
        if execution.status == ExecutionStatus.PULLING.value:
            if liveness.give_back(execution, host, clock()):
                report.handed_back.append(execution_id)
        elif liveness.give_up(
            execution, clock(), f"its container disappeared while runner {host} was down; the run's outcome is lost"
        ):
            report.given_up.append(execution_id)
    if report.resumed or report.handed_back or report.given_up or report.removed:
        logger.warning(
            "recovered after a restart: %d re-attached, %d handed back, %d failed, %d leftover container(s) removed",
            len(report.resumed),
            len(report.handed_back),
            len(report.given_up),
            len(report.removed),
        )
    return report


def _held_here(execution: ExecutionModel, host: str) -> bool:
    return ExecutionStatus(execution.status).is_active and execution.host == host


def _remove(engine: DockerEngine, container_id: str) -> None:
    try:
        engine.remove(container_id)
    except EngineError:
        logger.exception("could not remove leftover container %s; `python -m runner prune` will", container_id)
