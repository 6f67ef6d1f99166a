"""A real network fault between a runner and the AWS emulator, for the tests: an HTTP forwarder
in the test process that a runner reaches instead of the emulator (``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL_DYNAMODB``, boto3's own per-service endpoints), and that can

- ``cut()`` the link: it stops listening and drops what is in flight, so the runner's calls
  fail with connection refused, as with an endpoint that is down; ``restore()`` listens again
  on the same port;
- ``hold(*parts)``: requests whose body contains every one of ``parts`` get no answer until ``release()``,
  then the connection is dropped (a write stuck on the network, the process killed meanwhile).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from infra.local.stack import free_port

# Hop-by-hop headers: the forwarder sends whole bodies with their length.
_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te", "trailer"}


class FaultyLink:
    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self._upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._held: list[tuple[bytes, ...]] = []
        self._released = threading.Event()
        self.held_count = 0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- control --------------------------------------------------------------------------------

    def start(self) -> FaultyLink:
        link = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def setup(self) -> None:
                super().setup()
                with link._lock:
                    link._open.add(self.connection)

            def finish(self) -> None:
                with link._lock:
                    link._open.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with link._lock:
                    held = any(all(part in body for part in parts) for parts in link._held)
                    if held:
                        link.held_count += 1
                if held:
                    link._released.wait(120)
                    self.close_connection = True
                    return
                upstream = http.client.HTTPConnection(*link._upstream, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP | {"expect"}}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    payload = answer.read()
                finally:
                    upstream.close()
                self.send_response_only(answer.status, answer.reason)
                for key, value in answer.getheaders():
                    if key.lower() not in _HOP | {"content-length"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="faulty-link", daemon=True)
        self._thread.start()
        return self

    def cut(self) -> None:
        """Stop listening: new connections are refused (kept-alive ones are dropped)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        if self._server is None:
            self.start()

    def hold(self, *parts: bytes) -> None:
        with self._lock:
            self._held.append(parts)
        self._released.clear()

    def release(self) -> None:
        with self._lock:
            self._held.clear()
        self._released.set()

    def stop(self) -> None:
        self.release()
        self.cut()

    def __enter__(self) -> FaultyLink:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
