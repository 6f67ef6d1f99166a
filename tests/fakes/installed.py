"""Putting the fakes in place of the adapters: each public function of an adapter module is
replaced by the fake's method of the same name, and a fake that lacks one fails the test.

Services call the adapters through their module (``execution_repository.claim(...)``), so what
is replaced here is what they call.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from types import ModuleType

import pytest

from chalicelib.adapters import (
    connections,
    control,
    counters,
    execution_repository,
    job_queue,
    job_repository,
    log_store,
    mail,
    metrics,
    notification_queue,
    task_repository,
    webhook_client,
    ws_api,
)
from tests.fakes.outside import FakeConnections, FakeLogStore, FakeMail, FakeMetrics, FakeWebhookClient, FakeWsApi
from tests.fakes.queues import FakeControl, FakeJobQueue, FakeNotificationQueue
from tests.fakes.tables import FakeTables


@dataclass
class Fakes:
    """Every faked adapter of one test."""

    tables: FakeTables = field(default_factory=FakeTables)
    job_queue: FakeJobQueue = field(default_factory=FakeJobQueue)
    notification_queue: FakeNotificationQueue = field(default_factory=FakeNotificationQueue)
    control: FakeControl = field(default_factory=FakeControl)
    log_store: FakeLogStore = field(default_factory=FakeLogStore)
    webhook_client: FakeWebhookClient = field(default_factory=FakeWebhookClient)
    mail: FakeMail = field(default_factory=FakeMail)
    connections: FakeConnections = field(default_factory=FakeConnections)
    ws_api: FakeWsApi = field(default_factory=FakeWsApi)
    metrics: FakeMetrics = field(default_factory=FakeMetrics)

    def replacements(self) -> list[tuple[ModuleType, object]]:
        """(adapter module, its fake)."""
        return [
            (task_repository, self.tables),
            (job_repository, self.tables),
            (execution_repository, self.tables),
            (counters, self.tables),
            (job_queue, self.job_queue),
            (notification_queue, self.notification_queue),
            (control, self.control),
            (log_store, self.log_store),
            (webhook_client, self.webhook_client),
            (mail, self.mail),
            (connections, self.connections),
            (ws_api, self.ws_api),
            (metrics, self.metrics),
        ]


def public_functions(module: ModuleType) -> list[str]:
    """The names of the functions ``module`` defines (not imports) and does not mark private."""
    return sorted(
        name
        for name, value in vars(module).items()
        if inspect.isfunction(value) and value.__module__ == module.__name__ and not name.startswith("_")
    )


def install(monkeypatch: pytest.MonkeyPatch, module: ModuleType, fake: object) -> None:
    """Replace every public function of ``module`` by ``fake``'s; fail when the fake lacks one."""
    missing = [name for name in public_functions(module) if not callable(getattr(fake, name, None))]
    if missing:
        pytest.fail(f"{type(fake).__name__} lacks {module.__name__}'s {', '.join(missing)}", pytrace=False)
    for name in public_functions(module):
        monkeypatch.setattr(module, name, getattr(fake, name))


def install_fakes(monkeypatch: pytest.MonkeyPatch, fakes: Fakes | None = None) -> Fakes:
    fakes = fakes or Fakes()
    for module, fake in fakes.replacements():
        install(monkeypatch, module, fake)
    return fakes
