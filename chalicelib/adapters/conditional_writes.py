"""The one way a refused conditional write is told apart from a failure.

A conditional put, update or delete that finds its condition false
(``ConditionalCheckFailedException``) and a transaction cancelled by one of its conditions
(``TransactionCanceledException``) are answers, not errors: another writer got there first. Every
repository (and the host registry and the slots) writes through ``conditional_write`` and reports
``applied``; anything else DynamoDB raises goes on up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError

_Refusable = PutError | UpdateError | DeleteError | TransactWriteError


@dataclass
class Write:
    """The outcome of the writes made in a ``conditional_write`` block."""

    applied: bool = True


@contextmanager
def conditional_write() -> Iterator[Write]:
    """Run the block's writes; a refusal by their condition ends the block with ``applied`` False.

    ::

        with conditional_write() as write:
            item.update(actions=..., condition=...)
        return write.applied
    """
    write = Write()
    try:
        yield write
    except (PutError, UpdateError, DeleteError, TransactWriteError) as exc:
        if not _refused(exc):
            raise
        write.applied = False


def _refused(exc: _Refusable) -> bool:
    if isinstance(exc, TransactWriteError):
        return exc.cause_response_code == "TransactionCanceledException"
    return exc.cause_response_code == "ConditionalCheckFailedException"
