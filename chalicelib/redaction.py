"""Hiding secret env values from everything the service shows."""

from __future__ import annotations

from collections.abc import Iterable

MASK = "***"


def is_secret_name(name: str, words: Iterable[str]) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in words)


def redact_envs(envs: dict[str, str], words: Iterable[str]) -> dict[str, str]:
    words = tuple(words)
    return {name: MASK if is_secret_name(name, words) else value for name, value in envs.items()}
