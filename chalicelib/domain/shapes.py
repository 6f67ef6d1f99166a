"""Markers for the typed answers (``services/views.py``): schema keywords a Python type cannot
say, read by the OpenAPI document (``Annotated[str, Keywords(pattern=...)]``)."""

from __future__ import annotations

from typing import Annotated, Any


class Keywords:
    """OpenAPI schema keywords of an annotated field."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords


IsoTime = Annotated[str | None, Keywords(description="ISO time in UTC, e.g. 2019-01-17T15:13:02.754000")]
