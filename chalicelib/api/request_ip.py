"""The caller's address of a request, as stored on executions (``requestIP``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping


def _address(value: str | None) -> str | None:
    """``value`` if it is an IPv4/IPv6 address (a header can hold anything), else None."""
    if not value:
        return None
    candidate = value.strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def client_ip(headers: Mapping[str, str], source_ip: str | None = None) -> str | None:
    """``X-Real-IP``, else the first address of ``X-Forwarded-For`` (the client as the first proxy
    saw it), else the peer (API Gateway's ``requestContext.identity.sourceIp``)."""
    forwarded = headers.get("x-forwarded-for") or ""
    return _address(headers.get("x-real-ip")) or _address(forwarded.split(",")[0]) or _address(source_ip)
