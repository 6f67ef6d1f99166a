"""What every command gets: the configuration in force, a client of the API, and the consoles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click
from rich.console import Console

from slipway_cli.client import Client
from slipway_cli.config import Config
from slipway_cli.output import stderr_console, stdout_console


@dataclass
class State:
    config: Config
    client: Client
    out: Console = field(default_factory=stdout_console)
    err: Console = field(default_factory=stderr_console)


def state() -> State:
    """The State of the running command (set up by the ``slipway`` group)."""
    found: Any = click.get_current_context().find_object(State)
    if not isinstance(found, State):
        raise click.UsageError("no configuration: run the command through the slipway group")
    return found
