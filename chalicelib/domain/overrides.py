"""Run-now overrides: the ``env`` and ``command`` a single execution runs with instead of its
job's (``POST …/jobs/<j>/run/``). Pure: parsing the body and merging it over a job's spec.

The job itself is never changed: the overrides are stored on the execution, and the runner
merges them over the job's definition when it starts that execution (and its retries).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain import job_schema
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.payload import JobSpec

# The keys of the body, and the job body's field whose rules each one follows.
_KEYS = {"env": "envs", "command": "command"}


@dataclass(frozen=True)
class RunOverrides:
    """``env`` is merged over the job's ``envs`` (a key given here wins); ``command`` replaces
    the job's when given."""

    env: dict[str, str] = field(default_factory=dict)
    command: str | None = None

    @property
    def empty(self) -> bool:
        return not self.env and self.command is None

    def to_dict(self) -> dict[str, Any] | None:
        """What the execution stores (None: nothing to override)."""
        if self.empty:
            return None
        stored: dict[str, Any] = {"env": dict(self.env)}
        if self.command is not None:
            stored["command"] = self.command
        return stored

    @classmethod
    def from_dict(cls, data: Any) -> RunOverrides:
        """The overrides an execution stored (an empty one for an execution without)."""
        if not data:
            return cls()
        return cls(env=dict(data.get("env") or {}), command=data.get("command"))


def parse_overrides(body: dict[str, Any]) -> RunOverrides:
    """The overrides of a run-now body; a ValidationError naming the first wrong key.

    ``env`` and ``command`` are checked by the job body's own rules for ``envs`` and
    ``command`` (job_schema), so an override can never be something a job could not hold."""
    unknown = sorted(set(body) - set(_KEYS))
    if unknown:
        raise ValidationError(
            f"unknown keys in the run body: {', '.join(unknown)} (only env and command may be overridden)",
            field=unknown[0],
        )
    checked: dict[str, Any] = {}
    for key, job_key in _KEYS.items():
        if body.get(key) is not None:
            checked[key] = _field(job_key).kind.check(key, body[key], key)
    return RunOverrides(env=checked.get("env") or {}, command=checked.get("command"))


def apply_overrides(spec: JobSpec, overrides: RunOverrides) -> JobSpec:
    """The job's spec as this one execution runs it."""
    if overrides.empty:
        return spec
    return dataclasses.replace(
        spec,
        envs={**spec.envs, **overrides.env},
        command=spec.command if overrides.command is None else overrides.command,
    )


def _field(name: str) -> job_schema.Field:
    return next(each for each in job_schema.FIELDS if each.name == name)
