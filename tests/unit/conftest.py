"""Unit-test fixtures: the adapters replaced by in-memory fakes (``tests/fakes``)."""

from __future__ import annotations

import pytest

from tests.fakes.installed import Fakes, install_fakes


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Fakes:
    """Every adapter the services call, in memory; fails when a fake lacks a function of its module."""
    return install_fakes(monkeypatch)
