"""POSTing a webhook: the one place that speaks HTTP to users' receivers."""

from __future__ import annotations

import functools
import http.client
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.webhook_targets import Networks, blocking_network


@dataclass(frozen=True)
class HttpOutcome:
    """What one POST got: a status code, or the error that kept it from getting one."""

    status_code: int | None
    error: str | None
    duration_ms: int
    # Refused before sending: the target's address is in a blocked network (never retried).
    blocked: bool = False

    @property
    def delivered(self) -> bool:
        # As fastlane: any answer below 400 is a delivery (redirects are not followed).
        return self.status_code is not None and self.status_code < 400


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A receiver's redirect is its answer: never re-sent elsewhere (as a GET, without the body)."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class BlockedAddress(OSError):
    """The connection reached an address no webhook may reach."""


def _screening(create: Callable[..., socket.socket], blocked: Networks) -> Callable[..., socket.socket]:
    """``create`` (``socket.create_connection``), refusing a socket that reached a blocked
    address: checked after the TCP connect, before TLS or a byte of the request. Behind an
    egress proxy the address is the proxy's: screen there."""

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        sock = create(address, *args, **kwargs)
        peer = str(sock.getpeername()[0])
        network = blocking_network(peer, blocked)
        if network is not None:
            sock.close()
            raise BlockedAddress(f"{address[0]} is {peer}, in the blocked network {network}")
        return sock

    return create_connection


# http.client opens its socket through the instance's ``_create_connection``: wrapping it screens
# both HTTP and HTTPS at the one moment that counts.


class _ScreenedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, blocked: Networks = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _screening(self._create_connection, blocked)


class _ScreenedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, blocked: Networks = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _screening(self._create_connection, blocked)


class _ScreenedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, blocked: Networks) -> None:
        super().__init__()
        self.blocked = blocked

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_ScreenedHTTPConnection, blocked=self.blocked), req)


class _ScreenedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, blocked: Networks) -> None:
        super().__init__()
        self.blocked = blocked

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(_ScreenedHTTPSConnection, blocked=self.blocked)
        return self.do_open(connection, req, context=self._context)


@functools.lru_cache(maxsize=8)
def _opener(blocked: Networks) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirects, _ScreenedHTTPHandler(blocked), _ScreenedHTTPSHandler(blocked))


def post_json(url: str, body: bytes, headers: dict[str, str], timeout: float, blocked: Networks = ()) -> HttpOutcome:
    """POST ``body``; a target whose address is in one of ``blocked`` gets nothing."""
    request_headers = {"Content-Type": "application/json", "User-Agent": "slipway-webhooks/1"} | headers
    request = urllib.request.Request(url, data=body, headers=request_headers, method="POST")
    started = time.monotonic()
    try:
        with _opener(blocked).open(request, timeout=timeout) as response:
            response.read(64 * 1024)
            status, error = int(response.status), None
    except urllib.error.HTTPError as exc:
        # urllib raises for every status it does not follow, 3xx included.
        status = int(exc.code)
        error = None if status < 400 else f"HTTP {status} {exc.reason}".strip()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, BlockedAddress):
            return HttpOutcome(None, f"refused: {reason}", int((time.monotonic() - started) * 1000), blocked=True)
        status, error = None, f"{type(exc).__name__}: {reason}"
    return HttpOutcome(status, error, int((time.monotonic() - started) * 1000))
