"""adapters.conditional_writes: a write refused by its condition is an answer, anything else an error."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import DeleteError, PutError, PynamoDBException, TransactWriteError, UpdateError

from chalicelib.adapters.conditional_writes import conditional_write


def _error(kind: type[PynamoDBException], code: str) -> PynamoDBException:
    return kind("refused", cause=ClientError({"Error": {"Code": code, "Message": "m"}}, "Op"))


def test_a_write_that_raised_nothing_was_applied() -> None:
    with conditional_write() as write:
        pass
    assert write.applied


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (UpdateError, "ConditionalCheckFailedException"),
        (PutError, "ConditionalCheckFailedException"),
        (DeleteError, "ConditionalCheckFailedException"),
        (TransactWriteError, "TransactionCanceledException"),
    ],
)
def test_a_write_refused_by_its_condition_was_not_applied(kind: type[PynamoDBException], code: str) -> None:
    with conditional_write() as write:
        raise _error(kind, code)
    assert not write.applied


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (UpdateError, "ProvisionedThroughputExceededException"),
        (TransactWriteError, "ConditionalCheckFailedException"),
        (PutError, "ResourceNotFoundException"),
    ],
)
def test_any_other_failure_goes_on_up(kind: type[PynamoDBException], code: str) -> None:
    with pytest.raises(kind), conditional_write():
        raise _error(kind, code)
