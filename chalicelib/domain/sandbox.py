"""The container sandbox: what a pool lets its containers do, and what one job may ask (pure).

Every container runs with memory, CPU and process limits, ``no-new-privileges``, all Linux
capabilities dropped (but those its pool keeps), a capped Docker log, and its pool's network;
a pool may also run its containers as a non-root user and on a read-only root file system (with
a tmpfs ``/tmp``). A job asks for other limits with ``resources`` (``{"memory": "256Mi",
"cpus": 0.5, "pids": 64}``), within its pool's ceiling: above it, or malformed, is a 400.

The pool's settings come from ``settings.py`` (the service's defaults) merged with the pool's
own ``"sandbox"`` object in ``SLIPWAY_POOLS``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.domain.errors import ValidationError

RESOURCE_KEYS = ("memory", "cpus", "pids")
NANO = 1_000_000_000
# Docker refuses a memory limit under 6 MiB.
MIN_MEMORY_BYTES = 6 * 1024 * 1024
MIN_CPUS = 0.01
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "ki": 1024, "mi": 1024**2, "gi": 1024**3}
# Binary units, Kubernetes' spelling (Ki, Mi, Gi) or Docker's (k, m, g); no unit: bytes.
_MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|k|m|g)?$")
_CAPABILITY = re.compile(r"^(CAP_)?[A-Z][A-Z0-9_]*$")
_NETWORK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
# Docker's json-file sizes: a number and k, m or g.
_LOG_SIZE = re.compile(r"^[1-9][0-9]*[kmg]$")


class SandboxConfigError(ValueError):
    """A pool's ``sandbox`` (or the service's defaults) is not valid."""


@dataclass(frozen=True)
class Limits:
    memory_bytes: int
    nano_cpus: int
    pids: int

    @property
    def cpus(self) -> float:
        return self.nano_cpus / NANO

    def view(self) -> dict[str, Any]:
        return {
            "memory": format_memory(self.memory_bytes),
            "memoryBytes": self.memory_bytes,
            "cpus": self.cpus,
            "pids": self.pids,
        }

    def above(self, ceiling: Limits) -> list[str]:
        """The keys of these limits that exceed ``ceiling``."""
        over = []
        if self.memory_bytes > ceiling.memory_bytes:
            over.append("memory")
        if self.nano_cpus > ceiling.nano_cpus:
            over.append("cpus")
        if self.pids > ceiling.pids:
            over.append("pids")
        return over


@dataclass(frozen=True)
class Sandbox:
    """A pool's sandbox: the limits a job gets unless it asks, the most it may ask, and the
    options every container of the pool runs with."""

    defaults: Limits
    ceiling: Limits
    # Capabilities kept (all others are dropped).
    cap_add: tuple[str, ...] = ()
    # "uid[:gid]" or a user name of the image; "" runs as the image's user.
    user: str = ""
    read_only: bool = False
    tmpfs_size: str = "64m"
    # Docker network mode: "bridge", "none", or a user-defined network's name.
    network: str = "bridge"
    # Docker's json-file log of each container: at most log_max_files files of log_max_size.
    log_max_size: str = "1g"
    log_max_files: int = 2

    def apply(self, requested: Mapping[str, Any] | None) -> AppliedSandbox:
        """The sandbox one job runs in; a ValidationError (field ``resources``) when it asks
        for more than the ceiling."""
        limits = self.limits_for(requested)
        return AppliedSandbox(limits=limits, sandbox=self)

    def limits_for(self, requested: Mapping[str, Any] | None) -> Limits:
        asked = parse_resources(requested or {})
        limits = Limits(
            memory_bytes=asked.get("memory", self.defaults.memory_bytes),
            nano_cpus=asked.get("cpus", self.defaults.nano_cpus),
            pids=asked.get("pids", self.defaults.pids),
        )
        over = limits.above(self.ceiling)
        if over:
            ceiling = self.ceiling.view()
            asked_view = limits.view()
            parts = ", ".join(
                f"resources.{key} {asked_view[key]!r} is above the pool's ceiling {ceiling[key]!r}" for key in over
            )
            raise ValidationError(parts, field="resources")
        return limits

    def view(self) -> dict[str, Any]:
        """The pool's sandbox as ``/status/`` shows it."""
        return {
            "defaults": self.defaults.view(),
            "ceiling": self.ceiling.view(),
            "capAdd": list(self.cap_add),
            "capDrop": ["ALL"],
            "noNewPrivileges": True,
            "user": self.user or None,
            "readOnly": self.read_only,
            "network": self.network,
            "logMaxSize": self.log_max_size,
            "logMaxFiles": self.log_max_files,
        }


@dataclass(frozen=True)
class AppliedSandbox:
    """What one container gets: the job's limits and its pool's options."""

    limits: Limits
    sandbox: Sandbox

    def view(self) -> dict[str, Any]:
        """Shown on the execution (``sandbox``) once its container runs."""
        options = self.sandbox.view()
        for key in ("defaults", "ceiling"):
            options.pop(key)
        return {**self.limits.view(), **options}


def parse_memory(value: Any, where: str = "memory") -> int:
    """Bytes of a memory size: an integer of bytes, or a number with Ki/Mi/Gi (or k/m/g)."""
    if isinstance(value, bool):
        raise ValueError(f'{where} must be a size such as "256Mi" or a number of bytes')
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and (match := _MEMORY.fullmatch(value.strip())):
        number, unit = match.groups()
        size = int(float(number) * _UNITS[(unit or "").lower()])
    else:
        raise ValueError(f"{where} {value!r} is not a size: write it as 256Mi, 1Gi, 512m or a number of bytes")
    if size < MIN_MEMORY_BYTES:
        raise ValueError(f"{where} {value!r} is below Docker's smallest limit, 6Mi")
    return size


