"""``python -m runner``: run a runner on this host's Docker Engine until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from chalicelib.logs_setup import configure
from chalicelib.settings import get_settings
from runner.worker import Runner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner", description=__doc__)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    configure(args.log_level, "runner")
    runner = Runner(get_settings())
    signals = {"count": 0}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals["count"] += 1
        if signals["count"] == 1:
            logging.getLogger("runner").info("warm stop: finishing running executions (signal again to quit now)")
            runner.stop()
        else:
            logging.getLogger("runner").warning("cold stop")
            sys.exit(1)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runner.work()
    return 0


if __name__ == "__main__":
    sys.exit(main())
