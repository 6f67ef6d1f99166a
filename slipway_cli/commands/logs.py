"""``slipway logs``: an execution's (or a job's latest execution's) output, or, with -f, its
lines live until it ends; a run that has not started yet is waited for."""

from __future__ import annotations

import sys

import click

from slipway_cli.commands.run import follow_to_end
from slipway_cli.context import state
from slipway_cli.targets import Target, TargetError, parse_target


@click.command()
@click.argument("target", metavar="EXECUTION_OR_JOB")
@click.option("-f", "--follow", is_flag=True, help="Follow it live until it ends; exit with its exit code")
def logs(target: str, follow: bool) -> None:
    """Print the stdout (to stdout) and stderr (to stderr) of an execution or of a job's latest
    execution (task/job[/execution] or a URL the API gave)."""
    named = parse_target(target)
    if named.job_id is None:
        raise TargetError(f"{target!r} names a task; logs needs a job or an execution")
    current = state()
    if follow:
        sys.exit(follow_to_end(current, named))
    if named.execution_id is None:
        job = current.client.get(named.job_path(), base=named.base)["job"]
        if not job["executions"]:
            raise click.ClickException("the job has no execution yet (logs -f waits for it)")
        named = Target(named.task_id, named.job_id, job["executions"][0]["executionId"], base=named.base)
    sys.stdout.write(current.client.text(named.path() + "stdout/", base=named.base))
    sys.stdout.flush()
    sys.stderr.write(current.client.text(named.path() + "stderr/", base=named.base))
    sys.stderr.flush()
