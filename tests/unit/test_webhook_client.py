"""chalicelib.adapters.webhook_client: a real POST to a real HTTP server in this process."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chalicelib.adapters.webhook_client import post_json
from chalicelib.domain.webhook_targets import parse_networks
from infra.local.stack import free_port

SEEN: list[tuple[str, dict[str, str], bytes]] = []


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        SEEN.append((self.path, dict(self.headers.items()), body))
        status = int(self.path.strip("/") or 200)
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "/200")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_post_carries_the_body_and_the_hook_headers(base: str) -> None:
    outcome = post_json(f"{base}/200", b'{"a": 1}', {"X-Token": "t", "User-Agent": "mine"}, timeout=5)

    assert outcome.delivered and outcome.status_code == 200 and outcome.error is None
    path, headers, body = SEEN[-1]
    assert (path, body) == ("/200", b'{"a": 1}')
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Token"] == "t" and headers["User-Agent"] == "mine"  # the hook's headers win


@pytest.mark.parametrize(
    ("status", "delivered"),
    [(201, True), (204, True), (302, True), (307, True), (399, True), (400, False), (503, False)],
)
def test_below_400_is_a_delivery(base: str, status: int, delivered: bool) -> None:
    outcome = post_json(f"{base}/{status}", b"{}", {}, timeout=5)

    assert (outcome.status_code, outcome.delivered) == (status, delivered)
    assert (outcome.error is None) is delivered
    assert SEEN[-1][0] == f"/{status}"  # a redirect is not followed


def test_no_answer_is_an_error_without_a_status() -> None:
    outcome = post_json(f"http://127.0.0.1:{free_port()}/", b"{}", {}, timeout=2)

    assert outcome.status_code is None and not outcome.delivered
    assert "refused" in (outcome.error or "").lower()


LOOPBACK = parse_networks(("127.0.0.0/8", "::1/128"))


def test_a_name_that_resolves_into_a_blocked_network_gets_nothing(base: str) -> None:
    port = base.rsplit(":", 1)[1]
    seen_before = len(SEEN)

    outcome = post_json(f"http://localhost:{port}/200", b"{}", {}, timeout=5, blocked=LOOPBACK)

    assert outcome.blocked and not outcome.delivered and outcome.status_code is None
    assert "in the blocked network 127.0.0.0/8" in (outcome.error or "")
    assert len(SEEN) == seen_before  # refused after the connect, before the request


def test_https_is_screened_before_its_handshake() -> None:
    # Nothing listens for TLS here: the refusal must come from the screen, not from a handshake.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        outcome = post_json(f"https://localhost:{port}/", b"{}", {}, timeout=5, blocked=LOOPBACK)

    assert outcome.blocked and "refused: localhost is 127.0.0.1" in (outcome.error or "")


def test_other_networks_do_not_stand_in_the_way(base: str) -> None:
    blocked = parse_networks(("169.254.0.0/16", "10.0.0.0/8"))

    outcome = post_json(f"{base}/200", b"{}", {}, timeout=5, blocked=blocked)

    assert outcome.delivered and not outcome.blocked
