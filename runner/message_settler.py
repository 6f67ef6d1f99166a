"""Deleting the SQS messages of settled runs in batches, off the executions' critical path.

Once a run's outcome is stored its message is spent, but deleting it is bookkeeping: the run's
slot is freed at once and the message joins a batch (``DeleteMessageBatch``, up to 10 per call)
sent by one background thread. Fewer calls, and none between a container's end and the next
container's start. Should the runner die before a batch goes out, the message comes back after
its visibility timeout and the next claim, finding the execution ended, deletes it: nothing is
run twice and nothing is lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from chalicelib.adapters import job_queue

logger = logging.getLogger(__name__)

# A batch waits at most this long (seconds) for more handles to join it.
_LINGER = 0.05


class MessageSettler:
    def __init__(self, delete_batch: Callable[[list[str]], list[str]] = job_queue.delete_batch) -> None:
        self._delete_batch = delete_batch
        self._pending: list[str] = []
        self._lock = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="message-settler", daemon=True)
        self._thread.start()

    def delete_later(self, receipt_handle: str) -> None:
        with self._lock:
            self._pending.append(receipt_handle)
            self._lock.notify()

    def flush(self) -> None:
        """Send what is pending and stop (at shutdown)."""
        with self._lock:
            self._closed = True
            self._lock.notify()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._closed:
                    self._lock.wait()
                if not self._pending:
                    return
                # Let the runs finishing at about the same time share the call.
                deadline = time.monotonic() + _LINGER
                while len(self._pending) < job_queue.DELETE_BATCH and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._lock.wait(left)
                batch = self._pending[: job_queue.DELETE_BATCH]
                del self._pending[: len(batch)]
            self._send(batch)

    def _send(self, batch: list[str]) -> None:
        try:
            failed = self._delete_batch(batch)
        except Exception:
            logger.exception("deleting %d settled messages failed; they come back and are deleted then", len(batch))
            return
        if failed:
            logger.warning("%d settled messages were not deleted; they come back and are deleted then", len(failed))
