"""Blacklisting a host (``/docker-executor/blacklist``), never a pool's last available one."""

from __future__ import annotations

from chalicelib.adapters import host_registry
from chalicelib.adapters.models import HostModel
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.hosts import is_available, parse_host_id
from chalicelib.services.views import Host


def _require_host(host_id_text: str) -> HostModel:
    host = host_registry.get_host(host_id_text)
    if host is None:
        raise NotFound(f"no runner has registered host {host_id_text!r}", host=host_id_text)
    return host


def set_blacklisted(host_id_text: str, blacklisted: bool, now: float) -> HostModel:
    """Blacklist (or clear) a host; refuses to blacklist the last available host of its pool.

    The blacklist is written in one transaction with a condition check that another host of
    the pool is still available, so two operators blacklisting a pool's last two hosts at the
    same instant cannot both succeed: the second transaction's check fails, and it is refused.
    """
    host = _require_host(parse_host_id(host_id_text))
    if not blacklisted or host.blacklisted or not is_available(host, now):
        host_registry.write_blacklisted(host, blacklisted, keeper=None, now=now)
        return host
    for _attempt in range(3):
        others = [
            h for h in host_registry.hosts_of_pool(host.pool) if h.host_id != host.host_id and is_available(h, now)
        ]
        if not others:
            break
        keeper = max(others, key=lambda h: float(h.heartbeat_at or 0))
        if host_registry.write_blacklisted(host, True, keeper=keeper, now=now):
            return host
    raise Conflict(
        f"{host.host_id} is the last available host of pool {host.pool!r}; "
        "blacklisting it would leave the pool's jobs no host to run on",
        host=host.host_id,
        pool=host.pool,
    )


def answer(host: HostModel) -> Host:
    """The blacklist routes' answer."""
    return {"host": host.host_id, "pool": host.pool, "blacklisted": bool(host.blacklisted)}
