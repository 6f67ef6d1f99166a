"""The local front door: one HTTP server that plays API Gateway for the Chalice app.

``chalice local`` serves REST only; this server serves the REST routes through Chalice's own
``LocalGateway`` (its route matching and Lambda event format) on an aiohttp server, so the
WebSocket paths of the API document can share the same port.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import queue
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web
from chalice.config import Config
from chalice.local import ForbiddenError, LocalGateway

logger = logging.getLogger(__name__)


class RestGateway:
    """Runs requests through a pool of Chalice app instances, each one request at a time.

    That is how Lambda serves an API: each execution environment handles one request at a time,
    and concurrent requests get environments of their own. Chalice keeps the request on
    ``app.current_request``, so one app object must never serve two requests at once; each
    instance here is a separate load of ``app.py`` (``server.app_instances``), taken from the
    idle ones for a request and given back after it.
    """

    def __init__(self, chalice_apps: Sequence[Any]) -> None:
        if not chalice_apps:
            raise ValueError("at least one app instance is needed")
        self._idle: queue.SimpleQueue[LocalGateway] = queue.SimpleQueue()
        for chalice_app in chalice_apps:
            self._idle.put(LocalGateway(chalice_app, Config(chalice_stage="local")))
        self.concurrency = len(chalice_apps)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> dict[str, Any]:
        gateway = self._idle.get()
        try:
            return gateway.handle_request(method=method, path=path, headers=headers, body=body)
        except ForbiddenError:
            return {
                "statusCode": 404,
                "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"error": f"no route for {method} {path.split('?')[0]}"}),
            }
        finally:
            self._idle.put(gateway)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding value accepts gzip (``gzip;q=0`` refuses it)."""
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip", "*"):
            quality = params.strip().lower().removeprefix("q=")
            try:
                return not params.strip() or float(quality) > 0
            except ValueError:
                return True
    return False


def _compress(request: web.Request, response: web.Response, min_bytes: int) -> None:
    """Gzip like API Gateway's ``minimumCompressionSize``: bodies of at least ``min_bytes``, for
    clients that accept gzip (``-1`` never)."""
    size = len(response.body or b"") if isinstance(response.body, bytes) else 0
    if min_bytes < 0 or size == 0 or size < min_bytes or "Content-Encoding" in response.headers:
        return
    response.headers.add("Vary", "Accept-Encoding")
    if accepts_gzip(request.headers.get("Accept-Encoding", "")):
        response.enable_compression(web.ContentCoding.gzip)


def _to_response(result: dict[str, Any]) -> web.Response:
    body = result.get("body")
    if result.get("isBase64Encoded") and body is not None:
        payload = base64.b64decode(body)
    else:
        payload = (body or "").encode("utf-8") if isinstance(body, str) else (body or b"")
    response = web.Response(status=int(result["statusCode"]), body=payload)
    headers = result.get("headers") or {}
    # API Gateway answers application/json when the Lambda names no type; so does this server.
    if not any(name.lower() == "content-type" for name in headers):
        response.headers["Content-Type"] = "application/json"
    for name, value in headers.items():
        response.headers[name] = value
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(name, value)
    return response


def build_app(
    rest: RestGateway, extra_routes: list[web.RouteDef] | None = None, gzip_min_bytes: int = -1
) -> web.Application:
    application = web.Application(client_max_size=16 * 1024 * 1024)
    application.add_routes(extra_routes or [])
    # One thread per app instance: a request waits for an idle instance, never for a thread.
    executor = ThreadPoolExecutor(max_workers=rest.concurrency, thread_name_prefix="lambda")

    async def rest_handler(request: web.Request) -> web.StreamResponse:
        body = await request.read() if request.can_read_body else None
        headers = dict(request.headers)
        # API Gateway appends the peer's address to X-Forwarded-For; the app reads the first one.
        forwarded = request.headers.get("X-Forwarded-For")
        peer = request.remote or "127.0.0.1"
        headers = {name: value for name, value in headers.items() if name.lower() != "x-forwarded-for"}
        headers["X-Forwarded-For"] = f"{forwarded}, {peer}" if forwarded else peer
        result = await asyncio.get_running_loop().run_in_executor(
            executor, rest.handle, request.method, request.path_qs, headers, body
        )
        response = _to_response(result)
        _compress(request, response, gzip_min_bytes)
        return response

    # Any character, newlines included (a "." would leave "%0A" paths to aiohttp's text 404).
    application.router.add_route("*", r"/{tail:[\s\S]*}", rest_handler)
    return application