def format_memory(size: int) -> str:
    for unit, factor in (("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def parse_cpus(value: Any, where: str = "cpus") -> int:
    """Nano-CPUs of a CPU count (0.5 is half a CPU)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where} must be a number of CPUs such as 0.5")
    if value < MIN_CPUS:
        raise ValueError(f"{where} must be at least {MIN_CPUS}")
    return round(value * NANO)


def parse_pids(value: Any, where: str = "pids") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where} must be an integer ≥ 1 (the processes the container may run at once)")
    return value


def parse_resources(requested: Mapping[str, Any]) -> dict[str, int]:
    """A job's ``resources``, checked: {"memory": bytes, "cpus": nano-CPUs, "pids": count} for
    the keys given; a ValidationError naming the field otherwise."""
    if not isinstance(requested, Mapping):
        raise ValidationError("resources must be an object with keys among memory, cpus, pids", field="resources")
    unknown = sorted(set(requested) - set(RESOURCE_KEYS))
    if unknown:
        raise ValidationError(
            f"resources has unknown keys {', '.join(unknown)}; it takes memory, cpus and pids", field="resources"
        )
    parsers = {"memory": parse_memory, "cpus": parse_cpus, "pids": parse_pids}
    parsed: dict[str, int] = {}
    for key, value in requested.items():
        if value is None:
            continue
        try:
            parsed[key] = parsers[key](value, f"resources.{key}")
        except ValueError as exc:
            raise ValidationError(str(exc), field="resources") from exc
    return parsed


# -- the pools' configuration ------------------------------------------------------------------

_LIMIT_KEYS = {"memory": ("memory", parse_memory), "cpus": ("cpus", parse_cpus), "pids": ("pids", parse_pids)}
_OPTION_KEYS = {"capAdd", "user", "readOnly", "tmpfsSize", "network", "logMaxSize", "logMaxFiles"}
SANDBOX_KEYS = frozenset({*_LIMIT_KEYS, *(f"max{key[0].upper()}{key[1:]}" for key in _LIMIT_KEYS), *_OPTION_KEYS})


def _limits(entry: Mapping[str, Any], base: Limits, prefix: str, where: str) -> Limits:
    values = {"memory": base.memory_bytes, "cpus": base.nano_cpus, "pids": base.pids}
    for key, (_, parse) in _LIMIT_KEYS.items():
        name = f"{prefix}{key[0].upper()}{key[1:]}" if prefix else key
        if name in entry:
            try:
                values[key] = parse(entry[name], f"{where}.{name}")
            except ValueError as exc:
                raise SandboxConfigError(str(exc)) from exc
    return Limits(memory_bytes=values["memory"], nano_cpus=values["cpus"], pids=values["pids"])


def capability(name: str, where: str) -> str:
    """A capability's name as Docker takes it (``NET_BIND_SERVICE``; ``CAP_`` is dropped)."""
    if not isinstance(name, str) or not _CAPABILITY.fullmatch(name):
        raise SandboxConfigError(f"{where}: {name!r} is not a Linux capability name (e.g. NET_BIND_SERVICE)")
    return name.removeprefix("CAP_")


def check_sandbox(sandbox: Sandbox, where: str) -> Sandbox:
    """``sandbox`` if it is coherent (defaults within the ceiling, valid options)."""
    over = sandbox.defaults.above(sandbox.ceiling)
    if over:
        raise SandboxConfigError(f"{where}: the default {', '.join(over)} is above the ceiling")
    if not _NETWORK.fullmatch(sandbox.network):
        raise SandboxConfigError(f"{where}: network {sandbox.network!r} is not a Docker network name")
    if not _LOG_SIZE.fullmatch(sandbox.log_max_size):
        raise SandboxConfigError(f"{where}: logMaxSize {sandbox.log_max_size!r} is not a size such as 100m or 1g")
    if sandbox.log_max_files < 1:
        raise SandboxConfigError(f"{where}: logMaxFiles must be ≥ 1")
    if not _LOG_SIZE.fullmatch(sandbox.tmpfs_size):
        raise SandboxConfigError(f"{where}: tmpfsSize {sandbox.tmpfs_size!r} is not a size such as 64m")
    for name in sandbox.cap_add:
        capability(name, where)
    return sandbox


def parse_sandbox(entry: Any, base: Sandbox, where: str) -> Sandbox:
    """A pool's ``"sandbox"`` object over the service's ``base``."""
    if entry is None:
        return base
    if not isinstance(entry, dict):
        raise SandboxConfigError(f"{where} must be an object")
    unknown = sorted(set(entry) - SANDBOX_KEYS)
    if unknown:
        known = ", ".join(sorted(SANDBOX_KEYS))
        raise SandboxConfigError(f"{where} has unknown keys {', '.join(unknown)}; known: {known}")
    changes: dict[str, Any] = {
        "defaults": _limits(entry, base.defaults, "", where),
        "ceiling": _limits(entry, base.ceiling, "max", where),
    }
    if "capAdd" in entry:
        caps = entry["capAdd"]
        if not isinstance(caps, list):
            raise SandboxConfigError(f"{where}.capAdd must be a list of capability names")
        changes["cap_add"] = tuple(capability(name, f"{where}.capAdd") for name in caps)
    for key, attribute, kind in (
        ("user", "user", str),
        ("readOnly", "read_only", bool),
        ("tmpfsSize", "tmpfs_size", str),
        ("network", "network", str),
        ("logMaxSize", "log_max_size", str),
        ("logMaxFiles", "log_max_files", int),
    ):
        if key in entry:
            value = entry[key]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise SandboxConfigError(f"{where}.{key} must be a {kind.__name__}")
            changes[attribute] = value
    return check_sandbox(replace(base, **changes), where)
