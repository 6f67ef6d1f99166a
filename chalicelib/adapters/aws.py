"""boto3 clients and the PynamoDB connection, made once per process from one botocore session,
with one client Config.

One session, because each botocore session loads and keeps its own copy of the endpoint data and
of every service model it is asked for (about 10 MB for DynamoDB's): ten table connections and a
few clients each on a session of their own cost a runner well over 100 MB before any work. The
PynamoDB models share ``connection()`` too (``models.py``), so DynamoDB's model is loaded once.

No endpoint is passed: botocore reads ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``, so
the same code reaches AWS, LocalStack or the local emulator. The one exception is the WebSocket
management API, whose endpoint is the API's own URL (``ws_api``).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
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

# botocore sessions are not safe to make clients from on several threads at once: every client
# and the connection's client are made under this one lock.
_lock = threading.RLock()


@cache
def _botocore_session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def _session() -> boto3.session.Session:
    # One boto3 session on it too: each boto3 session registers its handlers on the botocore one.
    return boto3.session.Session(botocore_session=_botocore_session())


def botocore_session() -> botocore.session.Session:
    """The process's one botocore session (credentials, endpoint data and service models, once)."""
    with _lock:
        return _botocore_session()


@cache
def _client(service: str, endpoint_url: str | None, config: Config, region: str) -> Any:
    return _session().client(service, region_name=region, endpoint_url=endpoint_url, config=config)


def client(
    service: str,
    endpoint_url: str | None = None,
    live: bool = False,
    config: Config | None = None,
    region: str | None = None,
) -> Any:
    """A shared client for ``service``; boto3 clients are thread-safe once made. ``live``: the
    short timeouts of live-log posts; ``config``: another of ``client_config``'s configurations
    (one client is made per configuration). ``region``: another region than the service's (a
    secret whose ARN names its own, a registry's), one client per region, still on the one session."""
    with _lock:
        chosen = config or (LIVE_CONFIG if live else CLIENT_CONFIG)
        return _client(service, endpoint_url, chosen, region or get_settings().region)


class SharedSessionConnection(Connection):
    """A PynamoDB connection on the process's botocore session, instead of one session per thread
    (PynamoDB's own), each loading the service data again."""

    @property
    def session(self) -> botocore.session.Session:
        return botocore_session()

    @property
    def client(self) -> Any:
        # PynamoDB makes (or remakes, after empty credentials) its client lazily, on any thread.
        with _lock:
            return Connection.client.fget(self)  # type: ignore[attr-defined]


@cache
def _make_connection() -> SharedSessionConnection:
    return SharedSessionConnection(
        region=get_settings().region,
        connect_timeout_seconds=CONNECT_TIMEOUT_SECONDS,
        read_timeout_seconds=READ_TIMEOUT_SECONDS,
        max_retry_attempts=MAX_ATTEMPTS,
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )


def connection() -> Connection:
    """The process's one PynamoDB connection: transactions, table calls and every model's items."""
    with _lock:
        return _make_connection()


def forget_clients() -> None:
    """Drop the session, clients and connection, so the next call makes new ones (for tests that
    change the endpoint or mock AWS in-process: a session made before the mock is not mocked)."""
    with _lock:
        _client.cache_clear()
        _make_connection.cache_clear()
        _session.cache_clear()
        _botocore_session.cache_clear()
        queue_url.cache_clear()


@cache
def queue_url(name: str) -> str:
    return str(client("sqs").get_queue_url(QueueName=name)["QueueUrl"])
