"""What a command points at: a task, a job or an execution, named by a URL the API gave
(``http://…/tasks/t/jobs/j/executions/e/``), a path (``/tasks/t/job/j``), or short ids
(``t``, ``t/j``, ``t/j/e``). Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

_PATH = re.compile(
    r"^(?P<base>.*?)/tasks/(?P<task>[^/]+)(?:/jobs?/(?P<job>[^/]+)(?:/.*?executions/(?P<execution>[^/]+))?)?"
)


class TargetError(ValueError):
    """Not a task, job or execution the CLI can read."""


@dataclass(frozen=True)
class Target:
    task_id: str
    job_id: str | None = None
    execution_id: str | None = None
    # The API's base URL when a whole URL was given (a URL says where it lives), else None.
    base: str | None = None

    @property
    def kind(self) -> str:
        return "execution" if self.execution_id else "job" if self.job_id else "task"

    def path(self) -> str:
        """The target's path in the API, with the final slash the document spells."""
        path = f"/tasks/{quote(self.task_id, safe='')}/"
        if self.job_id:
            path += f"jobs/{quote(self.job_id, safe='')}/"
        if self.execution_id:
            path += f"executions/{quote(self.execution_id, safe='')}/"
        return path

    def job_path(self) -> str:
        if not self.job_id:
            raise TargetError(f"{self.task_id!r} names a task; a job is needed (task/job or the job's URL)")
        return f"/tasks/{quote(self.task_id, safe='')}/jobs/{quote(self.job_id, safe='')}/"


def parse_target(text: str) -> Target:
    text = text.strip()
    if not text:
        raise TargetError("an empty name: give a task, task/job, task/job/execution or a URL")
    parts = urlsplit(text)
    if parts.scheme in ("http", "https"):
        match = _PATH.match(parts.path)
        if match is None:
            raise TargetError(f"{text!r} is not the URL of a task, job or execution (no /tasks/… in it)")
        base = f"{parts.scheme}://{parts.netloc}{match['base']}"
        return Target(match["task"], match["job"], match["execution"], base=base)
    if text.startswith("/"):
        match = _PATH.match(text)
        if match is None or match["base"]:
            raise TargetError(f"{text!r} is not the path of a task, job or execution")
        return Target(match["task"], match["job"], match["execution"])
    pieces = text.strip("/").split("/")
    if len(pieces) > 3 or not all(pieces):
        raise TargetError(f"{text!r}: expected task, task/job or task/job/execution")
    task_id, job_id, execution_id = [*pieces, None, None][:3]
    return Target(str(task_id), job_id, execution_id)
