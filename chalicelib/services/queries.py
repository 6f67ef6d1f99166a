"""Read side of the API: listings and details, shaped for the routes."""

from __future__ import annotations

from chalicelib.adapters import counters, execution_repository, job_repository, task_repository
from chalicelib.domain.access import FULL, Scope, visible_tasks
from chalicelib.domain.errors import NotFound, ValidationError
from chalicelib.domain.pagination import Page
from chalicelib.domain.task_words import task_words
from chalicelib.domain.urls import Urls
from chalicelib.services import views
from chalicelib.services.lookups import require_execution, require_job
from chalicelib.settings import get_settings


def list_tasks(page: int, urls: Urls, scope: Scope = FULL) -> views.TaskPage:
    """All tasks, newest first; for a caller limited to some tasks, only those (see
    ``_scoped_task_ids``)."""
    per_page = get_settings().tasks_per_page
    if not scope.every_task:
        return _page_of(_scoped_task_ids(scope), page, per_page, urls.tasks_page(), urls)
    paging = Page(page, per_page, counters.count(counters.TASKS))
    # Past the last page there is nothing to read (and no huge Limit to send DynamoDB).
    tasks = task_repository.list_task_page(page, per_page) if page <= max(paging.pages, 1) else []
    return paging.envelope([views.task_summary(task, urls) for task in tasks], urls.tasks_page())


def search_tasks(query: str, page: int, urls: Urls, scope: Scope = FULL) -> views.TaskPage:
    """Tasks having ``query`` as a whole word of their id (``world`` finds ``hello-world``)."""
    text = query.strip().lower()
    if not text:
        raise ValidationError("query must be a whole word of a task id", field="query")
    # One word (``world``, or ``-world-``) is looked up as a word; several (``hello-world``) as a
    # whole task id, which the index holds too.
    words = task_words(text) - {text}
    word = words.pop() if len(words) == 1 else text
    per_page = get_settings().tasks_per_page
    if not scope.every_task:
        prefixes = scope.task_prefixes
        if prefixes is None:
            # No prefix to look up by: every task having the word, filtered here.
            every, _ = task_repository.tasks_by_word(word, 1, 2**31)
        else:
            every = task_repository.task_ids_by_word_and_prefixes(word, prefixes)
        return _page_of(visible_tasks(scope, every), page, per_page, urls.search_page(query), urls)
    ids, total = task_repository.tasks_by_word(word, page, per_page)
    tasks = [task for task in (task_repository.get_task(task_id) for task_id in ids) if task is not None]
    paging = Page(page, per_page, total)
    return paging.envelope([views.task_summary(task, urls) for task in tasks], urls.search_page(query))


def _scoped_task_ids(scope: Scope) -> list[str]:
    """The ids of the tasks ``scope`` covers, newest first.

    Its pattern's literal prefixes (``producta-`` of ``producta-.*``) are looked up in the
    task-id index, so this reads the caller's tasks only, then the whole pattern filters them.
    A pattern forcing no prefix (``.*-x``), or a table whose older tasks are not all in that
    index yet (``task_repository.id_index_ready``), falls back to reading every task id.
    """
    prefixes = scope.task_prefixes
    if prefixes is not None and task_repository.id_index_ready():
        return visible_tasks(scope, task_repository.task_ids_with_prefixes(prefixes))
    return visible_tasks(scope, task_repository.task_ids_newest_first())


def _page_of(ids: list[str], page: int, per_page: int, base: str, urls: Urls) -> views.TaskPage:
    """Page ``page`` of the tasks ``ids`` (already filtered), read one by one."""
    paging = Page(page, per_page, len(ids))
    chosen = ids[(page - 1) * per_page : page * per_page]
    tasks = [task for task in (task_repository.get_task(task_id) for task_id in chosen) if task is not None]
    return paging.envelope([views.task_summary(task, urls) for task in tasks], base)


def task_details(task_id: str, page: int, urls: Urls) -> views.TaskDetails:
    """One page of the task's jobs: never more than ``jobs_per_page`` read, however many it has."""
    task = task_repository.get_task(task_id)
    if task is None:
        raise NotFound(f"task {task_id!r} does not exist", taskId=task_id)
    per_page = get_settings().jobs_per_page
    paging = Page(page, per_page, int(task.jobs_count or 0))
    job_ids = job_repository.list_job_ids(task_id, page, per_page) if page <= max(paging.pages, 1) else []
    return {
        "jobs": [views.job_ref(task_id, job_id, urls) for job_id in job_ids],
        "jobsPagination": paging.paging(urls.task_page(task_id)),
        "taskId": task_id,
    }


def job_details(task_id: str, job_id: str, page: int, urls: Urls) -> views.JobDetails:
    job = require_job(task_id, job_id)
    per_page = get_settings().executions_per_page
    paging = Page(page, per_page, int(job.execution_count or 0))
    executions = (
        execution_repository.list_executions(task_id, job_id, page, per_page) if page <= max(paging.pages, 1) else []
    )
    # Only a job with a schedule can have runs made ahead of their instants (one Query more).
    has_schedule = any(job.spec.get(key) is not None for key in ("cron", "startAt", "startIn"))
    scheduled = execution_repository.scheduled_executions(task_id, job_id) if has_schedule else []
    return views.job_details(job, executions, paging, urls, scheduled)


def job_history(task_id: str, job_id: str, limit: int, urls: Urls) -> views.JobHistory:
    """The job's newest ``limit`` runs in compact form, oldest first, with their summary: the
    job's item and one Query of its newest runs, whatever the length of its history."""
    job = require_job(task_id, job_id)
    return views.job_history(job, execution_repository.execution_history(task_id, job_id, limit), limit, urls)


def execution_details(task_id: str, job_id: str, execution_id: str, urls: Urls) -> views.ExecutionDetails:
    execution = require_execution(task_id, job_id, execution_id)
    return {
        "execution": views.execution(execution, urls, views.text_budget(2)),
        "job": views.job_ref(task_id, job_id, urls),
        "task": views.task_ref(task_id, urls),
    }
