"""``slipway status``: the farm (``GET /status/``) as tables: hosts, pools, queues, running
containers and the next scheduled jobs."""

from __future__ import annotations

from typing import Any

import click

from slipway_cli.context import state
from slipway_cli.output import ago, output_option, print_json, table


@click.command()
@output_option()
def status(output: str) -> None:
    """The farm: hosts, pools, queues, running containers, scheduled jobs."""
    farm = state().client.get("/status/")
    if output == "json":
        print_json(farm)
        return
    for shown in farm_tables(farm):
        state().out.print(shown)


def farm_tables(farm: dict[str, Any]) -> list[Any]:
    hosts = [
        [
            h["id"],
            h["pool"],
            h["alive"],
            h["available"],
            h["blacklisted"],
            h["circuit"],
            h["running"],
            ago(h.get("lastHeartbeatAt")),
            h.get("error"),
        ]
        for h in farm["hosts"]
    ]
    pools = [[p["name"], p["match"], p.get("maxRunning"), p.get("maxRunningPerTask")] for p in farm["pools"]]
    queues = farm["queues"]
    queue_rows: list[list[Any]] = [["jobs", queues["jobs"]["length"]]]
    queue_rows += [[f"jobs: pool {name}", length] for name, length in (queues["jobs"].get("pools") or {}).items()]
    queue_rows += [
        ["jobs: dead letters", queues["error"]["length"]],
        ["notifications", queues["notifications"]["length"]],
        ["notifications: dead letters", queues["notifications"]["error"]],
    ]
    running = [
        [c.get("taskId"), c.get("jobId"), c.get("executionId"), f"{c.get('host')}:{c.get('port')}", c.get("startedAt")]
        for c in farm["containers"]["running"]
    ]
    scheduled = [[s["taskId"], s["jobId"], ago(s["nextRunAt"])] for s in farm["jobs"]["scheduled"]]
    totals = f"{farm['tasks']['count']} tasks, {farm['jobs']['count']} jobs"
    return [
        table(
            "hosts",
            ("HOST", "POOL", "ALIVE", "AVAILABLE", "BLACKLISTED", "CIRCUIT", "RUNNING", "HEARTBEAT", "ERROR"),
            hosts,
        ),
        table("pools", ("POOL", "MATCH", "MAX RUNNING", "PER TASK"), pools),
        table("queues", ("QUEUE", "LENGTH"), queue_rows),
        table("running containers", ("TASK", "JOB", "EXECUTION", "HOST", "STARTED"), running),
        table("scheduled jobs", ("TASK", "JOB", "NEXT RUN"), scheduled),
        totals,
    ]
