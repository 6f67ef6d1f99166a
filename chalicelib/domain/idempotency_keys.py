"""The ``Idempotency-Key`` header: its name and what a valid key is.

Pure, so that the routes table (and its OpenAPI document) can name the header without importing
the idempotent-enqueue service and, through it, the store.
"""

from __future__ import annotations

from chalicelib.domain.errors import ValidationError

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def validate_key(key: str) -> str:
    """The key itself when it is 1 to ``MAX_KEY_LENGTH`` printable characters; a 400 otherwise."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationError(f"{HEADER} must be 1-{MAX_KEY_LENGTH} printable characters", field=HEADER)
    return key
