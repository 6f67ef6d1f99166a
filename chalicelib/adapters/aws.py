"""boto3 clients and the PynamoDB connection, made once per process, with one client Config.

No endpoint is passed: boto3 reads ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``, so
the same code reaches AWS, LocalStack or the local emulator. The one exception is the WebSocket
management API, whose endpoint is the API's own URL (``ws_api``).
"""

from __future__ import annotations

import threading
from functools import cache, lru_cache
from typing import Any

import boto3
from pynamodb.connection import Connection

from chalicelib.adapters.client_config import (
    CLIENT_CONFIG,
    CONNECT_TIMEOUT_SECONDS,
    LIVE_CONFIG,
    MAX_ATTEMPTS,
    MAX_POOL_CONNECTIONS,
    READ_TIMEOUT_SECONDS,
)
from chalicelib.settings import get_settings

_lock = threading.Lock()
_connection_lock = threading.Lock()


@cache
def _client(service: str, endpoint_url: str | None, live: bool) -> Any:
    return boto3.session.Session().client(
        service,
        region_name=get_settings().region,
        endpoint_url=endpoint_url,
        config=LIVE_CONFIG if live else CLIENT_CONFIG,
    )


def client(service: str, endpoint_url: str | None = None, live: bool = False) -> Any:
    """A shared client for ``service``; boto3 clients are thread-safe once made. ``live``: the
    short timeouts of live-log posts."""
    with _lock:
        return _client(service, endpoint_url, live)


@lru_cache(maxsize=1)
def _make_connection() -> Connection:
    return Connection(
        region=get_settings().region,
        connect_timeout_seconds=CONNECT_TIMEOUT_SECONDS,
        read_timeout_seconds=READ_TIMEOUT_SECONDS,
        max_retry_attempts=MAX_ATTEMPTS,
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )


def connection() -> Connection:
    """The PynamoDB connection of transactions and table calls (the models keep their own)."""
    with _connection_lock:
        return _make_connection()


@cache
def queue_url(name: str) -> str:
    return str(client("sqs").get_queue_url(QueueName=name)["QueueUrl"])
