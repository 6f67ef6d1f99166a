"""Spreading a sparse index over several partition values, so no one partition is hot.

A sparse index whose partition key has one value (``"active"``, ``"awaiting"``) sends every
write of that index to one partition. Each item instead takes ``<prefix>#<n>``, ``n`` from a
stable hash of its execution id, and a reader queries every value. The bare ``<prefix>`` is the
value items written before sharding carry: readers still query it (a migration path: once no
item holds it, ``LEGACY`` can go).
"""

from __future__ import annotations

import zlib

# Readers also query the unsharded partition value items written before sharding hold.
LEGACY = True


def shard_number(key: str, shards: int) -> int:
    """The shard of ``key``: the same on every host and every run (CRC-32, not Python's hash)."""
    return zlib.crc32(key.encode()) % max(1, shards)


def shard_value(prefix: str, key: str, shards: int) -> str:
    """The partition value an item of ``key`` takes in the index of ``prefix``."""
    return f"{prefix}#{shard_number(key, shards)}"


def partition_values(prefix: str, shards: int, legacy: bool = True) -> list[str]:
    """Every partition value a reader of the index of ``prefix`` queries, the legacy one last
    (``legacy`` False: an index that never held unsharded items)."""
    values = [f"{prefix}#{n}" for n in range(max(1, shards))]
    return [*values, prefix] if legacy and LEGACY else values
