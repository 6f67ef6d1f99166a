"""Driving the ``slipway`` CLI as a subprocess against the session's local stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
# The CLI as the console script runs it, from this checkout (whatever the virtualenv points at).
SLIPWAY = [sys.executable, "-m", "slipway_cli"]


def cli_env(base_url: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLIPWAY_")}
    # No profile file of the machine's user is read by the tests.
    env.update(SLIPWAY_URL=base_url, SLIPWAY_CONFIG=str(ROOT / ".local" / "no-such-slipway-config.toml"))
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def slipway(base_url: str, *args: str, timeout: float = 120.0, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SLIPWAY, *args],
        check=False,
        cwd=ROOT,
        env=cli_env(base_url, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def slipway_json(base_url: str, *args: str) -> Any:
    done = slipway(base_url, *args, "-o", "json")
    assert done.returncode == 0, f"slipway {' '.join(args)} exited {done.returncode}: {done.stderr}"
    return json.loads(done.stdout)


@dataclass
class Lines:
    """Lines of a stream, each with the wall-clock time (epoch s) it was read."""

    texts: list[str] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)

    def at(self, text: str) -> float:
        return self.arrivals[self.texts.index(text)]


def _read(stream: IO[str], into: Lines) -> None:
    for line in stream:
        into.texts.append(line.rstrip("\n"))
        into.arrivals.append(time.time())


@dataclass
class Followed:
    returncode: int
    stdout: Lines
    stderr: Lines


def follow(base_url: str, *args: str, timeout: float = 120.0, kill_after: float | None = None) -> Followed:
    """Run the CLI reading its stdout and stderr as they come, line by line, with arrival times;
    with ``kill_after``, it is killed then (its return code is then the kill's, -9)."""
    process = subprocess.Popen(
        [*SLIPWAY, *args],
        cwd=ROOT,
        env=cli_env(base_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    out, err = Lines(), Lines()
    assert process.stdout is not None and process.stderr is not None
    readers = [
        threading.Thread(target=_read, args=(process.stdout, out), daemon=True),
        threading.Thread(target=_read, args=(process.stderr, err), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        if kill_after is not None:
            time.sleep(kill_after)
            process.kill()
        returncode = process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
    for reader in readers:
        reader.join(timeout=10)
    return Followed(returncode, out, err)
