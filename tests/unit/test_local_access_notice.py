"""``bin/serve`` says at start-up who may call its API."""

from __future__ import annotations

import logging

import pytest

from chalicelib.settings import Settings
from infra.local.stack import announce_access


def test_an_open_local_api_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="slipway.local"):
        announce_access("127.0.0.1", Settings())
        announce_access("0.0.0.0", Settings())
        announce_access("127.0.0.1", Settings(auth_api_keys="k"))

    [local, exposed, secured] = [record for record in caplog.records if record.name == "slipway.local"]
    assert local.levelno == logging.WARNING
    assert "authentication is off: the API is open to anyone on this machine (127.0.0.1 only)" in local.getMessage()
    assert exposed.levelno == logging.WARNING and "AUTHENTICATION IS OFF" in exposed.getMessage()
    assert secured.levelno == logging.INFO and "authentication is on" in secured.getMessage()
