"""Logging of the long-lived processes (runner, local stack): readable lines, quiet SDKs."""

from __future__ import annotations

import logging
import sys

from chalicelib.domain.redaction import RedactingFilter
from chalicelib.settings import current_secret_env_words

_NOISY = ("botocore", "boto3", "pynamodb", "urllib3", "docker", "aiohttp.access")


def configure(level: str, component: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s {component} %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    install_redaction()


def install_redaction() -> None:
    """Mask secret env values (names holding a ``secret_env_words`` word) in every line the
    root logger's handlers write; in Lambda those are the runtime's own handlers."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(current_secret_env_words))
