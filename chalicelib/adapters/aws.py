"""boto3 clients and the PynamoDB connection, made once per process.

No endpoint is passed: boto3 reads ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``, so
the same code reaches AWS, LocalStack or the local emulator.
"""

from __future__ import annotations

import threading
from functools import cache, lru_cache
from typing import Any

import boto3
from botocore.config import Config
from pynamodb.connection import Connection

from chalicelib.settings import get_settings

_lock = threading.Lock()
_connection_lock = threading.Lock()


@cache
def _client(service: str) -> Any:
    config = Config(
        retries={"max_attempts": 4, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        max_pool_connections=32,
    )
    return boto3.session.Session().client(service, region_name=get_settings().region, config=config)


def client(service: str) -> Any:
    """A shared client for ``service``; boto3 clients are thread-safe once made."""
    with _lock:
        return _client(service)


@lru_cache(maxsize=1)
def _make_connection() -> Connection:
    return Connection(region=get_settings().region)


def connection() -> Connection:
    """The PynamoDB connection of transactions and table calls (the models keep their own)."""
    with _connection_lock:
        return _make_connection()


@cache
def queue_url(name: str) -> str:
    return str(client("sqs").get_queue_url(QueueName=name)["QueueUrl"])


def warm_up() -> None:
    """Create every client and table connection now, so the first job does not pay for it
    (botocore client creation costs tens of milliseconds each)."""
    from chalicelib.adapters.models import ALL_MODELS

    for service in ("sqs", "s3"):
        client(service)
    for model in ALL_MODELS:
        _ = model._get_connection().connection.client
    _ = connection().client
