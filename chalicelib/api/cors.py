"""CORS: which browser origins may call the API, and the headers that say so (pure).

Off unless ``SLIPWAY_CORS_ORIGINS`` names origins (or ``*``). Chalice's own ``CORSConfig``
allows a single fixed origin; several origins need the request's ``Origin`` echoed back when it
is allowed, so the app answers preflights (``OPTIONS``) and adds the headers itself, the same
way locally and behind API Gateway.
"""

from __future__ import annotations

from collections.abc import Iterable

# Request headers a browser may send cross-origin besides the CORS-safelisted ones.
ALLOWED_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "X-Api-Key")
# Response headers a cross-origin script may read.
EXPOSED_HEADERS = ("Idempotent-Replayed", "Location", "WWW-Authenticate")


def allowed_origin(origin: str | None, allowed: Iterable[str]) -> str | None:
    """The value of Access-Control-Allow-Origin for ``origin``, or None if not allowed."""
    allowed = tuple(allowed)
    if not origin or not allowed:
        return None
    if "*" in allowed:
        return "*"
    return origin if origin.rstrip("/").lower() in {a.rstrip("/").lower() for a in allowed} else None


def response_headers(origin: str | None, allowed: Iterable[str]) -> dict[str, str]:
    """Headers added to an actual (non-preflight) response."""
    allowed = tuple(allowed)
    if not allowed:
        return {}
    value = allowed_origin(origin, allowed)
    headers = {"Vary": "Origin"} if "*" not in allowed else {}
    if value is not None:
        headers["Access-Control-Allow-Origin"] = value
        headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
    return headers


def preflight_headers(
    origin: str | None, allowed: Iterable[str], methods: Iterable[str], max_age_seconds: int
) -> dict[str, str]:
    """Headers of the answer to a preflight ``OPTIONS``; without Allow-Origin when refused."""
    headers = response_headers(origin, allowed)
    if "Access-Control-Allow-Origin" in headers:
        headers.pop("Access-Control-Expose-Headers")
        headers["Access-Control-Allow-Methods"] = ", ".join(sorted({*methods, "OPTIONS"}))
        headers["Access-Control-Allow-Headers"] = ", ".join(ALLOWED_HEADERS)
        headers["Access-Control-Max-Age"] = str(max_age_seconds)
    return headers
