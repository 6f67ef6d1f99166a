"""The local AWS emulator's process: MiniStack, served with a clean shutdown and checkpoints.

Run by ``infra.local.aws_emulator`` with the emulator's own interpreter (its virtualenv holds
MiniStack and the botocore it pins, apart from the service's), so this file imports nothing of
Slipway: only MiniStack and the standard library. Its settings come from the environment
``aws_emulator`` prepares (``GATEWAY_PORT``, ``PERSIST_STATE``, ``STATE_DIR``, ...), which
MiniStack reads at import.

What it adds to ``python -m ministack``:

- **A shutdown that saves.** MiniStack writes its state to ``STATE_DIR`` in its ASGI lifespan
  shutdown, but its own entry point exits from the SIGTERM handler without running it, so a
  stopped emulator would lose everything. Here SIGTERM and SIGINT end hypercorn gracefully and
  the lifespan shutdown (the save) runs.
- **Checkpoints.** Every ``SLIPWAY_EMULATOR_CHECKPOINT_SECONDS`` the same save is written by a
  forked child from a consistent image of the state (``Checkpoints``), so a crash (``kill -9``)
  loses at most that much, and serving does not pause while it is written.
- **Key conditions decided without re-parsing** (``_install_query_key_fast_path``), so a
  ``Limit`` Query of a large partition, or a ``begins_with`` Query of a few of its items, does
  not cost a parse per item of the partition.
- **Prefix Queries of an index sort only the items under the prefix**
  (``_install_prefix_query_narrowing``), as DynamoDB reads only those.
- **Long polls that wake on a send.** MiniStack's ``ReceiveMessage`` looks at its queue every
  100 ms while it waits; a message sent meanwhile waits for the next look (50 ms on average).
  Here a send, a batch send or a visibility change wakes the waiting polls at once; the 100 ms
  looks remain for delayed messages becoming visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("slipway.emulator")
# The longest a checkpoint child may take before it is taken for stuck and killed (seconds).
CHILD_DEADLINE_SECONDS = 20.0


class _Wakeup:
    """An ``asyncio`` stand-in for MiniStack's SQS module whose ``sleep`` ends early on a send."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    def notify(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def sleep(self, delay: float, result: Any = None) -> Any:
        if self._event is None:
            self._event = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), delay)
        return result


def _install_sqs_wakeup() -> None:
    from ministack.services import sqs

    wakeup = _Wakeup()

    def waking(action: Callable[..., Any]) -> Callable[..., Any]:
        def act(*args: Any, **kwargs: Any) -> Any:
            try:
                return action(*args, **kwargs)
            finally:
                wakeup.notify()

        return act

    for name in (
        "_act_send_message",
        "_act_send_message_batch",
        "_act_change_visibility",
        "_act_change_visibility_batch",
    ):
        setattr(sqs, name, waking(getattr(sqs, name)))
    # The action table holds the functions themselves: point it at the wrapped ones.
    for action, function in list(sqs._HANDLERS.items()):
        wrapped = getattr(sqs, function.__name__, function)
        sqs._HANDLERS[action] = wrapped
    sqs.asyncio = wakeup  # the long-poll loop's ``asyncio.sleep``


# A hash key condition and a prefix on the sort key, as PynamoDB spells them
# (``(#0 = :0 AND begins_with (#1, :1))``) or without the parentheses.
_PREFIXED = re.compile(r"^\s*\(?\s*(#?\w+)\s*=\s*(:\w+)\s+AND\s+begins_with\s*\(\s*(#?\w+)\s*,\s*(:\w+)\s*\)\s*\)?\s*$")


