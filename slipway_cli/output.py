"""How answers are shown: rich tables on a terminal (plain text elsewhere), or JSON with ``-o json``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

FORMATS = ("table", "json")
_STATUS_STYLES = {
    "done": "green",
    "failed": "red",
    "timedout": "red",
    "expired": "red",
    "stopped": "yellow",
    "running": "cyan",
    "pulling": "cyan",
    "enqueued": "blue",
}


def stdout_console() -> Console:
    # Off a terminal (a pipe, a script) tables are not cut to 80 columns, nor their cells folded.
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 1000)


def stderr_console() -> Console:
    # Messages are never folded at 80 columns: a URL stays one line, whole, for copying.
    return Console(stderr=True, highlight=False, soft_wrap=True)


F = TypeVar("F", bound=Callable[..., Any])


def output_option() -> Callable[[F], F]:
    return click.option(
        "-o", "--output", "output", type=click.Choice(FORMATS), default="table", show_default=True,
        help="table: for people; json: the data, for scripts",
    )  # fmt: skip


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    shown = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        shown.add_column(column, overflow="fold")
    for row in rows:
        # Text, never markup: a command such as "[ -f x ]" is shown as it is.
        shown.add_row(*(cell if isinstance(cell, Text) else Text(_cell(cell)) for cell in row))
    return shown


def status_text(status: str | None) -> Text:
    if not status:
        return Text("-")
    return Text(status, style=_STATUS_STYLES.get(status, ""))


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def duration(seconds: float | None) -> str:
    """``1h 02m``, ``3m 05s``, ``4.2s``: how long, at a glance."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def ran_for(execution: dict[str, Any], now: datetime | None = None) -> float | None:
    """Seconds the execution has run (so far, if it still runs)."""
    started = parse_iso(execution.get("startedAt"))
    if started is None:
        return None
    finished = parse_iso(execution.get("finishedAt")) or now or datetime.now(UTC)
    return (finished - started).total_seconds()


def ago(text: str | None, now: datetime | None = None) -> str:
    """``2026-12-02 15:04:05 (3m 10s ago)``; ``in …`` for an instant to come."""
    instant = parse_iso(text)
    if instant is None:
        return "-"
    delta = ((now or datetime.now(UTC)) - instant).total_seconds()
    relative = f"{duration(delta)} ago" if delta >= 0 else f"in {duration(-delta)}"
    return f"{instant:%Y-%m-%d %H:%M:%S} ({relative})"
