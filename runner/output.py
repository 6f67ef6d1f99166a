"""Capturing one stream of a container's output: all of it on disk, the tail in memory."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from typing import BinaryIO, cast

from chalicelib.domain.answer_size import LOG_SEPARATOR, combined_answer_bound, text_answer_bound

# Kept in memory before spilling to a temporary file: small outputs never touch the disk.
_SPOOL_BYTES = 1024 * 1024


class StreamCapture:
    def __init__(self, inline_limit: int) -> None:
        self._file: BinaryIO = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # type: ignore[assignment]  # noqa: SIM115 - closed by close()
        self._tail = bytearray()
        self._inline_limit = inline_limit
        self.size = 0
        # An upper bound of the size this output takes as a text answer of Lambda's (escaped).
        self.answer_bound = 2

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self.size += len(chunk)
        self.answer_bound += text_answer_bound(chunk)
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
        """The captured bytes from the start, as a file of their own: closing it (as an upload
        does, even a failed one) leaves the capture open, so the upload can be tried again."""
        self._file.seek(0)
        return cast(BinaryIO, io.BufferedReader(_Borrowed(self._file)))

    def adopt(self, other: StreamCapture) -> None:
        """Hold ``other``'s bytes instead of these (which are dropped); ``other`` is not to be
        used (nor closed) afterwards."""
        dropped = self._file
        self._file, self._tail, self.size, self.answer_bound = other._file, other._tail, other.size, other.answer_bound
        dropped.close()

    def close(self) -> None:
        self._file.close()


def needs_combined_object(stdout: StreamCapture, stderr: StreamCapture, answer_limit: int) -> bool:
    """Whether stdout + separator + stderr might not fit one answer (``logs/``), so that it is
    stored as an object of its own for the API to redirect to."""
    return combined_answer_bound(stdout.answer_bound, stderr.answer_bound) > answer_limit


def combined_output(stdout: StreamCapture, stderr: StreamCapture) -> BinaryIO:
    """stdout, the separator, then stderr, read in turn as one file (for an upload)."""
    parts = [stdout.rewound(), io.BytesIO(LOG_SEPARATOR.encode()), stderr.rewound()]
    return cast(BinaryIO, io.BufferedReader(_Chained(parts)))


class _Chained(io.RawIOBase):
    """Reads its files one after the other; closing it closes them (not the captures)."""

    def __init__(self, parts: Sequence[BinaryIO]) -> None:
        self._parts = list(parts)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while self._parts:
            data = self._parts[0].read(len(buffer))
            if data:
                buffer[: len(data)] = data
                return len(data)
            self._parts.pop(0).close()
        return 0

    def close(self) -> None:
        for part in self._parts:
            part.close()
        self._parts = []
        super().close()


class _Borrowed(io.RawIOBase):
    """Reads (and seeks) a capture's file; its ``close`` closes only itself."""

    def __init__(self, file: BinaryIO) -> None:
        self._source = file

    @property
    def closed(self) -> bool:
        return super().closed or self._source.closed

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._source.seek(offset, whence)

    def tell(self) -> int:
        return self._source.tell()
