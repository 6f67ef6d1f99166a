"""``slipway run`` (enqueue a job, optionally follow it) and ``slipway run-now`` (run an existing
job once more now, with other env values or command for that run only)."""

from __future__ import annotations

import re
import shlex
import sys
from typing import Any

import click

from slipway_cli import exit_codes
from slipway_cli.context import State, state
from slipway_cli.follow import Follower, Outcome, wait_for_execution
from slipway_cli.output import duration, output_option, print_json, ran_for
from slipway_cli.targets import Target, parse_target

_NOT_IN_TASK_ID = re.compile(r"[^A-Za-z0-9._:@+=~-]+")


def task_for_image(image: str) -> str:
    """The task a ``slipway run`` without ``--task`` goes to: the image's name without its
    registry, path, tag or digest (``registry:5000/team/busybox:1.36`` → ``busybox``)."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    name = _NOT_IN_TASK_ID.sub("-", name).strip("-.")
    return name or "cli"


def command_text(words: tuple[str, ...]) -> str:
    """One word is the command as written (the API splits it as a shell would); several are
    quoted back into one, so ``slipway run img sh -c 'echo a; exit 3'`` keeps its argument."""
    return words[0] if len(words) == 1 else shlex.join(words)


def parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--env")
        env[name] = value
    return env


_COMMAND_SETTINGS = {"ignore_unknown_options": True}
_FOLLOW = click.option(
    "-f", "--follow", is_flag=True, help="Show its output live and exit with the execution's exit code"
)
_ENV = click.option("-e", "--env", "env", multiple=True, metavar="NAME=VALUE", help="An environment variable (repeat)")


@click.command(context_settings=_COMMAND_SETTINGS)
@click.argument("image")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("-t", "--task", help="The task (by default the image's name)")
@_ENV
@click.option("--retries", type=click.IntRange(min=0), help="Retries of a failed execution")
@click.option("--timeout", type=click.IntRange(min=1), help="Seconds before the container is killed")
@click.option("--cron", help='Run on this cron schedule ("*/5 * * * *")')
@click.option("--tz", "timezone", help="The IANA time zone of --cron (UTC by default)")
@click.option("--start-in", help="Run once after this delay (30s, 5m, 2h30m)")
@_FOLLOW
@output_option()
def run(
    image: str,
    command: tuple[str, ...],
    task: str | None,
    env: tuple[str, ...],
    retries: int | None,
    timeout: int | None,
    cron: str | None,
    timezone: str | None,
    start_in: str | None,
    follow: bool,
    output: str,
) -> None:
    """Enqueue IMAGE running COMMAND; with -f, follow it to its end.

    \b
    Options the command itself takes pass through (sh -c '…'); put -- before a command whose
    options are also this command's (-e, -t, -f, -o).
    """
    body: dict[str, Any] = {"image": image, "command": command_text(command)}
    optional = {
        "envs": parse_env(env) or None,
        "retries": retries,
        "timeout": timeout,
        "cron": cron,
        "timezone": timezone,
        "startIn": start_in,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    current = state()
    task_id = task or task_for_image(image)
    enqueued = current.client.post(f"/tasks/{task_id}/", body)
    _enqueued_then_follow(current, enqueued, follow, output)


@click.command("run-now")
@click.argument("job")
@_ENV
@click.option("-c", "--command", help="The command of this run instead of the job's")
@_FOLLOW
@output_option()
def run_now(job: str, env: tuple[str, ...], command: str | None, follow: bool, output: str) -> None:
    """Run JOB (task/job or its URL) once more now; --env and --command apply to this run only."""
    target = parse_target(job)
    body: dict[str, Any] = {"env": parse_env(env)}
    if command is not None:
        body["command"] = command
    current = state()
    enqueued = current.client.post(target.job_path() + "run/", body, base=target.base)
    _enqueued_then_follow(current, enqueued, follow, output, base=target.base)


def _enqueued_then_follow(
    current: State, enqueued: dict[str, Any], follow: bool, output: str, base: str | None = None
) -> None:
    if not follow:
        if output == "json":
            print_json(enqueued)
        else:
            current.out.print(f"job       {enqueued['jobUrl']}")
            current.out.print(f"execution {enqueued.get('executionUrl') or '- (it is scheduled: none yet)'}")
        return
    target = Target(enqueued["taskId"], enqueued["jobId"], enqueued.get("executionId"), base=base)
    sys.exit(follow_to_end(current, target))


def follow_to_end(current: State, target: Target) -> int:
    """Follow the target (a job's latest run when no execution is named) and report how it
    ended; the CLI's exit code for that end."""
    if target.execution_id is None:
        target = wait_for_execution(current.client, target, current.err)
    current.err.print(f"[dim]execution {current.client.url(target.path(), base=target.base)}[/dim]")
    follower = Follower(current.client, target, current.err)
    outcome = follower.follow()
    if outcome.detached:
        return 0
    report_end(current, follower, outcome)
    return exit_codes.for_outcome(outcome.status or "", outcome.exit_code)


def report_end(current: State, follower: Follower, outcome: Outcome) -> None:
    details = follower.details()
    code = "" if outcome.exit_code is None else f", exit code {outcome.exit_code}"
    took = duration(ran_for(details))
    current.err.print(f"[dim]execution {outcome.status}{code} ({took})[/dim]")
    error = details.get("error") or ""
    if outcome.status != "done" and error and details.get("exitCode") is None:
        current.err.print(error.strip()[-2000:], style="red", highlight=False, markup=False)
