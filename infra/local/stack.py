"""``python -m infra.local``: the whole service on this machine, in the foreground.

Starts (unless an endpoint is given) the local AWS emulator (MiniStack, ``aws_emulator.py``)
with its state in ``--data-dir``, provisions the deployment's tables, queues and bucket on it,
serves the API on ``--port`` and runs a runner on the local Docker Engine. Ctrl-C (or SIGTERM)
stops everything and the emulator saves its state, so the next start goes on where this one
stopped. Pointing ``--aws-endpoint`` at LocalStack (or leaving ``AWS_ENDPOINT_URL`` unset with
real credentials) runs the same code against it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from chalicelib.logs_setup import configure
from infra.local.aws_emulator import DEFAULT_CHECKPOINT_SECONDS, DEFAULT_DATA_DIR

if TYPE_CHECKING:
    from chalicelib.settings import Settings

logger = logging.getLogger("slipway.local")

# Requests the local API serves at once (Lambda gives each concurrent request an environment).
DEFAULT_API_CONCURRENCY = 4
# The image bin/build-test-images makes (busybox applets and bash), for the metadata probe.
LOCAL_TEST_IMAGE = "slipway-test/busybox:latest"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before {url} answered")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError as exc:
            if getattr(exc, "code", None):  # an HTTP error status: the server is up
                return
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def start_local_aws(args: argparse.Namespace) -> subprocess.Popen[bytes]:
    """The emulator on ``--emulator-port``, keeping its state in ``--data-dir`` (none with
    ``--ephemeral``); ready once its health route answers."""
    from infra.local.aws_emulator import HEALTH_PATH, EmulatorOptions, holds_data, start_emulator, wipe

    data_dir = None if args.ephemeral else Path(args.data_dir).resolve()
    if data_dir is not None:
        if args.fresh:
            wipe(data_dir)
        kept = "continuing from the data stored there" if holds_data(data_dir) else "empty"
        logger.info("local AWS data: %s (%s; --fresh starts empty)", data_dir, kept)
    else:
        logger.info("local AWS data: in memory only (--ephemeral): nothing is kept after a stop")
    options = EmulatorOptions(port=args.emulator_port, data_dir=data_dir, checkpoint_seconds=args.checkpoint_seconds)
    log_path = None if data_dir is None else data_dir / "emulator.log"
    process = start_emulator(options, log_path)
    wait_for_http(f"http://127.0.0.1:{args.emulator_port}{HEALTH_PATH}", timeout=60, process=process)
    return process


def stop_process(process: subprocess.Popen[bytes], name: str, grace: float = 30.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        logger.warning("%s did not stop within %.0f s; killing it", name, grace)
        process.kill()
        process.wait()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("SLIPWAY_PORT", "10000")))
    parser.add_argument("--host", default=os.environ.get("SLIPWAY_BIND", "127.0.0.1"))
    parser.add_argument("--aws-endpoint", default=None, help="use this AWS endpoint instead of starting the emulator")
    parser.add_argument(
        "--emulator-port", type=int, default=0, help="port of the local AWS emulator (default: a free one)"
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("SLIPWAY_DATA_DIR", str(DEFAULT_DATA_DIR)),
        help="where the local AWS keeps its data between runs (default: .local/data of the checkout)",
    )
    parser.add_argument("--fresh", action="store_true", help="forget the data stored in --data-dir and start empty")
    parser.add_argument("--ephemeral", action="store_true", help="keep the local AWS data in memory only")
    parser.add_argument(
        "--checkpoint-seconds",
        type=float,
        default=DEFAULT_CHECKPOINT_SECONDS,
        help="how often the emulator saves its state while running (bounds what a crash loses; 0 = only at stop)",
    )
    parser.add_argument("--stage", default=os.environ.get("SLIPWAY_STAGE", "local"))
    parser.add_argument("--runners", type=int, default=1, help="runners to start on the local Docker Engine")
    parser.add_argument(
        "--runner-env",
        action="append",
        default=[],
        metavar="JSON",
        help="one runner with these extra environment variables (repeatable; replaces --runners), "
        'e.g. \'{"SLIPWAY_RUNNER_POOL": "gpu"}\'',
    )
    parser.add_argument(
        "--api-concurrency",
        type=int,
        default=DEFAULT_API_CONCURRENCY,
        help="requests the API serves at once, each in an app instance of its own, as Lambda "
        f"environments would (default {DEFAULT_API_CONCURRENCY})",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def runner_environments(args: argparse.Namespace, settings: Settings) -> list[dict[str, str]]:
    """The extra environment of each runner to start: the ``--runner-env`` ones if given; else,
    with pools configured, each pool's ``runners``; else ``--runners`` in the default pool."""
    if args.runner_env:
        return [{str(k): str(v) for k, v in json.loads(text).items()} for text in args.runner_env]
    if settings.pools.strip():
        envs = [
            {"SLIPWAY_RUNNER_POOL": pool.name, "SLIPWAY_RUNNER_HOST": f"{settings.runner_host}-{pool.name}-{n + 1}"}
            for pool in settings.pool_list
            for n in range(pool.runners)
        ]
    else:
        envs = [{} for _ in range(args.runners)]
        if args.runners > 1:
            envs = [{"SLIPWAY_RUNNER_HOST": f"{settings.runner_host}-{n + 1}"} for n in range(args.runners)]
    return envs


