"""The farm's host registry: runners' heartbeats, availability and the blacklist.

Each runner upserts its host item every few seconds; the answer carries the item's
``blacklisted`` flag, so a runner learns of a blacklist at its next beat without another read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.models import FARM, HostModel
from chalicelib.domain.errors import Conflict, NotFound, ValidationError
from chalicelib.settings import get_settings

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
# A host gone quiet for a day leaves the table (DynamoDB TTL).
_FORGET_AFTER_SECONDS = 24 * 3600
_HOST_ID = re.compile(r"^(?P<name>[^\s:]+):(?P<port>\d{1,5})$")


@lru_cache(maxsize=1)
def _connection() -> Connection:
    return Connection(region=get_settings().region)


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


def leave(host_id_text: str) -> None:
    """A runner that shuts down cleanly: its host shows unavailable at once, with no containers,
    instead of after ``host_stale_seconds``. Its blacklist flag stays for its next start."""
    HostModel(host_id_text).update(actions=[HostModel.heartbeat_at.remove(), HostModel.running.set([])])


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

    The blacklist is written in one transaction with a condition check that another host of
    the pool is still available, so two operators blacklisting a pool's last two hosts at the
    same instant cannot both succeed: the second transaction's check fails, and it is refused.
    """
    host = _require_host(parse_host_id(host_id_text))
    if not blacklisted or host.blacklisted or not is_available(host, now):
        _write_blacklisted(host, blacklisted, keeper=None, now=now)
        return host
    for _attempt in range(3):
        others = [h for h in hosts_of_pool(host.pool) if h.host_id != host.host_id and is_available(h, now)]
        if not others:
            break
        keeper = max(others, key=lambda h: float(h.heartbeat_at or 0))
        if _write_blacklisted(host, True, keeper=keeper, now=now):
            return host
    raise Conflict(
        f"{host.host_id} is the last available host of pool {host.pool!r}; "
        "blacklisting it would leave the pool's jobs no host to run on",
        host=host.host_id,
        pool=host.pool,
    )


def _write_blacklisted(host: HostModel, blacklisted: bool, keeper: HostModel | None, now: float) -> bool:
    """Set the flag; with ``keeper``, only while that host is still available (False if not)."""
    host.blacklisted = blacklisted
    try:
        with TransactWrite(connection=_connection()) as tx:
            tx.update(host, actions=[HostModel.blacklisted.set(blacklisted)], condition=HostModel.host_id.exists())
            if keeper is not None:
                tx.condition_check(
                    HostModel,
                    keeper.host_id,
                    condition=(HostModel.blacklisted.does_not_exist() | (HostModel.blacklisted == False))  # noqa: E712
                    & (HostModel.circuit != OPEN)
                    & (HostModel.heartbeat_at >= now - get_settings().host_stale_seconds),
                )
    except TransactWriteError as exc:
        if exc.cause_response_code == "TransactionCanceledException":
            return False
        raise
    return True
