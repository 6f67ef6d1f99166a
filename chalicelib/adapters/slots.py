"""Concurrency slots of a pool (``maxRunning``) and of a task, as leases in DynamoDB.

A pool limited to N containers has N slot items; an execution runs only while it holds one.
Taking a slot is a conditional put (free, or already ours), so the limit holds across every
host of the pool without a coordinator. The holder's heartbeats renew the lease (``renewals``
grows by one each time); a runner that dies stops renewing, and its slots free themselves.

No clock is compared with another host's: a slot held by another execution is taken over only
when this process, the taker, saw its lease unchanged (same holder, same ``renewals``) for
``lease_seconds`` by its own clock. A holder whose clock runs ahead keeps no slot forever, and
a taker whose clock runs ahead steals no slot that is being renewed. ``lease_until`` is still
written, for operators reading the table; no decision reads it.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist

from chalicelib.adapters.conditional_writes import conditional_write
from chalicelib.adapters.models import SlotModel


@dataclass(frozen=True)
class _Seen:
    token: tuple[str, int, float]
    # The taker's own time when it first saw ``token``.
    since: float


# What this process saw of the slots others hold: {slot key: lease token and since when}.
_seen: dict[str, _Seen] = {}
_seen_lock = threading.Lock()


def pool_slots(pool: str) -> str:
    return f"pool#{pool}"


def task_slots(pool: str, task_id: str) -> str:
    return f"task#{pool}#{task_id}"


def acquire(prefix: str, limit: int, execution_id: str, host_id: str, now: float, lease_seconds: float) -> str | None:
    """Take one of the ``limit`` slots under ``prefix`` for ``execution_id``: its key, or None
    when all are held. ``now`` is this host's clock, compared only with itself."""
    start = random.randrange(limit)  # spreads contention over the slots
    for offset in range(limit):
        key = f"{prefix}#{(start + offset) % limit}"
        lease = SlotModel(key, execution_id=execution_id, host_id=host_id, lease_until=now + lease_seconds, renewals=0)
        with conditional_write() as write:
            lease.save(condition=SlotModel.slot.does_not_exist() | (SlotModel.execution_id == execution_id))
        if write.applied or _take_over_silent(lease, now, lease_seconds):
            return key
    return None


def _token(holder: SlotModel) -> tuple[str, int, float]:
    return (holder.execution_id, int(holder.renewals or 0), float(holder.lease_until))


def _take_over_silent(lease: SlotModel, now: float, lease_seconds: float) -> bool:
    """Take ``lease``'s slot from its holder when this process saw the holder's lease unchanged
    for ``lease_seconds``; otherwise remember what it saw."""
    try:
        holder = SlotModel.get(lease.slot, consistent_read=True)
    except DoesNotExist:
        return False  # released in between: the next attempt takes it with a plain put
    token = _token(holder)
    with _seen_lock:
        seen = _seen.get(lease.slot)
        if seen is None or seen.token != token:
            _seen[lease.slot] = _Seen(token, now)
            return False
        if now - seen.since < lease_seconds:
            return False
    renewals = SlotModel.renewals
    unchanged = renewals.does_not_exist() if holder.renewals is None else renewals == holder.renewals
    with conditional_write() as write:
        lease.save(
            condition=(SlotModel.execution_id == holder.execution_id)
            & (SlotModel.lease_until == holder.lease_until)
            & unchanged
        )
    if write.applied:
        with _seen_lock:
            _seen.pop(lease.slot, None)
    return write.applied


def renew(key: str, execution_id: str, until: float) -> bool:
    """Extend the lease while ``execution_id`` still holds it; False when it was lost."""
    with conditional_write() as write:
        SlotModel(key).update(
            actions=[SlotModel.lease_until.set(until), SlotModel.renewals.add(1)],
            condition=SlotModel.execution_id == execution_id,
        )
    return write.applied


def release(key: str, execution_id: str) -> None:
    """Give the slot back (a no-op when another execution took it over after an expiry)."""
    with conditional_write():
        SlotModel(key).delete(condition=SlotModel.execution_id == execution_id)