def _install_prefix_query_narrowing() -> None:
    """A ``begins_with`` Query of an index sorts only the items under its prefix.

    MiniStack's Query of an index takes every item of the index partition, sorts them all, and
    only then keeps those its key condition accepts: a prefix that selects 8 of a partition's
    750 items costs the sort of 750 (DynamoDB seeks to the prefix in its sorted partition, so
    there it costs the 8). Here, for the duration of such a Query, the partition's members are
    narrowed to the items whose index sort key starts with the prefix before MiniStack sorts
    them; it still checks its own key condition, which the others would fail, on them, so its
    answer (items, order, pages) is unchanged.
    """
    from ministack.services import dynamodb

    state = threading.local()
    members_of = dynamodb._index_members
    query = dynamodb._query

    def narrowed_members(table: dict[str, Any]) -> Any:
        members = members_of(table)
        narrowing = getattr(state, "narrowing", None)
        if narrowing is None or narrowing[0] not in members:
            return members
        index_name, attribute, partition_value, prefix = narrowing
        partition = members[index_name].get(partition_value)
        if partition is None:
            return members
        items = table["items"]
        kept = {
            key: None
            for key in partition
            if str(items.get(key[0], {}).get(key[1], {}).get(attribute, {}).get("S", "")).startswith(prefix)
        }
        # Only the Query below reads this: the members MiniStack keeps stay as they are.
        return {**members, index_name: {partition_value: kept}}

    def narrowing_query(data: dict[str, Any]) -> Any:
        match = _PREFIXED.match(data.get("KeyConditionExpression") or "")
        narrowing = None
        if match is not None and data.get("IndexName"):
            values = data.get("ExpressionAttributeValues") or {}
            names = data.get("ExpressionAttributeNames") or {}
            value, prefix = values.get(match.group(2)), values.get(match.group(4))
            sort_name = match.group(3)
            attribute = names.get(sort_name, sort_name) if sort_name.startswith("#") else sort_name
            if isinstance(value, dict) and set(value) == {"S"} and isinstance(prefix, dict) and set(prefix) == {"S"}:
                narrowing = (data["IndexName"], attribute, value["S"], prefix["S"])
        state.narrowing = narrowing
        try:
            return query(data)
        finally:
            state.narrowing = None

    dynamodb._index_members = narrowed_members
    dynamodb._query = narrowing_query


def _install_query_key_fast_path() -> None:
    """A Query's key condition ``pk = :v`` on a string or binary key, or ``pk = :v AND
    begins_with(sk, :p)`` on string keys, compared directly.

    MiniStack takes the partition's items, then evaluates the key condition on each of them,
    parsing the expression again every time, before it applies ``Limit``: a ``Limit 10`` Query
    of a partition of 210 items cost 13.7 ms, of 20,000 items 1.2 s (DynamoDB reads only the
    items it returns). ``GET /tasks/`` reads such a partition (every task is in it), and a
    scoped key's listing queries the task-id index with ``begins_with`` on its prefix. Here
    such a condition is parsed and checked by MiniStack once per expression text, then decided
    by comparing the typed values (exact for S and B, ``startswith`` for an S prefix; other
    types keep the full evaluation): 1.1 ms at 210 items, 142 ms at 20,000.
    """
    from ministack.services import dynamodb

    equality = re.compile(r"^\s*(#?\w+)\s*=\s*(:\w+)\s*$")
    prefixed = _PREFIXED
    original = dynamodb._evaluate_condition
    checked: set[str] = set()

    def attribute(name: str, item: dict[str, Any], names: dict[str, str]) -> Any:
        return item.get(names.get(name, name) if name.startswith("#") else name)

    def evaluate(
        expr: str,
        item: dict[str, Any],
        values: dict[str, Any],
        names: dict[str, str],
        slot: str = "ConditionExpression",
    ) -> Any:
        key_condition = slot == "KeyConditionExpression"
        match = equality.match(expr or "") if key_condition else None
        value = values.get(match.group(2)) if match else None
        if match is not None and expr in checked and isinstance(value, dict) and {"S", "B"} & value.keys():
            return attribute(match.group(1), item, names) == value
        begins = prefixed.match(expr or "") if key_condition and match is None else None
        if begins is not None and expr in checked:
            value, prefix = values.get(begins.group(2)), values.get(begins.group(4))
            if isinstance(value, dict) and "S" in value and isinstance(prefix, dict) and "S" in prefix:
                if attribute(begins.group(1), item, names) != value:
                    return False
                sort_value = attribute(begins.group(3), item, names)
                return isinstance(sort_value, dict) and str(sort_value.get("S", "")).startswith(prefix["S"])
        result = original(expr, item, values, names, slot)  # MiniStack's own checks and errors
        if match is not None or begins is not None:
            checked.add(expr)
        return result

    dynamodb._evaluate_condition = evaluate


