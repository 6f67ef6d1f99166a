"""``slipway stop`` / ``retry`` / ``suspend`` / ``resume``: one POST each, its answer shown."""

from __future__ import annotations

from typing import Any

import click

from slipway_cli.context import state
from slipway_cli.output import output_option, print_json
from slipway_cli.targets import TargetError, parse_target


def _show(answer: dict[str, Any], output: str, words: str) -> None:
    if output == "json":
        print_json(answer)
    else:
        state().out.print(words)


@click.command()
@click.argument("target", metavar="EXECUTION_OR_JOB")
@output_option()
def stop(target: str, output: str) -> None:
    """Stop one execution, or a job: its runs, its schedule, its cron and its pending retries."""
    named = parse_target(target)
    if named.job_id is None:
        raise TargetError(f"{target!r} names a task; stop needs a job or an execution")
    answer = state().client.post(named.path() + "stop/", base=named.base)
    _show(answer, output, f"stop requested: {named.kind} {named.execution_id or named.job_id}")


@click.command()
@click.argument("job")
@output_option()
def retry(job: str, output: str) -> None:
    """A new execution of JOB now, as it is defined."""
    named = parse_target(job)
    answer = state().client.post(named.job_path() + "retry/", base=named.base)
    _show(answer, output, f"execution {answer['executionUrl']}")


@click.command()
@click.argument("job")
@output_option()
def suspend(job: str, output: str) -> None:
    """Suspend a cron job: it makes no executions until resumed."""
    named = parse_target(job)
    answer = state().client.post(named.job_path() + "suspend/", base=named.base)
    _show(answer, output, f"suspended: {answer['jobUrl']}")


@click.command()
@click.argument("job")
@output_option()
def resume(job: str, output: str) -> None:
    """Resume a suspended cron job from its next instant after now."""
    named = parse_target(job)
    answer = state().client.post(named.job_path() + "resume/", base=named.base)
    _show(answer, output, f"resumed: next run {answer.get('nextRunAt') or '-'} UTC")
