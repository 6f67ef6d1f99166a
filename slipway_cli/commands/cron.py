"""``slipway cron explain``: a cron expression's next instants, in words, read as the service
reads it (``chalicelib.domain.scheduling.next_cron_tick``: in its zone, DST included)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from croniter import croniter

from chalicelib.domain.scheduling import next_cron_tick
from slipway_cli.context import state
from slipway_cli.output import duration, output_option, print_json


@click.group()
def cron() -> None:
    """Cron expressions."""


def instants(expression: str, zone: str | None, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` instants (UTC) of ``expression`` read in ``zone``, after ``after``."""
    found: list[datetime] = []
    for _ in range(count):
        after = next_cron_tick(expression, after, zone)
        found.append(after)
    return found


def in_words(instant: datetime, zone: ZoneInfo, now: datetime) -> str:
    """``Thursday 3 December 2026 at 03:00 CET (02:00 UTC), in 10h 46m``."""
    local = instant.astimezone(zone)
    utc = instant.astimezone(UTC)
    words = f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M} {local.tzname()}"
    if local.utcoffset():
        words += f" ({utc:%H:%M} UTC{'' if utc.date() == local.date() else f' on {utc:%a} {utc.day}'})"
    return f"{words}, in {duration((instant - now).total_seconds())}"


@cron.command()
@click.argument("expression")
@click.option("--tz", "zone", help="The IANA time zone the cron is read in (UTC by default)")
@click.option("-n", "--count", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option(
    "--after", type=click.DateTime(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]), help="From this UTC time, not now"
)
@output_option()
def explain(expression: str, zone: str | None, count: int, after: datetime | None, output: str) -> None:
    """The next instants of a cron EXPRESSION ("0 3 * * 1-5"), in plain words."""
    if not croniter.is_valid(expression) or len(expression.split()) != 5:
        raise click.BadParameter(f"{expression!r} is not a 5-field cron expression", param_hint="EXPRESSION")
    try:
        tz = ZoneInfo(zone) if zone else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise click.BadParameter(f"{zone!r} is not an IANA time zone", param_hint="--tz") from exc
    now = after.replace(tzinfo=UTC) if after else datetime.now(UTC)
    found = instants(expression, zone, now, count)
    if output == "json":
        print_json([{"utc": i.isoformat(), "local": i.astimezone(tz).isoformat()} for i in found])
        return
    console = state().out
    console.print(f'"{expression}" in {zone or "UTC"}, the next {count} instants:', highlight=False)
    for number, instant in enumerate(found, 1):
        console.print(f"  {number}. {in_words(instant, tz, now)}", highlight=False)
