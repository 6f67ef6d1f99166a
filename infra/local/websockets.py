"""The local stack's WebSocket API: what API Gateway does for the Chalice WebSocket handlers.

- ``GET /tasks/<t>/jobs/<j>/ws/`` and ``…/executions/<e>/ws/`` (the API document's paths; the
  ids go to ``$connect`` as ``taskId``/``jobId``/``executionId`` query parameters, as the
  CloudFront front door maps them in AWS). A ``$connect`` answer other than 2xx refuses the
  upgrade with that status.
- The management API the runner calls with boto3's ``apigatewaymanagementapi`` client:
  ``POST /@connections/<id>`` sends a text frame (413 above 128 KB, as API Gateway), ``DELETE``
  closes the socket (here with close reason ``done``: only the end of an execution closes a
  viewer), ``GET`` describes it; an unknown id answers 410 ``GoneException``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from chalice.app import WebsocketEvent, WebsocketEventSourceHandler

from chalicelib.domain.log_lines import DONE_REASON

logger = logging.getLogger(__name__)

_WS_PATHS = (
    r"/tasks/{task_id}/{jobs:jobs?}/{job_id}/ws{slash:/?}",
    r"/tasks/{task_id}/{jobs:jobs?}/{job_id}/executions/{execution_id}/ws{slash:/?}",
)
# A slow viewer is given this long per frame before it is dropped (the poster never waits longer).
_SEND_TIMEOUT = 5.0
# The largest message API Gateway's @connections accepts (128 KB); a longer one is refused
# with 413 PayloadTooLargeException, and the viewer gets nothing of it.
MAX_MESSAGE_BYTES = 128 * 1024


class _Socket:
    def __init__(self, ws: web.WebSocketResponse, source_ip: str) -> None:
        self.ws = ws
        self.source_ip = source_ip
        self.connected_at = datetime.now(UTC)
        self.last_active_at = self.connected_at


class LocalWebsocketApi:
    def __init__(self, chalice_app: Any, stage: str = "local") -> None:
        self._app = chalice_app
        self._stage = stage
        self._sockets: dict[str, _Socket] = {}

    def routes(self) -> list[web.RouteDef]:
        routes = [web.get(path, self._upgrade) for path in _WS_PATHS]
        routes += [
            web.post("/@connections/{connection_id}", self._post),
            web.delete("/@connections/{connection_id}", self._delete),
            web.get("/@connections/{connection_id}", self._info),
        ]
        return routes

    # -- the Lambda side ------------------------------------------------------------------

    def _event(self, request: web.Request, route_key: str, connection_id: str, **extra: Any) -> dict[str, Any]:
        event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
        return {
            "headers": dict(request.headers),
            "requestContext": {
                "routeKey": route_key,
                "eventType": event_type,
                "connectionId": connection_id,
                "apiId": "local",
                "stage": self._stage,
                "domainName": request.host,
                "requestTimeEpoch": int(time.time() * 1000),
                "identity": {"sourceIp": request.remote or "127.0.0.1"},
            },
            "isBase64Encoded": False,
            **extra,
        }

    async def _invoke(self, route_key: str, event: dict[str, Any]) -> dict[str, Any] | None:
        config = self._app.websocket_handlers.get(route_key)
        if config is None:
            return None
        # What the Lambda runtime calls: Chalice's own wrapper builds the WebsocketEvent.
        handler = WebsocketEventSourceHandler(config.handler_function, WebsocketEvent, self._app.websocket_api)
        return await asyncio.get_running_loop().run_in_executor(None, handler, event, None)

    # -- the viewer side -----------------------------------------------------------------

    async def _upgrade(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=30)
        if not ws.can_prepare(request).ok:
            return web.json_response({"error": "this path takes a WebSocket upgrade"}, status=426)
        params = dict(request.query)
        params.update(taskId=request.match_info["task_id"], jobId=request.match_info["job_id"])
        if "execution_id" in request.match_info:
            params["executionId"] = request.match_info["execution_id"]
        connection_id = secrets.token_urlsafe(12).replace("-", "A").replace("_", "B")
        connect = self._event(request, "$connect", connection_id, queryStringParameters=params)
        # The socket is findable only once the upgrade is done: posts during $connect are
        # answered Gone, as API Gateway refuses them.
        answer = await self._invoke("$connect", connect) or {"statusCode": 200}
        status = int(answer.get("statusCode", 200))
        if status >= 300:
            body = answer.get("body") or json.dumps({"error": "connection refused"})
            return web.Response(status=status, body=body, content_type="application/json")
        await ws.prepare(request)
        self._sockets[connection_id] = _Socket(ws, request.remote or "127.0.0.1")
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._sockets[connection_id].last_active_at = datetime.now(UTC)
                    await self._invoke("$default", self._event(request, "$default", connection_id, body=message.data))
        finally:
            self._sockets.pop(connection_id, None)
            try:
                await self._invoke("$disconnect", self._event(request, "$disconnect", connection_id))
            except Exception:
                logger.exception("$disconnect handler failed for %s", connection_id)
        return ws

    # -- the management API ---------------------------------------------------------------

    def _find(self, request: web.Request) -> _Socket | None:
        socket = self._sockets.get(request.match_info["connection_id"])
        return None if socket is None or socket.ws.closed else socket

    @staticmethod
    def _gone(request: web.Request) -> web.Response:
        return web.json_response(
            {"message": f"connection {request.match_info['connection_id']} is gone"},
            status=410,
            headers={"x-amzn-ErrorType": "GoneException"},
        )

    async def _post(self, request: web.Request) -> web.Response:
        socket = self._find(request)
        if socket is None:
            return self._gone(request)
        data = await request.read()
        if len(data) > MAX_MESSAGE_BYTES:
            return web.json_response(
                {"message": f"message of {len(data)} bytes is over the {MAX_MESSAGE_BYTES} bytes limit"},
                status=413,
                headers={"x-amzn-ErrorType": "PayloadTooLargeException"},
            )
        try:
            await asyncio.wait_for(socket.ws.send_str(data.decode("utf-8", errors="replace")), _SEND_TIMEOUT)
        except (TimeoutError, ConnectionError, RuntimeError):
            await socket.ws.close(code=WSCloseCode.GOING_AWAY, message=b"too slow")
            return self._gone(request)
        return web.Response(status=200)

    async def _delete(self, request: web.Request) -> web.Response:
        socket = self._find(request)
        if socket is None:
            return self._gone(request)
        await socket.ws.close(code=WSCloseCode.OK, message=DONE_REASON.encode())
        return web.Response(status=204)

    async def _info(self, request: web.Request) -> web.Response:
        socket = self._find(request)
        if socket is None:
            return self._gone(request)
        return web.json_response(
            {
                "connectedAt": socket.connected_at.isoformat(),
                "identity": {"sourceIp": socket.source_ip},
                "lastActiveAt": socket.last_active_at.isoformat(),
            }
        )
