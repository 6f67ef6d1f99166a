"""Every AWS client and table connection of a process made at its start (the runner's), so its
first job does not pay for them: botocore client creation costs tens of milliseconds each."""

from __future__ import annotations

from chalicelib.adapters.aws import client, connection
from chalicelib.adapters.models import ALL_MODELS


def warm_up() -> None:
    """Create every client and table connection now, so the first job does not pay for it
    (botocore client creation costs tens of milliseconds each)."""
    for service in ("sqs", "s3"):
        client(service)
    for model in ALL_MODELS:
        _ = model._get_connection().connection.client
    _ = connection().client
