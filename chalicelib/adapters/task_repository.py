"""Tasks in DynamoDB: one item per task, the newest-first listing index, the task-id index (ids
by prefix, for scoped keys) and the word index of their ids (written with a task's first job,
by ``job_repository.save_job``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib.adapters import counters
from chalicelib.adapters.aws import connection
from chalicelib.adapters.conditional_writes import conditional_write
from chalicelib.adapters.models import (
    TASK_LISTING,
    CounterModel,
    TaskModel,
    TasksById,
    TaskWordModel,
    task_id_partitions,
    task_id_shard,
)
from chalicelib.settings import get_settings

# The counters-table item holding the ``task_id_shards`` for which the task-id index holds every
# task: written by the backfill once it has put every older task in its shard. Until it equals
# the setting, listings read every task id instead of the index (see ``id_index_ready``).
ID_INDEX_MARKER = "task-id-index"


def get_task(task_id: str) -> TaskModel | None:
    try:
        return TaskModel.get(task_id)
    except DoesNotExist:
        return None


def list_task_page(page: int, per_page: int) -> list[TaskModel]:
    """Page ``page`` (1-based) of all tasks, newest first, walking the index's keys only."""
    start_key = _skip(TaskModel.by_creation, TASK_LISTING, (page - 1) * per_page)
    if start_key is False:
        return []
    return list(
        TaskModel.by_creation.query(
            TASK_LISTING, scan_index_forward=False, limit=per_page, last_evaluated_key=start_key or None
        )
    )


def task_ids_newest_first() -> list[str]:
    """Every task's id, newest first (the index's keys only: for a listing filtered in code)."""
    query = TaskModel.by_creation.query(
        TASK_LISTING, scan_index_forward=False, attributes_to_get=["task_id"], page_size=500
    )
    return [task.task_id for task in query]


def id_index_ready() -> bool:
    """Whether the task-id index holds every task, in the shards of today's ``task_id_shards``
    (one GetItem): false on a table kept from before the index, until the backfill is done."""
    return counters.count(ID_INDEX_MARKER) == get_settings().task_id_shards


def task_ids_with_prefixes(prefixes: Iterable[str]) -> list[str]:
    """The ids of the tasks whose id starts with one of ``prefixes``, newest first.

    One Query per prefix and shard of the task-id index, each reading the keys under that
    prefix only: the cost is that of the tasks found, whatever other tasks the table holds.
    Meaningful once ``id_index_ready``.
    """
    created: dict[str, str] = {}
    for prefix in prefixes:
        for shard in task_id_partitions():
            query = TaskModel.by_task_id.query(shard, TasksById.task_id.startswith(prefix), page_size=500)
            created.update((task.task_id, task.created_key) for task in query)
    return sorted(created, key=created.__getitem__, reverse=True)


def backfill_id_index(limit: int | None = None) -> bool:
    """Put the tasks missing from the task-id index in it (stored before the index existed, or
    in a shard of another ``task_id_shards``), at most ``limit`` of them (None: all); then,
    with none left, record that the index is complete (``ID_INDEX_MARKER``). True once it is.

    It walks the listing index, every task once (keys and ``id_shard`` only): a cost paid once
    per table, after which it is one GetItem of the marker. Tasks stored meanwhile are written
    with their shard by ``job_repository.save_job``, so none is missed.
    """
    if id_index_ready():
        return True
    moved = 0
    every = TaskModel.by_creation.query(TASK_LISTING, attributes_to_get=["task_id", "id_shard"], page_size=500)
    for task in every:
        wanted = task_id_shard(task.task_id)
        if task.id_shard == wanted:
            continue
        if limit is not None and moved >= limit:
            return False
        # A task deleted since it was listed is left alone (the condition refuses the write).
        with conditional_write():
            task.update(actions=[TaskModel.id_shard.set(wanted)], condition=TaskModel.task_id.exists())
        moved += 1
    CounterModel(ID_INDEX_MARKER, value=get_settings().task_id_shards).save()
    return True


def _skip(index: Any, hash_key: str, count: int) -> dict[str, Any] | None | bool:
    """The exclusive start key after ``count`` items of a query, False when there are fewer."""
    if count == 0:
        return None
    results = index.query(
        hash_key, scan_index_forward=False, limit=count, attributes_to_get=["task_id"], page_size=min(count, 500)
    )
    seen = sum(1 for _ in results)
    if seen < count:
        return False
    return results.last_evaluated_key


def tasks_by_word(word: str, page: int, per_page: int) -> tuple[list[str], int]:
    """Page ``page`` of the ids of the tasks having ``word`` as a whole word, and their total."""
    ids = [item.task_id for item in TaskWordModel.query(word)]
    total = len(ids)
    return ids[(page - 1) * per_page : page * per_page], total


def task_ids_by_word_and_prefixes(word: str, prefixes: Iterable[str]) -> list[str]:
    """The ids, in id order as ``tasks_by_word`` gives them, of the tasks having ``word`` as a
    whole word whose id starts with one of ``prefixes``: one Query per prefix, reading those
    ids only."""
    ids: set[str] = set()
    for prefix in prefixes:
        ids.update(item.task_id for item in TaskWordModel.query(word, TaskWordModel.task_id.startswith(prefix)))
    return sorted(ids)


def ping() -> None:
    """Raise if DynamoDB cannot be reached (used by the health check)."""
    connection().describe_table(TaskModel.Meta.table_name)
