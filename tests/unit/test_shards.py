"""chalicelib.domain.shards: the partition values of the sharded sparse indexes."""

from __future__ import annotations

import uuid
from collections import Counter

from chalicelib.domain.shards import partition_values, shard_number, shard_value


def test_a_key_always_lands_in_the_same_shard() -> None:
    key = "01a23778-f955-72d8-8ab0-67a5d0d0ddde"

    assert shard_value("active", key, 8) == shard_value("active", key, 8) == f"active#{shard_number(key, 8)}"
    # CRC-32, not Python's salted hash: the same on every host and in every process.
    assert shard_number(key, 8) == 2


def test_execution_ids_spread_over_every_shard() -> None:
    counts = Counter(shard_number(str(uuid.uuid4()), 8) for _ in range(8000))

    assert sorted(counts) == list(range(8))
    assert max(counts.values()) < 1.2 * min(counts.values())


def test_readers_query_every_shard_and_the_value_of_items_written_before_sharding() -> None:
    assert partition_values("active", 3) == ["active#0", "active#1", "active#2", "active"]
    assert partition_values("owed", 2, legacy=False) == ["owed#0", "owed#1"]
    assert partition_values("active", 1) == ["active#0", "active"]
