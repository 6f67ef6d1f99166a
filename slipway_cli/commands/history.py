"""``slipway history JOB``: a job's newest runs, oldest first, with their outcome and duration, and
the summary the API computes (counts by status, p50/p90 duration)."""

from __future__ import annotations

from typing import Any

import click

from slipway_cli.context import state
from slipway_cli.output import ago, duration, output_option, print_json, status_text, table
from slipway_cli.targets import parse_target

COLUMNS = ("EXECUTION", "STATUS", "EXIT", "CREATED", "DURATION")


@click.command()
@click.argument("job")
@click.option(
    "-n", "--limit", type=click.IntRange(min=1), help="How many of the newest runs (the API's default, 200, otherwise)"
)
@output_option()
def history(job: str, limit: int | None, output: str) -> None:
    """JOB's newest runs, oldest first, and their summary (the API's …/history/ route)."""
    named = parse_target(job)
    params = {"limit": str(limit)} if limit is not None else {}
    answer = state().client.get(named.job_path() + "history/", base=named.base, **params)
    if output == "json":
        print_json(answer)
        return
    rows = [
        [
            run["executionId"],
            status_text(run["status"]),
            run["exitCode"],
            ago(run["createdAt"]),
            duration(run["durationSeconds"]),
        ]
        for run in answer["executions"]
    ]
    console = state().out
    console.print(table(f"job {answer['jobId']}: {covered(answer)}", COLUMNS, rows))
    console.print(summary_line(answer["summary"]))


def covered(answer: dict[str, Any]) -> str:
    runs, total = answer["summary"]["runs"], answer["executionCount"]
    return f"the newest {runs} of {total} runs" if total > runs else f"all {runs} runs"


def summary_line(summary: dict[str, Any]) -> str:
    counts = ", ".join(f"{status} {count}" for status, count in summary["byStatus"].items()) or "no runs"
    if not summary["timed"]:
        return counts
    return f"{counts}; duration p50 {duration(summary['durationP50'])}, p90 {duration(summary['durationP90'])}"
