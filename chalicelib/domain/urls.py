"""Absolute URLs of the API's resources, in the API document's forms."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Urls:
    base: str

    def task(self, task_id: str) -> str:
        return f"{self.base}/tasks/{quote(task_id, safe='')}"

    def tasks_page(self) -> str:
        return f"{self.base}/tasks/?page={{page}}"

    def search_page(self, query: str) -> str:
        return f"{self.base}/search/?query={quote(query, safe='')}&page={{page}}"

    def job(self, task_id: str, job_id: str) -> str:
        return f"{self.task(task_id)}/jobs/{job_id}"

    def job_page(self, task_id: str, job_id: str) -> str:
        return f"{self.job(task_id, job_id)}/?page={{page}}"

    def execution(self, task_id: str, job_id: str, execution_id: str) -> str:
        return f"{self.job(task_id, job_id)}/executions/{execution_id}/"
