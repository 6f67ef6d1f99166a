"""Page arithmetic of the listing routes (pure: no I/O)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from chalicelib.domain.errors import ValidationError


def parse_page(raw: str | None) -> int:
    if raw is None or raw == "":
        return 1
    # ASCII digits only: int() would also take " 5", "+5" and other scripts' digits.
    page = int(raw) if raw.isascii() and raw.isdigit() else 0
    if page < 1:
        raise ValidationError(f"page must be a positive integer, got {raw!r}", field="page")
    return page


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

    def envelope(self, items: list[dict[str, object]], url_for_page: str) -> dict[str, object]:
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
