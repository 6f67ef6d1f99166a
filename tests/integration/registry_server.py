"""A real private registry for the tests: Debian's ``docker-registry`` (the Distribution
project's) with htpasswd auth, serving ``work`` on ``address`` (``host:port``)."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

import requests

from infra.local.stack import stop_process
from tests.conftest import LOG_DIR


def start_registry(work: Path, address: str, user: str, password: str, log_name: str) -> subprocess.Popen[bytes]:
    """Start it; answers once its ``/v2/`` asks for credentials (a 401)."""
    htpasswd = subprocess.run(
        ["htpasswd", "-Bbn", user, password], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    (work / "htpasswd").write_text(htpasswd)
    (work / "config.yml").write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {work / 'data'}\n"
        f"http:\n  addr: {address}\n"
        f"auth:\n  htpasswd:\n    realm: slipway-test\n    path: {work / 'htpasswd'}\n"
    )
    log = (LOG_DIR / log_name).open("wb")
    process = subprocess.Popen(["docker-registry", "serve", str(work / "config.yml")], stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.ConnectionError):
            if requests.get(f"http://{address}/v2/", timeout=2).status_code == 401:
                return process
        time.sleep(0.2)
    stop_process(process, "registry")
    raise AssertionError("the registry did not start")
