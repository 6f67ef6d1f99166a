"""Capturing one stream of a container's output: all of it on disk, the tail in memory."""

from __future__ import annotations

import tempfile
from typing import BinaryIO

# Kept in memory before spilling to a temporary file: small outputs never touch the disk.
_SPOOL_BYTES = 1024 * 1024


class StreamCapture:
    def __init__(self, inline_limit: int) -> None:
        self._file: BinaryIO = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # type: ignore[assignment]  # noqa: SIM115 - closed by close()
        self._tail = bytearray()
        self._inline_limit = inline_limit
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self.size += len(chunk)
        self._tail += chunk
        # Trim lazily so a stream of small chunks costs amortised O(1) per byte.
        if len(self._tail) > 2 * self._inline_limit:
            del self._tail[: len(self._tail) - self._inline_limit]

    @property
    def truncated(self) -> bool:
        return self.size > self._inline_limit

    def tail_text(self) -> str:
        """The last ``inline_limit`` bytes, decoded (a split UTF-8 sequence becomes U+FFFD)."""
        return bytes(self._tail[-self._inline_limit :]).decode("utf-8", errors="replace")

    def rewound(self) -> BinaryIO:
        self._file.seek(0)
        return self._file

    def close(self) -> None:
        self._file.close()
