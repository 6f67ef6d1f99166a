"""Hiding secret env values from everything the service shows."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

MASK = "***"


def is_secret_name(name: str, words: Iterable[str]) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in words)


def redact_envs(envs: dict[str, str], words: Iterable[str]) -> dict[str, str]:
    words = tuple(words)
    return {name: MASK if is_secret_name(name, words) else value for name, value in envs.items()}


# Headers that carry credentials whatever the configured words say.
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")


def redact_webhooks(webhooks: dict[str, list[dict[str, Any]]], words: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The job's hooks as the API shows them: header values that look like credentials masked
    (a name holding a secret word, or Authorization/Cookie). Deliveries use the real ones."""
    words = tuple(words) + CREDENTIAL_HEADERS
    return {
        event: [hook | {"headers": redact_envs(hook.get("headers") or {}, words)} for hook in hooks]
        for event, hooks in webhooks.items()
    }


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
