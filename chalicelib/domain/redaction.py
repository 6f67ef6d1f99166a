"""Hiding secrets from everything the service shows: answers, webhooks, e-mails and logs.

- Env values: every one is shown as ``***`` unless its name is on ``visible_env_names``; a
  reference to a secret (``{"secretRef": "<ARN>"}``) is shown as ``secretRef:<ARN>``, which
  names the secret without holding it.
- Credentials in URLs (``https://user:password@host``, ``https://token@host``) are masked in
  every text shown: commands, webhook URLs, log lines.
- Free text (log lines, tracebacks): the value of a ``name=value`` whose name holds a secret word
  is masked whole (a quoted value up to its closing quote), and so is every value a process
  registered as secret (``SecretValues``: the runner registers each job's env values).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

MASK = "***"
SECRET_REF = "secretRef"


def is_secret_name(name: str, words: Iterable[str]) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in words)


def is_visible_name(name: str, visible: Iterable[str]) -> bool:
    """Whether the env ``name`` is on the allow-list ``visible`` (compared without case)."""
    lowered = name.lower()
    return any(lowered == each.lower() for each in visible)


def shown_env_value(name: str, value: object, visible: Iterable[str]) -> str:
    """How one env value is shown: a reference by its ARN, a value in clear only when allowed."""
    if isinstance(value, Mapping) and SECRET_REF in value:
        return f"{SECRET_REF}:{value[SECRET_REF]}"
    if is_visible_name(name, visible):
        return str(value)
    return MASK


def show_envs(envs: Mapping[str, object], visible: Iterable[str]) -> dict[str, str]:
    """The job's env vars as the service shows them (see the module's docstring)."""
    visible = tuple(visible)
    return {name: shown_env_value(name, value, visible) for name, value in envs.items()}


def redact_envs(envs: Mapping[str, str], words: Iterable[str]) -> dict[str, str]:
    """Values whose name holds one of ``words`` masked (for headers; env vars use ``show_envs``)."""
    words = tuple(words)
    return {name: MASK if is_secret_name(name, words) else value for name, value in envs.items()}


# Headers that carry credentials whatever the configured words say.
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")


def redact_webhooks(webhooks: dict[str, list[dict[str, Any]]], words: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The job's hooks as the API shows them: credentials in their URL masked, and header values
    that look like credentials (a name holding a secret word, or Authorization/Cookie).
    Deliveries use the real ones."""
    words = tuple(words) + CREDENTIAL_HEADERS
    return {
        event: [
            hook
            | {
                "url": mask_url_credentials(str(hook.get("url", ""))),
                "headers": redact_envs(hook.get("headers") or {}, words),
            }
            for hook in hooks
        ]
        for event, hooks in webhooks.items()
    }


# ``scheme://user:password@`` or ``scheme://token@``: the user-info part of a URL.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^\s/@:]*)(?::(?P<password>[^\s/@]*))?@")


def mask_url_credentials(text: str) -> str:
    """``text`` with the password (or the lone token) of every URL's user-info masked."""

    def mask(match: re.Match[str]) -> str:
        if match["password"] is not None:
            return f"{match['scheme']}{match['user']}:{MASK}@"
        return f"{match['scheme']}{MASK}@"

    return _URL_USERINFO.sub(mask, text)


# ``NAME=value``, ``NAME: value``, ``"NAME": "value"``: what a log line that shows an env var looks
# like. A quoted value is taken up to its closing quote (spaces and all), a bare one to a separator.
_ASSIGNMENT = re.compile(
    r"""(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)(?P<sep>["']?\s*(?:=|:)\s*)"""
    r"""(?:(?P<quote>["'])(?P<quoted>(?:\\.|(?!(?P=quote)).)*)(?P=quote)|(?P<bare>[^\s"',;&}\]]+))"""
)


def redact_text(text: str, words: Iterable[str], values: Iterable[str] = ()) -> str:
    """``text`` with URL credentials, every one of ``values`` and the value of every
    ``name=value`` whose name holds a secret word masked. Errs on the side of hiding:
    ``monkey=1`` is masked too."""
    words = tuple(words)
    for value in sorted(set(values), key=len, reverse=True):
        text = text.replace(value, MASK)
    text = mask_url_credentials(text)

    def mask(match: re.Match[str]) -> str:
        if not is_secret_name(match["name"], words):
            return match[0]
        quote = match["quote"] or ""
        return f"{match['name']}{match['sep']}{quote}{MASK}{quote}"

    return _ASSIGNMENT.sub(mask, text)


class SecretValues:
    """Values this process knows to be secret (the env values of the jobs it runs), so that the
    log filter masks them wherever they appear. Bounded: the oldest are forgotten first."""

    # Shorter values are not registered: masking every "1" or "on" would make logs unreadable.
    MIN_LENGTH = 4

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._values: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, values: Iterable[str]) -> None:
        with self._lock:
            for value in values:
                if len(value) < self.MIN_LENGTH:
                    continue
                self._values[value] = None
                self._values.move_to_end(value)
            while len(self._values) > self.capacity:
                self._values.popitem(last=False)

    def snapshot(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._values)


# The secret values of this process (one per process, as its log handlers are).
SECRET_VALUES = SecretValues()


class RedactingFilter(logging.Filter):
    """A handler filter that masks secrets in every line before it is written, its traceback
    and stack included."""

    def __init__(self, words: Callable[[], Iterable[str]], values: SecretValues = SECRET_VALUES) -> None:
        super().__init__()
        self.words = words
        self.values = values

    def filter(self, record: logging.LogRecord) -> bool:
        words, values = tuple(self.words()), self.values.snapshot()
        message = record.getMessage()
        redacted = redact_text(message, words, values)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, words, values)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, words, values)
        return True