class Checkpoints:
    """Saves of the whole state while the emulator runs, written by a forked child.

    The child gets a copy-on-write image of the state as it is at the fork, between two requests
    (the handlers run on this one event loop), and writes it while this process goes on serving:
    the loop stops only for the fork, not for serializing tens of megabytes of items (as Redis's
    BGSAVE does). One child at a time; the final save at shutdown waits for it first.
    """

    def __init__(self, every: float) -> None:
        self.every = every
        self._child: int | None = None

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            started = time.monotonic()
            self._child = self._fork_and_save()
            # Polled rather than waited on in a thread: no extra thread is alive at the next fork.
            while self._child is not None and not self._reaped(self._child):
                if time.monotonic() - started > CHILD_DEADLINE_SECONDS:
                    logger.warning("checkpoint child %d is stuck; killed (the next one retries)", self._child)
                    self._kill_child()
                    break
                await asyncio.sleep(0.05)
            self._child = None
            logger.debug("checkpoint written in %.0f ms", (time.monotonic() - started) * 1000)

    @staticmethod
    def _reaped(pid: int) -> bool:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return True
        return done != 0

    def _kill_child(self) -> None:
        if self._child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._child, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._child, 0)
            self._child = None

    @staticmethod
    def _fork_and_save() -> int:
        from ministack.app import _build_persistence_save_dict
        from ministack.core.persistence import save_all

        pid = os.fork()
        if pid == 0:  # the child: write the snapshot and leave without running any clean-up
            saved = False
            try:
                save_all(_build_persistence_save_dict())
                saved = True
            finally:
                os._exit(0 if saved else 1)
        return pid

    def finish(self) -> None:
        """Let a save under way end (killed past the deadline, as a stuck one would be), so the
        final save does not race it on the same files."""
        deadline = time.monotonic() + CHILD_DEADLINE_SECONDS
        while self._child is not None and not self._reaped(self._child):
            if time.monotonic() > deadline:
                self._kill_child()
                break
            time.sleep(0.05)
        self._child = None


async def _serve() -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config
    from ministack.app import app

    config = Config()
    config.bind = [f"{os.environ.get('BIND_HOST', '127.0.0.1')}:{os.environ['GATEWAY_PORT']}"]
    config.keep_alive_timeout = 75
    config.graceful_timeout = 5
    config.loglevel = os.environ.get("LOG_LEVEL", "WARNING").upper()
    config.accesslog = None
    every = float(os.environ.get("SLIPWAY_EMULATOR_CHECKPOINT_SECONDS", "0") or 0)
    checkpoints = Checkpoints(every) if every > 0 and os.environ.get("PERSIST_STATE") == "1" else None
    task = asyncio.create_task(checkpoints.run_forever()) if checkpoints else None
    stop = asyncio.Event()

    def stopping() -> None:
        # Before hypercorn's shutdown, whose lifespan event makes the final save.
        if task is not None:
            task.cancel()
        if checkpoints is not None:
            checkpoints.finish()
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping)
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING").upper(), stream=sys.stderr)
    if os.environ.get("SLIPWAY_EMULATOR_SQS_WAKEUP", "1") == "1":
        _install_sqs_wakeup()
    _install_query_key_fast_path()
    _install_prefix_query_narrowing()
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
