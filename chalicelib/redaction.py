"""Hiding secret env values from everything the service shows."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable

MASK = "***"


def is_secret_name(name: str, words: Iterable[str]) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in words)


def redact_envs(envs: dict[str, str], words: Iterable[str]) -> dict[str, str]:
    words = tuple(words)
    return {name: MASK if is_secret_name(name, words) else value for name, value in envs.items()}


# ``NAME=value``, ``NAME: value``, ``"NAME": "value"``: what a log line that shows an env var looks like.
_ASSIGNMENT = re.compile(
    r"""(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)(?P<sep>["']?\s*(?:=|:)\s*["']?)(?P<value>[^\s"',;&}\]]+)"""
)


def redact_text(text: str, words: Iterable[str]) -> str:
    """``text`` with the value of every ``name=value`` (or ``name: value``) whose name holds a
    secret word masked. Errs on the side of hiding: ``monkey=1`` is masked too."""
    words = tuple(words)

    def mask(match: re.Match[str]) -> str:
        if not is_secret_name(match["name"], words):
            return match[0]
        return f"{match['name']}{match['sep']}{MASK}"

    return _ASSIGNMENT.sub(mask, text)


class RedactingFilter(logging.Filter):
    """A handler filter that masks secret values in every line before it is written."""

    def __init__(self, words: Callable[[], Iterable[str]]) -> None:
        super().__init__()
        self.words = words

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message, self.words())
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
