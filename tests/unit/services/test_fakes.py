"""The fakes stand in for every public function of the adapters they replace."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import chalicelib.services
from chalicelib.adapters import job_queue
from tests.fakes.installed import Fakes, install, public_functions
from tests.fakes.queues import FakeJobQueue


def test_each_fake_has_every_public_function_of_its_adapter(fakes: Fakes) -> None:
    for module, fake in fakes.replacements():
        for name in public_functions(module):
            assert getattr(module, name) == getattr(fake, name), f"{module.__name__}.{name}"


def test_a_fake_lacking_a_function_of_its_adapter_fails_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    class Partial(FakeJobQueue):
        receive = None  # type: ignore[assignment]

    with pytest.raises(pytest.fail.Exception, match=r"lacks chalicelib\.adapters\.job_queue's receive"):
        install(monkeypatch, job_queue, Partial())


def test_services_call_the_faked_adapters_through_their_modules(fakes: Fakes) -> None:
    """A function taken by name (``from ...execution_repository import claim``) would escape its
    fake: every service reaches the adapters as ``module.function``."""
    services = [
        importlib.import_module(f"chalicelib.services.{info.name}")
        for info in pkgutil.iter_modules(chalicelib.services.__path__)
    ]
    taken = [
        f"{service.__name__}.{name}"
        for service in services
        for name, value in vars(service).items()
        for module, _ in fakes.replacements()
        if inspect.isfunction(value) and value.__module__ == module.__name__
    ]
    assert taken == []
