"""Logging of the long-lived processes (runner, local stack): readable lines, quiet SDKs."""

from __future__ import annotations

import logging
import sys

_NOISY = ("botocore", "boto3", "pynamodb", "urllib3", "docker", "aiohttp.access")


def configure(level: str, component: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s {component} %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
