"""The rest of the outside world in memory: S3's log objects, webhook receivers, the mail
transport, and the live-log viewers (their connections and the WebSocket API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, BinaryIO

from chalicelib.adapters.webhook_client import HttpOutcome
from chalicelib.domain.mail import Mail, MailError
from chalicelib.domain.webhook_targets import Networks
from chalicelib.settings import Settings


@dataclass
class FakeLogStore:
    """``log_store``: objects by key."""

    objects: dict[str, bytes] = field(default_factory=dict)

    def object_key(self, task_id: str, job_id: str, execution_id: str, stream: str) -> str:
        return f"logs/{task_id}/{job_id}/{execution_id}/{stream}.log"

    def upload(self, key: str, body: BinaryIO) -> None:
        self.objects[key] = body.read()

    def read(self, key: str) -> bytes:
        return self.objects.get(key, b"")

    def download_url(self, key: str, expires_seconds: int = 300) -> str:
        return f"memory://logs/{key}?expires={expires_seconds}"

    def bucket_reachable(self) -> None:
        return None


@dataclass
class Post:
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class FakeWebhookClient:
    """``webhook_client``: every POST is recorded; a URL answers ``statuses[url]`` (200 by
    default), or fails to connect when its status is None."""

    posts: list[Post] = field(default_factory=list)
    statuses: dict[str, int | None] = field(default_factory=dict)

    def post_json(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float, blocked: Networks = ()
    ) -> HttpOutcome:
        self.posts.append(Post(url, body, headers))
        status = self.statuses.get(url, 200)
        if status is None:
            return HttpOutcome(None, "URLError: connection refused", 1)
        return HttpOutcome(status, None if status < 400 else f"HTTP {status}", 1)


@dataclass
class FakeMail:
    """``mail``: the mails accepted; an address in ``refusing`` is refused."""

    sent: list[Mail] = field(default_factory=list)
    refusing: set[str] = field(default_factory=set)

    def send(self, mail: Mail, settings: Settings | None = None) -> None:
        if mail.to in self.refusing:
            raise MailError(f"{mail.to}: mailbox unavailable")
        self.sent.append(mail)

    def send_raw(self, sender: str, to: str, raw: bytes) -> str:
        return f"mail-{len(self.sent)}"


@dataclass
class FakeConnections:
    """``connections``: connection id → execution id of each live-log viewer."""

    watching: dict[str, str] = field(default_factory=dict)

    def add(self, connection_id: str, execution_id: str, job_id: str, task_id: str, now: Any, ttl_seconds: int) -> None:
        self.watching[connection_id] = execution_id

    def forget(self, connection_id: str) -> None:
        self.watching.pop(connection_id, None)

    def viewers(self, execution_id: str) -> list[str]:
        return [connection for connection, watched in self.watching.items() if watched == execution_id]


@dataclass
class FakeWsApi:
    """``ws_api``: what was posted to each connection, and which were closed."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)

    def client(self, endpoint: str | None = None) -> Any:
        return self

    def send(self, connection_id: str, data: str, endpoint: str | None = None) -> None:
        self.sent.append((connection_id, data))

    def close(self, connection_id: str, endpoint: str | None = None) -> None:
        self.closed.append(connection_id)


@dataclass
class FakeMetrics:
    """``metrics``: every value recorded (metric name, value, dimension value), and the flushes."""

    recorded: list[tuple[str, float, str | None]] = field(default_factory=list)
    flushes: int = 0
    totals: dict[str, float] = field(default_factory=dict)

    def record(self, metric: Any, value: float, dimension_value: str | None = None) -> None:
        self.recorded.append((metric.name, float(value), dimension_value))

    def flush(self) -> int:
        self.flushes += 1
        return len(self.recorded)

    def write_totals(self) -> int:
        return 0

    def stored_totals(self, names: list[str]) -> dict[str, float]:
        return {name: self.totals[name] for name in names if name in self.totals}

    def named(self, name: str) -> list[tuple[float, str | None]]:
        """The values recorded of metric ``name``, with their dimension values."""
        return [(value, dimension) for metric, value, dimension in self.recorded if metric == name]
