"""Concurrency slots of a pool (``maxRunning``) and of a task, as leases in DynamoDB.

A pool limited to N containers has N slot items; an execution runs only while it holds one.
Taking a slot is a conditional put (free, expired, or already ours), so the limit holds across
every host of the pool without a coordinator. The holder's heartbeats renew the lease; a runner
that dies stops renewing, and its slots free themselves when their leases run out.
"""

from __future__ import annotations

import random

from chalicelib.adapters.conditional_writes import conditional_write
from chalicelib.adapters.models import SlotModel


def pool_slots(pool: str) -> str:
    return f"pool#{pool}"


def task_slots(pool: str, task_id: str) -> str:
    return f"task#{pool}#{task_id}"


def acquire(prefix: str, limit: int, execution_id: str, host_id: str, now: float, lease_seconds: float) -> str | None:
    """Take one of the ``limit`` slots under ``prefix`` for ``execution_id``: its key, or None when all are held."""
    start = random.randrange(limit)  # spreads contention over the slots
    for offset in range(limit):
        key = f"{prefix}#{(start + offset) % limit}"
        lease = SlotModel(key, execution_id=execution_id, host_id=host_id, lease_until=now + lease_seconds)
        with conditional_write() as write:
            lease.save(
                condition=SlotModel.slot.does_not_exist()
                | (SlotModel.lease_until < now)
                | (SlotModel.execution_id == execution_id)
            )
        if write.applied:
            return key
    return None


def renew(key: str, execution_id: str, until: float) -> bool:
    """Extend the lease while ``execution_id`` still holds it; False when it was lost."""
    with conditional_write() as write:
        SlotModel(key).update(
            actions=[SlotModel.lease_until.set(until)], condition=SlotModel.execution_id == execution_id
        )
    return write.applied


def release(key: str, execution_id: str) -> None:
    """Give the slot back (a no-op when another execution took it over after an expiry)."""
    with conditional_write():
        SlotModel(key).delete(condition=SlotModel.execution_id == execution_id)
