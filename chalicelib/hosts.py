"""The farm's host registry: runners' heartbeats, availability and the blacklist.

Each runner upserts its host item every few seconds; the answer carries the item's
``blacklisted`` flag, so a runner learns of a blacklist at its next beat without another read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.errors import Conflict, NotFound, ValidationError
from chalicelib.models import FARM, HostModel
from chalicelib.settings import get_settings

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
# A host gone quiet for a day leaves the table (DynamoDB TTL).
_FORGET_AFTER_SECONDS = 24 * 3600
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


def heartbeat(beat: Beat, now: float) -> bool:
    """Record the beat (creating the host item on the first one); answers whether the host is blacklisted."""
    item = HostModel(beat.host_id)
    actions = [
        HostModel.farm.set(FARM),
        HostModel.pool_host.set(f"{beat.pool}#{beat.host_id}"),
        HostModel.pool.set(beat.pool),
        HostModel.host.set(beat.host),
        HostModel.port.set(beat.port),
        HostModel.heartbeat_at.set(now),
        HostModel.circuit.set(beat.circuit),
        HostModel.running.set(beat.running),
        HostModel.expires_at.set(datetime.fromtimestamp(now + _FORGET_AFTER_SECONDS, UTC)),
        HostModel.circuit_opened_at.set(beat.circuit_opened_at)
        if beat.circuit_opened_at is not None
        else HostModel.circuit_opened_at.remove(),
        HostModel.error.set(beat.error) if beat.error else HostModel.error.remove(),
    ]
    item.update(actions=actions)
    return bool(item.blacklisted)


def all_hosts() -> list[HostModel]:
    """Every registered host, by pool then id (one Query of the farm index)."""
    return list(HostModel.by_pool.query(FARM))


def hosts_of_pool(pool: str) -> list[HostModel]:
    return list(HostModel.by_pool.query(FARM, HostModel.pool_host.startswith(f"{pool}#")))


def is_alive(host: HostModel, now: float) -> bool:
    return host.heartbeat_at is not None and now - float(host.heartbeat_at) <= get_settings().host_stale_seconds


def is_available(host: HostModel, now: float) -> bool:
    """Takes new work: heart-beating, not blacklisted, circuit not open."""
    return is_alive(host, now) and not host.blacklisted and host.circuit != OPEN


def _require_host(host_id_text: str) -> HostModel:
    try:
        return HostModel.get(host_id_text, consistent_read=True)
    except HostModel.DoesNotExist as exc:
        raise NotFound(f"no runner has registered host {host_id_text!r}", host=host_id_text) from exc


def set_blacklisted(host_id_text: str, blacklisted: bool, now: float) -> HostModel:
    """Blacklist (or clear) a host; refuses to blacklist the last available host of its pool.

    The check reads the pool's hosts and then writes: two operators blacklisting the last two
    hosts of a pool at the same instant could both pass it (a window of one request).
    """
    host = _require_host(parse_host_id(host_id_text))
    if blacklisted and not host.blacklisted and is_available(host, now):
        others = [h for h in hosts_of_pool(host.pool) if h.host_id != host.host_id and is_available(h, now)]
        if not others:
            raise Conflict(
                f"{host.host_id} is the last available host of pool {host.pool!r}; "
                "blacklisting it would leave the pool's jobs no host to run on",
                host=host.host_id,
                pool=host.pool,
            )
    try:
        host.update(actions=[HostModel.blacklisted.set(blacklisted)], condition=HostModel.host_id.exists())
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise NotFound(f"no runner has registered host {host_id_text!r}", host=host_id_text) from exc
        raise
    return host
