"""The local stack's AWS endpoint: moto's server, with DynamoDB requests made atomic.

DynamoDB applies each request atomically: a conditional write or a transaction sees no other
write between its check and its write. moto's server answers requests on parallel threads
without that guarantee, so two racing ``TransactWriteItems`` with the same
``attribute_not_exists`` condition could both succeed there, which no real table allows (and
which Slipway's races - a task's first jobs, slot leases, claims - rely on never happening).
Serializing DynamoDB requests restores the real semantics; the other services (SQS long polls
above all) still run in parallel.

Run as ``python -m infra.local.moto_server -H 127.0.0.1 -p <port>``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def atomic_dynamodb(app: WsgiApp) -> WsgiApp:
    """One DynamoDB request at a time (identified by its ``X-Amz-Target``), others in parallel."""
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return app(environ, start_response)
        with lock:
            # The body is produced inside the lock: moto does its work while answering.
            return list(app(environ, start_response))

    return serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    application = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        atomic_dynamodb(application),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
