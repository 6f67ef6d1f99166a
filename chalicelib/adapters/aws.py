"""boto3 clients, made once per process.

No endpoint is passed: boto3 reads ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``, so
the same code reaches AWS, LocalStack or the local emulator.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.settings import get_settings

_lock = threading.Lock()


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


def warm_up() -> None:
    """Create every client and table connection now, so the first job does not pay for it
    (botocore client creation costs tens of milliseconds each)."""
    from chalicelib.adapters import store
    from chalicelib.adapters.models import ALL_MODELS

    for service in ("sqs", "s3"):
        client(service)
    for model in ALL_MODELS:
        _ = model._get_connection().connection.client
    _ = store._connection().client
