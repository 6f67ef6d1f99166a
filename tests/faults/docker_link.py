"""A real, breakable connection between a runner and the Docker Engine: a TCP forwarder to the
Engine's socket that the runner reaches as ``DOCKER_HOST=tcp://…``.

``cut()`` closes every open connection (a ``wait`` or ``logs --follow`` in progress breaks, as
when dockerd crashes) and stops listening, so new calls are refused; ``restore()`` listens again
on the same port. The Engine itself and its containers are untouched: other tests sharing it
see nothing.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from types import TracebackType

from docker.constants import DEFAULT_UNIX_SOCKET

from infra.local.stack import free_port


def _engine_socket() -> str:
    """The path of the Engine's unix socket: ``DOCKER_HOST`` when it names one, else Docker's default."""
    host = os.environ.get("DOCKER_HOST", "")
    address = host if host.startswith("unix://") else DEFAULT_UNIX_SOCKET
    return address.split("://", 1)[1]


class DockerLink:
    def __init__(self) -> None:
        self.port = free_port()
        self._target = _engine_socket()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> DockerLink:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="docker-link", daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                engine.connect(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, engine}
            for source, sink in ((client, engine), (engine, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._open -= {source, sink}

    def cut(self) -> None:
        """Refuse new connections and break the open ones."""
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
            self._listener.close()
            self._listener = None
        with self._lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        if self._listener is None:
            self.start()

    def __enter__(self) -> DockerLink:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.cut()
