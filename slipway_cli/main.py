"""The ``slipway`` command group: global options, error reporting, and the commands it holds
(one module per group of commands in ``commands/``)."""

from __future__ import annotations

from typing import Any

import click

from slipway_cli.client import ApiError, Client
from slipway_cli.commands import actions, cron, farm, history, listing, logs, run
from slipway_cli.config import ENV_API_KEY, ENV_PROFILE, ENV_URL, ConfigError, resolve
from slipway_cli.context import State
from slipway_cli.targets import TargetError


class _Group(click.Group):
    """Reports the API's and the configuration's errors as one line and exit code 1
    (``exit_codes.ERROR``, click's own for a ClickException)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ApiError, TargetError, ConfigError) as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url", metavar="URL", help=f"The API's base URL (else ${ENV_URL}, else the profile's, else the local stack's)"
)
@click.option(
    "--api-key", metavar="KEY", help=f"The API key sent as X-Api-Key (else ${ENV_API_KEY}, else the profile's)"
)
@click.option(
    "--profile",
    metavar="NAME",
    help=f"The profile of ~/.config/slipway/config.toml (else ${ENV_PROFILE}, else default)",
)
@click.version_option(package_name="slipway", prog_name="slipway")
@click.pass_context
def cli(ctx: click.Context, url: str | None, api_key: str | None, profile: str | None) -> None:
    """Slipway from the command line: run container jobs and follow them to their end.

    \b
    Exit codes of run -f and logs -f: the container's own; 124 timed out; 125 infrastructure
    failure (image not pulled, runner lost, expired); 130 stopped; 1 an error of the CLI or API.
    """
    try:
        config = resolve(url=url, api_key=api_key, profile=profile)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    ctx.obj = State(config=config, client=Client(config))


for command in (
    run.run,
    run.run_now,
    logs.logs,
    listing.ls,
    listing.get,
    listing.search,
    history.history,
    actions.stop,
    actions.retry,
    actions.suspend,
    actions.resume,
    farm.status,
    cron.cron,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="slipway")
