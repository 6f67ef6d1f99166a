"""The labels on every container the runner starts: how a restarted runner, ``prune`` and the
tests find the containers of one deployment, one host and one execution again.

``<prefix>.stage``, ``<prefix>.host``, ``<prefix>.task``, ``<prefix>.job`` and
``<prefix>.execution`` (prefix: ``settings.container_label_prefix``, ``slipway`` by default).
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.adapters.models import ExecutionModel
from chalicelib.settings import Settings


def container_name(settings: Settings, execution_id: str) -> str:
    return f"{settings.container_label_prefix}-{execution_id}"


def for_execution(settings: Settings, execution: ExecutionModel) -> dict[str, str]:
    prefix = settings.container_label_prefix
    return {
        f"{prefix}.stage": settings.stage,
        f"{prefix}.host": settings.runner_host,
        f"{prefix}.task": execution.task_id,
        f"{prefix}.job": execution.job_id,
        f"{prefix}.execution": execution.execution_id,
    }


def of_stage(settings: Settings) -> dict[str, str]:
    """Selects the containers of this deployment, on whatever runner host made them."""
    return {f"{settings.container_label_prefix}.stage": settings.stage}


def of_this_host(settings: Settings) -> dict[str, str]:
    """Selects the containers this runner host made for this deployment."""
    return {**of_stage(settings), f"{settings.container_label_prefix}.host": settings.runner_host}


@dataclass(frozen=True)
class Owner:
    """The execution a container was made for, read back from its labels."""

    task_id: str
    job_id: str
    execution_id: str
    host: str


def owner(settings: Settings, container_labels: dict[str, str]) -> Owner | None:
    """The execution the labels name, or None when they name none (not a container of ours)."""
    prefix = settings.container_label_prefix
    try:
        return Owner(
            task_id=container_labels[f"{prefix}.task"],
            job_id=container_labels[f"{prefix}.job"],
            execution_id=container_labels[f"{prefix}.execution"],
            host=container_labels.get(f"{prefix}.host", ""),
        )
    except KeyError:
        return None
