"""Tasks in DynamoDB: one item per task, the newest-first listing index and the word index of
their ids (written with a task's first job, by ``job_repository.save_job``)."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib.adapters.aws import connection
from chalicelib.adapters.models import TASK_LISTING, TaskModel, TaskWordModel


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


def ping() -> None:
    """Raise if DynamoDB cannot be reached (used by the health check)."""
    connection().describe_table(TaskModel.Meta.table_name)
