"""Whole words of a task id, for the search index: ``hello-world`` → ``hello``, ``world``."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[^a-z0-9]+")


def task_words(task_id: str) -> set[str]:
    words = {word for word in _SEPARATORS.split(task_id.lower()) if word}
    words.add(task_id.lower())
    return words
