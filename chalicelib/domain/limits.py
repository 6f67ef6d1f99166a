"""Limits of the services Slipway runs on, stated once."""

from __future__ import annotations

# SQS delays a message 15 minutes at most.
SQS_MAX_DELAY_SECONDS = 900
# SQS receives, and deletes in one batch, at most this many messages per call.
SQS_MAX_BATCH = 10


def sqs_delay(seconds: float) -> int:
    """``seconds`` as a DelaySeconds SQS accepts: whole, from 0 to 15 minutes."""
    return max(0, min(int(seconds), SQS_MAX_DELAY_SECONDS))
