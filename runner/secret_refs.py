"""A container's environment from a job's env vars: references to secrets read at its start.

``{"DB_PASSWORD": {"secretRef": "<ARN>"}}`` becomes ``DB_PASSWORD=<the secret's value>`` in the
container only; the value is kept nowhere else. Every value the container gets is registered
with the log filter (chalicelib/domain/redaction.py), so no log line of this runner shows one,
unless its name is on ``visible_env_names``. A secret that cannot be read fails the execution
with an ``error`` naming it (a fault of the job, not of the Docker host).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from chalicelib.adapters.secrets import SecretUnavailable, read_secret
from chalicelib.domain.redaction import SECRET_VALUES, SecretValues, is_visible_name
from chalicelib.domain.secret_refs import references
from runner.docker_engine import EngineError


class SecretNotResolved(EngineError):
    """An env var's secret could not be read: the execution fails, the host is fine."""

    def __init__(self, message: str) -> None:
        super().__init__(message, host_fault=False)


def container_env(
    envs: Mapping[str, object],
    visible: tuple[str, ...] = (),
    read: Callable[[str], str] = read_secret,
    secrets: SecretValues = SECRET_VALUES,
) -> dict[str, str]:
    """The container's environment: plain values as they are, references read now."""
    refs = references(envs)
    env: dict[str, str] = {}
    for name, value in envs.items():
        if name in refs:
            try:
                env[name] = read(refs[name])
            except SecretUnavailable as exc:
                raise SecretNotResolved(f"env {name}: {exc}") from exc
        else:
            env[name] = str(value)
    secrets.add(value for name, value in env.items() if not is_visible_name(name, visible))
    return env
