"""Pools of Docker hosts: which pool a task runs in, and each pool's limits (pure: no I/O).

A pool is declared in ``settings.pools``; its runners announce themselves with
``SLIPWAY_RUNNER_POOL`` and poll the pool's own SQS queue, so routing a task to a pool is
choosing the queue its messages go to.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.domain.errors import ValidationError
from chalicelib.domain.registries import RegistryConfigError, parse_registries
from chalicelib.domain.sandbox import Sandbox, SandboxConfigError, parse_sandbox

if TYPE_CHECKING:
    from chalicelib.settings import Settings

DEFAULT_POOL = "default"


class PoolConfigError(ValueError):
    """``settings.pools`` is not a valid pool list."""


@dataclass(frozen=True)
class Pool:
    name: str
    # Regular expression matched at the start of a task id ("" matches every task).
    match: str = ""
    # Containers the pool runs at once across all its hosts (0: no limit beyond the runners').
    max_running: int = 0
    # Executions of one task the pool runs at once (0: no limit).
    max_running_per_task: int = 0
    # Runners the local stack starts for this pool.
    runners: int = 1
    # The containers' sandbox (domain/sandbox.py): the service's defaults merged with the pool's
    # own "sandbox" object; None only for a pool made outside the settings (see ``sandbox_of``).
    sandbox: Sandbox | None = None
    # Registries its images may come from (domain/registries.py); empty: any.
    registries: tuple[str, ...] = ()

    def matches(self, task_id: str) -> bool:
        return re.match(self.match, task_id) is not None


def _int(entry: dict[str, object], key: str, name: str) -> int:
    value = entry.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PoolConfigError(f"pool {name!r}: {key} must be a non-negative integer, got {value!r}")
    return value


def parse_pools(raw: str, sandbox: Sandbox | None = None) -> tuple[Pool, ...]:
    """The pools of a ``settings.pools`` JSON text; one catch-all default pool when empty.
    ``sandbox`` is the service's default sandbox, which each pool's ``"sandbox"`` refines."""
    if not raw.strip():
        return (Pool(DEFAULT_POOL, sandbox=sandbox),)
    try:
        entries = json.loads(raw)
    except ValueError as exc:
        raise PoolConfigError(f"pools is not JSON: {exc}") from exc
    if not isinstance(entries, list) or not entries:
        raise PoolConfigError("pools must be a non-empty JSON list")
    pools: list[Pool] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise PoolConfigError(f"each pool needs a name: {entry!r}")
        name = entry["name"]
        match = entry.get("match", "")
        if not isinstance(match, str):
            raise PoolConfigError(f"pool {name!r}: match must be a string")
        try:
            re.compile(match)
        except re.error as exc:
            raise PoolConfigError(f"pool {name!r}: match {match!r} is not a regular expression: {exc}") from exc
        runners = entry.get("runners", 1)
        try:
            pool_sandbox = (
                None if sandbox is None else parse_sandbox(entry.get("sandbox"), sandbox, f"pool {name!r}: sandbox")
            )
            registries = parse_registries(entry.get("registries"), f"pool {name!r}: registries")
        except (SandboxConfigError, RegistryConfigError) as exc:
            raise PoolConfigError(str(exc)) from exc
        pools.append(
            Pool(
                name=name,
                match=match,
                max_running=_int(entry, "maxRunning", name),
                max_running_per_task=_int(entry, "maxRunningPerTask", name),
                runners=runners if isinstance(runners, int) and runners >= 0 else 1,
                sandbox=pool_sandbox,
                registries=registries,
            )
        )
    if len({pool.name for pool in pools}) != len(pools):
        raise PoolConfigError("pool names must be unique")
    return tuple(pools)


def pool_named(name: str, settings: Settings) -> Pool:
    """The pool called ``name``; an undeclared name is a pool without limits."""
    for pool in settings.pool_list:
        if pool.name == name:
            return pool
    return Pool(name, sandbox=settings.sandbox_base)


def sandbox_of(pool: Pool, settings: Settings) -> Sandbox:
    """The sandbox ``pool``'s containers run in."""
    return pool.sandbox or settings.sandbox_base


def pool_for_task(task_id: str, settings: Settings) -> Pool | None:
    """The first pool whose expression matches ``task_id`` (None: no pool takes it)."""
    for pool in settings.pool_list:
        if pool.matches(task_id):
            return pool
    return None


def queue_for_task(task_id: str, settings: Settings) -> str:
    """The job queue of the pool ``task_id`` runs in (the first pool whose expression matches)."""
    pool = pool_for_task(task_id, settings)
    if pool is None:
        raise ValidationError(f"no pool takes task {task_id!r}: no pool's match fits it", field="taskId")
    return settings.pool_queue(pool.name)
