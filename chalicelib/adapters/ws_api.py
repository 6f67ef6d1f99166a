"""Adapter of the WebSocket API's management endpoint (``@connections``): send, close.

The same boto3 client reaches API Gateway in AWS and the local stack's front door, which
answers these calls like API Gateway does; only ``settings.ws_management_url`` differs.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters import aws
from chalicelib.settings import get_settings


class ConnectionGone(Exception):
    """The viewer is no longer connected (API Gateway's GoneException, HTTP 410)."""


def client(endpoint: str | None = None) -> Any:
    """The management client of ``endpoint``, or of ``settings.ws_management_url``."""
    endpoint = endpoint or get_settings().ws_management_url
    if not endpoint:
        raise RuntimeError("SLIPWAY_WS_MANAGEMENT_URL is not set: no WebSocket API to post to")
    return aws.client("apigatewaymanagementapi", endpoint_url=endpoint, live=True)


def _gone(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") == "GoneException" or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 410


def send(connection_id: str, data: str, endpoint: str | None = None) -> None:
    try:
        client(endpoint).post_to_connection(ConnectionId=connection_id, Data=data.encode("utf-8"))
    except ClientError as exc:
        if _gone(exc):
            raise ConnectionGone(connection_id) from exc
        raise


def close(connection_id: str, endpoint: str | None = None) -> None:
    """Close the viewer's socket (a connection already gone is not an error)."""
    try:
        client(endpoint).delete_connection(ConnectionId=connection_id)
    except ClientError as exc:
        if not _gone(exc):
            raise