def announce_access(host: str, settings: Settings) -> None:
    """Say at start-up who may call this API: with no credentials configured, anyone who can
    reach ``host``."""
    if settings.credentials.enabled:
        logger.info("authentication is on: callers need an API key or a Basic user")
    elif host in ("127.0.0.1", "localhost", "::1"):
        logger.warning(
            "authentication is off: the API is open to anyone on this machine (%s only); "
            "set SLIPWAY_AUTH_API_KEYS or SLIPWAY_AUTH_SCOPED_KEYS to require keys",
            host,
        )
    else:
        logger.warning(
            "AUTHENTICATION IS OFF and the API listens on %s: anyone who can reach it can run any image "
            "on this machine's Docker; set SLIPWAY_AUTH_API_KEYS or SLIPWAY_AUTH_SCOPED_KEYS",
            host,
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure(args.log_level, "stack")
    with ExitStack() as cleanup:
        endpoint = args.aws_endpoint or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint is None:
            args.emulator_port = args.emulator_port or free_port()
            logger.info("starting the local AWS emulator (MiniStack) on port %d", args.emulator_port)
            emulator = start_local_aws(args)
            # Stopped last (callbacks run in reverse): it saves its state once the others are done.
            cleanup.callback(stop_process, emulator, "local AWS emulator", 120)
            endpoint = f"http://127.0.0.1:{args.emulator_port}"
            for name, value in FAKE_CREDENTIALS.items():
                os.environ.setdefault(name, value)
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        os.environ["SLIPWAY_STAGE"] = args.stage
        # This process's front door answers the WebSocket management API (@connections).
        os.environ.setdefault("SLIPWAY_WS_MANAGEMENT_URL", f"http://127.0.0.1:{args.port}")
        # The runners' metadata probe runs in the local test image (bin/build-test-images), which
        # has the wget it needs; with a local AWS it warns rather than refuses (runner/metadata_probe.py).
        os.environ.setdefault("SLIPWAY_METADATA_PROBE_IMAGE", os.environ.get("SLIPWAY_TEST_IMAGE", LOCAL_TEST_IMAGE))
        # Webhooks and e-mails link back here (no request to take the host from).
        os.environ.setdefault("SLIPWAY_LINKS_BASE_URL", f"http://localhost:{args.port}")
        # GET /metrics answers the counters from the counters table (the API, the runners and the
        # dispatcher are separate processes); no EMF lines on the terminal, nothing sent to the
        # emulator's CloudWatch (a runner given SLIPWAY_METRICS_SINK=cloudwatch sends there).
        os.environ.setdefault("SLIPWAY_METRICS_LOCAL_COUNTERS", "1")
        os.environ.setdefault("SLIPWAY_METRICS_SINK", "off")
        # Webhook receivers on this machine are allowed locally (AWS blocks loopback and private ranges).
        from chalicelib.settings import LOCAL_WEBHOOK_BLOCKED_NETWORKS

        os.environ.setdefault("SLIPWAY_WEBHOOK_BLOCKED_NETWORKS", ",".join(LOCAL_WEBHOOK_BLOCKED_NETWORKS))
        # Imported only now: settings and table names are read from the environment at import.
        from chalicelib.settings import get_settings
        from infra.local.provision import provision

        settings = get_settings()
        announce_access(args.host, settings)
        logger.info("provisioning stage %r on %s", settings.stage, endpoint)
        provision(settings)
        for index, extra in enumerate(runner_environments(args, settings)):
            env = {**os.environ, **extra}
            runner = subprocess.Popen([sys.executable, "-m", "runner", "--log-level", args.log_level], env=env)
            cleanup.callback(stop_process, runner, "runner")
            logger.info("runner %d started (pid %d) on the local Docker Engine", index + 1, runner.pid)
        from infra.local.server import serve

        serve(args.host, args.port, settings, api_concurrency=max(1, args.api_concurrency))
    logger.info("stopped")
    return 0
