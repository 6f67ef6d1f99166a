"""Absolute URLs of the API's resources, in the API document's forms."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Urls:
    base: str

    def task(self, task_id: str) -> str:
        return f"{self.base}/tasks/{quote(task_id, safe='')}"

    def task_page(self, task_id: str) -> str:
        return f"{self.task(task_id)}/?page={{page}}"

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


# A host as a URL may carry it: a DNS name or IPv4 address, or a bracketed IPv6 address, and an
# optional port. Anything else (a path, quotes, spaces, user info) is not a host.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?$")


def is_host(text: str) -> bool:
    return len(text) <= 260 and _HOST.fullmatch(text) is not None


def host_trusted(host: str, trusted: tuple[str, ...]) -> bool:
    """Whether ``host`` (without its port) is one of ``trusted``: exact names, or ``*.suffix``."""
    name = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host.lower()
    for entry in trusted:
        if entry.startswith("*.") and name.endswith(entry[1:]) and len(name) > len(entry) - 1:
            return True
        if name == entry:
            return True
    return False


def request_base_url(
    headers: Mapping[str, str], stage: str | None, public_url: str, trusted_forwarded_hosts: tuple[str, ...]
) -> str:
    """The base of the URLs in an answer to a request with ``headers`` (lower-case names).

    ``public_url`` wins when set. Otherwise the request's ``Host``; behind the CloudFront front
    door the viewer's host comes as ``X-Forwarded-Host``, which is believed only when it names a
    host in ``trusted_forwarded_hosts`` (anyone can send the header straight to the API), and
    then no stage prefix is added (the distribution maps the paths). A header that is not a
    host at all is ignored.
    """
    if public_url:
        return public_url.rstrip("/")
    forwarded = headers.get("x-forwarded-host", "").strip()
    use_forwarded = is_host(forwarded) and host_trusted(forwarded, trusted_forwarded_hosts)
    host = headers.get("host", "").strip()
    if use_forwarded:
        host = forwarded
    elif not is_host(host):
        host = "localhost"
    proto = headers.get("x-forwarded-proto", "http").strip().lower()
    if proto not in ("http", "https"):
        proto = "http"
    prefix = f"/{stage}" if stage and not use_forwarded and "execute-api" in host else ""
    return f"{proto}://{host}{prefix}"
