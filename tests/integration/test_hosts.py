"""The host registry on the local emulator (adapters.host_registry, domain.hosts, services.blacklist):
heartbeats, availability and the blacklist's guard."""

from __future__ import annotations

import time
import uuid

import pytest

from chalicelib.adapters import host_registry
from chalicelib.domain import hosts
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.services import blacklist
from infra.local.harness import StackProcess


def _beat(pool: str, name: str, now: float, circuit: str = hosts.CLOSED) -> str:
    name = f"{pool}-{name}"  # host ids unique to the test
    host_id = hosts.host_id(name, 2375)
    beat = hosts.Beat(host_id, name, 2375, pool, circuit, None, None, [])
    assert host_registry.heartbeat(beat, now) is False
    return host_id


def _pool() -> str:
    return f"pool-{uuid.uuid4().hex[:8]}"


def test_a_heartbeat_registers_the_host_in_its_pool(stack: StackProcess) -> None:
    pool, now = _pool(), time.time()
    first = _beat(pool, "h1", now)
    second = _beat(pool, "h2", now)

    found = host_registry.hosts_of_pool(pool)

    assert [h.host_id for h in found] == [first, second]
    assert all(hosts.is_available(h, now) for h in found)
    assert {h.host_id for h in host_registry.all_hosts()} >= {first, second}


def test_the_heartbeat_answers_the_blacklist_flag(stack: StackProcess) -> None:
    pool, now = _pool(), time.time()
    first = _beat(pool, "h1", now)
    _beat(pool, "h2", now)

    blacklist.set_blacklisted(first, True, now)
    beat = hosts.Beat(first, f"{pool}-h1", 2375, pool, hosts.CLOSED, None, None, [])

    assert host_registry.heartbeat(beat, now + 1) is True
    blacklist.set_blacklisted(first, False, now + 1)
    assert host_registry.heartbeat(beat, now + 2) is False


def test_a_host_that_leaves_is_gone_at_once_and_keeps_its_blacklist_flag(stack: StackProcess) -> None:
    pool, now = _pool(), time.time()
    leaving = _beat(pool, "h1", now)
    _beat(pool, "h2", now)
    blacklist.set_blacklisted(leaving, True, now)

    host_registry.leave(leaving)

    (gone,) = [h for h in host_registry.hosts_of_pool(pool) if h.host_id == leaving]
    assert not hosts.is_alive(gone, now) and gone.running == []
    assert gone.blacklisted is True


def test_the_last_available_host_cannot_be_blacklisted(stack: StackProcess) -> None:
    pool, now = _pool(), time.time()
    first = _beat(pool, "h1", now)
    second = _beat(pool, "h2", now)
    # Not available: a stale host and one whose circuit is open do not count.
    _beat(pool, "stale", now - 3600)
    _beat(pool, "broken", now, circuit=hosts.OPEN)

    blacklist.set_blacklisted(first, True, now)
    with pytest.raises(Conflict) as refused:
        blacklist.set_blacklisted(second, True, now)

    assert refused.value.details == {"host": second, "pool": pool}
    # An unavailable host may be blacklisted: it takes no work anyway.
    blacklist.set_blacklisted(hosts.host_id(f"{pool}-stale", 2375), True, now)


def test_the_guard_is_part_of_the_write(stack: StackProcess) -> None:
    # Two operators read the pool at once and each saw the other host available: the second
    # write's condition check sees the first's blacklist and fails.
    pool, now = _pool(), time.time()
    first = _beat(pool, "h1", now)
    second = _beat(pool, "h2", now)
    one, two = host_registry.hosts_of_pool(pool)

    assert host_registry.write_blacklisted(one, True, keeper=two, now=now)
    assert not host_registry.write_blacklisted(two, True, keeper=one, now=now)
    assert [h.blacklisted for h in host_registry.hosts_of_pool(pool)] == [True, False]
    assert (first, second) == (one.host_id, two.host_id)


def test_an_unknown_host_is_not_found(stack: StackProcess) -> None:
    with pytest.raises(NotFound):
        blacklist.set_blacklisted(f"nobody-{uuid.uuid4().hex[:6]}:1", True, time.time())
