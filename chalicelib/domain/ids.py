"""Identifiers.

Execution ids are UUIDv7 (RFC 9562): valid UUIDs whose text sorts by creation time, so the
execution table's sort key gives "newest first" with one Query and no extra index.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_job_id() -> str:
    return str(uuid.uuid4())


def new_execution_id(now_ms: int | None = None) -> str:
    """A UUIDv7; ids made in one process are strictly increasing, even within a millisecond."""
    global _last_ms, _counter
    with _lock:
        ms = int(time.time() * 1000) if now_ms is None else now_ms
        if ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter > 0xFFF:
                # The 12-bit counter is spent within this millisecond: borrow the next one
                # (RFC 9562 §6.2) rather than wrap around and break the ordering.
                ms += 1
                _counter = 0
        else:
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
        _last_ms = ms
        counter = _counter & 0xFFF
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
    return str(uuid.UUID(int=value))


def is_uuid4(text: str) -> bool:
    try:
        parsed = uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        return False
    return parsed.version == 4 and str(parsed) == text.lower()


def derived_execution_id(job_id: str, instant_ms: int, purpose: str) -> str:
    """A UUIDv7 determined by (job, instant, purpose): the same scheduled run always gets the
    same id, so a conditional put makes creating it idempotent across racing dispatchers and
    redelivered messages, while ids still sort by the run's time."""
    digest = int.from_bytes(hashlib.sha256(f"{job_id}|{instant_ms}|{purpose}".encode()).digest()[:10], "big")
    counter = digest >> 68 & 0xFFF
    rand = digest & ((1 << 62) - 1)
    value = (instant_ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
    return str(uuid.UUID(int=value))
