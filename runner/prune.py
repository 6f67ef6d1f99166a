"""``python -m runner prune``: remove the containers of this deployment that nothing needs.

The runner removes each container once its results are stored; what remains comes from a
runner that died before removing it, or a removal that failed. A container is removed when its
execution has ended (its outcome is stored), and, with ``--dangling-after``, when it is older
than that and its execution is not held by any runner (it does not exist, or went back to the
queue). Containers of running executions are never touched, nor containers of other stages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chalicelib.adapters import execution_repository
from chalicelib.domain.clock import utcnow
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.settings import Settings
from runner import labels
from runner.docker_engine import DockerEngine, EngineError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pruned:
    container_id: str
    execution_id: str
    reason: str


def prune(
    settings: Settings,
    engine: DockerEngine,
    dangling_after: float | None = None,
    dry_run: bool = False,
    clock: Callable[[], datetime] = utcnow,
) -> list[Pruned]:
    """Remove (unless ``dry_run``) this stage's containers that nothing needs; answers them."""
    pruned: list[Pruned] = []
    now = clock()
    for container in engine.find(labels.of_stage(settings)):
        owner = labels.owner(settings, container.labels)
        if owner is None:
            continue
        reason = _why_removable(owner, (now - container.created).total_seconds(), dangling_after)
        if reason is None:
            continue
        if not dry_run:
            try:
                engine.remove(container.id)
            except EngineError:
                logger.exception("could not remove container %s", container.id)
                continue
        pruned.append(Pruned(container.id, owner.execution_id, reason))
    return pruned


def _why_removable(owner: labels.Owner, age: float, dangling_after: float | None) -> str | None:
    execution = execution_repository.get_execution(owner.job_id, owner.execution_id, consistent=True)
    if execution is not None:
        status = ExecutionStatus(execution.status)
        if status.is_finished:
            return f"execution {status.value}"
        if status.is_active:
            return None
    if dangling_after is None or age < dangling_after:
        return None
    return "no such execution" if execution is None else f"dangling: execution is {execution.status}"
