"""``python -m runner``: run a runner on this host's Docker Engine until SIGTERM/SIGINT.

The first signal drains (stops taking work, lets running containers finish for up to
``SLIPWAY_DRAIN_SECONDS``, hands the rest back to the queue) and exits 0; a second one hands
everything back at once and exits 1; a third quits on the spot (a restart re-attaches).
``python -m runner prune`` removes leftover containers of finished executions.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from types import FrameType

from chalicelib.logs_setup import configure
from chalicelib.settings import get_settings
from runner.metadata_probe import MetadataReachable
from runner.worker import Runner

# The exit status of a runner that refuses to take work (the systemd unit does not restart it).
EXIT_REFUSED = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", choices=("run", "prune"), default="run")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--dangling-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="prune: also remove containers this old whose execution no runner holds",
    )
    parser.add_argument("--dry-run", action="store_true", help="prune: only print what would be removed")
    args = parser.parse_args(argv)
    configure(args.log_level, "runner")
    if args.command == "prune":
        return run_prune(args.dangling_after, args.dry_run)
    return run_runner()


def run_runner() -> int:
    runner = Runner(get_settings())
    log = logging.getLogger("runner")
    signals = {"count": 0}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals["count"] += 1
        if signals["count"] == 1:
            log.info("warm stop: draining running executions (signal again to hand them back now)")
            runner.stop()
        elif signals["count"] == 2:
            log.warning("cold stop: handing running executions back to the queue")
            runner.hurry()
        else:
            log.warning("quitting now; a restart re-attaches to the running containers")
            os._exit(1)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        runner.work()
    except MetadataReachable:
        return EXIT_REFUSED
    return 0 if signals["count"] < 2 else 1


def run_prune(dangling_after: float | None, dry_run: bool) -> int:
    from runner.docker_engine import DockerEngine
    from runner.prune import prune

    settings = get_settings()
    pruned = prune(settings, DockerEngine(), dangling_after=dangling_after, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for item in pruned:
        print(f"{verb} {item.container_id[:12]} (execution {item.execution_id}: {item.reason})")
    print(f"{len(pruned)} container(s) {verb} for stage {settings.stage}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
