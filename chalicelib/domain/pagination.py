"""Page arithmetic of the listing routes (pure: no I/O)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypedDict, TypeVar, cast

from chalicelib.domain.errors import ValidationError


def parse_page(raw: str | None) -> int:
    if raw is None or raw == "":
        return 1
    # ASCII digits only: int() would also take " 5", "+5" and other scripts' digits.
    page = int(raw) if raw.isascii() and raw.isdigit() else 0
    if page < 1:
        raise ValidationError(f"page must be a positive integer, got {raw!r}", field="page")
    return page


T = TypeVar("T")


class Paging(TypedDict):
    """Where a page is in its listing."""

    hasNext: bool
    hasPrev: bool
    nextUrl: str | None
    page: int
    pages: int
    perPage: int
    prevUrl: str | None
    total: int


class PageOf(Paging, Generic[T]):
    items: list[T]


@dataclass(frozen=True)
class Page:
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.per_page) if self.per_page else 0

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    def envelope(self, items: list[T], url_for_page: str) -> PageOf[T]:
        """The document's pagination keys; ``url_for_page`` has a ``{page}`` placeholder."""
        return {
            "hasNext": self.has_next,
            "hasPrev": self.has_prev,
            "items": items,
            "nextUrl": url_for_page.format(page=self.page + 1) if self.has_next else None,
            "page": self.page,
            "pages": self.pages,
            "perPage": self.per_page,
            "prevUrl": url_for_page.format(page=self.page - 1) if self.has_prev else None,
            "total": self.total,
        }

    def paging(self, url_for_page: str) -> Paging:
        """The envelope without its items (a job's executions are listed inside the job)."""
        envelope: PageOf[object] = self.envelope([], url_for_page)
        return cast(Paging, {key: value for key, value in envelope.items() if key != "items"})
