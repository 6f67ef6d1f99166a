"""``GET /status/``: the farm at a glance, in the API document's shape plus pools and heartbeats.

Every figure comes from an index, a counter or a queue attribute: the hosts from one Query of
the farm index (their running containers ride on their heartbeats), the job and task totals
from counters, the scheduled jobs from the due index, the queue lengths from SQS.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters import counters, host_registry, job_queue, job_repository
from chalicelib.adapters.models import HostModel
from chalicelib.domain.hosts import CLOSED, is_alive, is_available
from chalicelib.domain.pools import sandbox_of
from chalicelib.domain.urls import Urls
from chalicelib.services.views import Status, to_iso_epoch
from chalicelib.settings import get_settings

# Scheduled jobs listed (soonest first); the count of all jobs is the counter's.
_SCHEDULED_LISTED = 100


def _host(item: HostModel, now: float) -> dict[str, Any]:
    return {
        "host": item.host,
        "port": int(item.port),
        "id": item.host_id,
        "pool": item.pool,
        "available": is_available(item, now),
        "alive": is_alive(item, now),
        "blacklisted": bool(item.blacklisted),
        "circuit": item.circuit or CLOSED,
        "circuitOpenedAt": to_iso_epoch(item.circuit_opened_at),
        "error": item.error or None,
        "lastHeartbeatAt": to_iso_epoch(item.heartbeat_at),
        "running": len(item.running or []),
    }


def _queue_length(name: str) -> int | None:
    try:
        return job_queue.approximate_length(name)
    except Exception:  # noqa: BLE001 - a missing optional queue reads as unknown, not as an error
        return None


def _queues() -> dict[str, Any]:
    settings = get_settings()
    pools = {pool.name: _queue_length(settings.pool_queue(pool.name)) for pool in settings.pool_list}
    queues: dict[str, Any] = {
        "jobs": {"length": sum(length or 0 for length in pools.values()), "pools": pools},
        "error": {"length": _queue_length(settings.job_dead_letter_queue)},
    }
    queues["notifications"] = {
        "length": _queue_length(settings.notifications_queue),
        "error": _queue_length(settings.notifications_dead_letter_queue),
    }
    return queues


def status(urls: Urls, now: float) -> Status:
    host_items = host_registry.all_hosts()
    running = [
        {**container, "host": item.host, "port": int(item.port), "pool": item.pool}
        for item in host_items
        if is_alive(item, now)
        for container in (item.running or [])
    ]
    scheduled = [
        {"taskId": task_id, "jobId": job_id, "nextRunAt": to_iso_epoch(next_run), "url": urls.job(task_id, job_id)}
        for task_id, job_id, next_run in job_repository.next_scheduled(_SCHEDULED_LISTED)
    ]
    pools = [
        {
            "name": pool.name,
            "match": pool.match,
            "maxRunning": pool.max_running or None,
            "maxRunningPerTask": pool.max_running_per_task or None,
            "registries": list(pool.registries) or None,
            "sandbox": sandbox_of(pool, get_settings()).view(),
        }
        for pool in get_settings().pool_list
    ]
    return {
        "containers": {"running": running},
        "hosts": [_host(item, now) for item in host_items],
        "jobs": {"count": counters.count(counters.JOBS), "scheduled": scheduled},
        "pools": pools,
        "queues": _queues(),
        "tasks": {"count": counters.count(counters.TASKS)},
    }
