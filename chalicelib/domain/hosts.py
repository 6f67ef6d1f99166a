"""Hosts of the farm as the rules see them: ids, what a heartbeat reports, and whether a host
takes work (pure: the registry itself is ``adapters/host_registry.py``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.domain.errors import ValidationError
from chalicelib.settings import get_settings

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
_HOST_ID = re.compile(r"^(?P<name>[^\s:]+):(?P<port>\d{1,5})$")


def host_id(name: str, port: int) -> str:
    return f"{name}:{port}"


def parse_host_id(text: object) -> str:
    """Validate a ``name:port`` host id from a request body."""
    if not isinstance(text, str) or not _HOST_ID.match(text.strip()):
        raise ValidationError('host must be "name:port", as /status/ lists it', field="host")
    return text.strip()


@dataclass(frozen=True)
class Beat:
    """What a runner reports about itself at each heartbeat."""

    host_id: str
    host: str
    port: int
    pool: str
    circuit: str
    circuit_opened_at: float | None
    error: str | None
    running: list[dict[str, Any]]


class HostState(Protocol):
    """What availability is decided on (a registry item has these attributes)."""

    @property
    def heartbeat_at(self) -> float | None: ...

    @property
    def blacklisted(self) -> bool | None: ...

    @property
    def circuit(self) -> str | None: ...


def is_alive(host: HostState, now: float) -> bool:
    return host.heartbeat_at is not None and now - float(host.heartbeat_at) <= get_settings().host_stale_seconds


def is_available(host: HostState, now: float) -> bool:
    """Takes new work: heart-beating, not blacklisted, circuit not open."""
    return is_alive(host, now) and not host.blacklisted and host.circuit != OPEN
