"""The farm's host registry in DynamoDB: runners' heartbeats and the blacklist flag.

Each runner upserts its host item every few seconds; the answer carries the item's
``blacklisted`` flag, so a runner learns of a blacklist at its next beat without another read.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.transactions import TransactWrite

from chalicelib.adapters.aws import connection
from chalicelib.adapters.conditional_writes import conditional_write
from chalicelib.adapters.models import FARM, HostModel
from chalicelib.domain.hosts import OPEN, Beat
from chalicelib.settings import get_settings

# A host gone quiet for a day leaves the table (DynamoDB TTL).
_FORGET_AFTER_SECONDS = 24 * 3600


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


def get_host(host_id_text: str) -> HostModel | None:
    try:
        return HostModel.get(host_id_text, consistent_read=True)
    except HostModel.DoesNotExist:
        return None


def write_blacklisted(host: HostModel, blacklisted: bool, keeper: HostModel | None, now: float) -> bool:
    """Set the flag; with ``keeper``, only while that host is still available (False if not).

    One transaction with a condition check on the keeper, so two operators blacklisting a
    pool's last two hosts at the same instant cannot both succeed.
    """
    host.blacklisted = blacklisted
    with conditional_write() as write, TransactWrite(connection=connection()) as tx:
        tx.update(host, actions=[HostModel.blacklisted.set(blacklisted)], condition=HostModel.host_id.exists())
        if keeper is not None:
            tx.condition_check(
                HostModel,
                keeper.host_id,
                condition=(HostModel.blacklisted.does_not_exist() | (HostModel.blacklisted == False))  # noqa: E712
                & (HostModel.circuit != OPEN)
                & (HostModel.heartbeat_at >= now - get_settings().host_stale_seconds),
            )
    return write.applied
