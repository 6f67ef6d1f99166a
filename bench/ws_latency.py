"""Live log latency: a line printed in a container → its arrival at a WebSocket client.

``python -m bench.ws_latency [--lines N] [--interval S]`` starts a whole local stack (the emulator, the
front door, one runner on the local Docker Engine) and runs, one after the other, the same bash
loop that prints N lines, each carrying its own wall-clock stamp (bash's ``$EPOCHREALTIME``,
microseconds; containers share the host's clock):

(a) baseline: the container run straight through the docker SDK, its lines read with
    ``logs(stream=True, follow=True)`` — the floor any log tail over Docker sits on;
(b) Slipway: the job enqueued with ``POST /tasks/<t>/``, its lines read by a ``websockets``
    client on ``/tasks/<t>/jobs/<j>/executions/<e>/ws/`` connected before the loop starts
    (the job sleeps first), so every line is a live one, not backlog.

Latency of a line = the client's ``time.time()`` when the line is parsed − the stamp in it.
It prints p50/p99/max of both, the targets (p50 ≤ 50 ms, p99 ≤ 250 ms) and the ratio of the
percentiles to the baseline's, and writes them to ``bench/results/ws_latency.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
import uuid
from pathlib import Path

import docker
import requests
import websockets

from bench.core_latency import summary
from infra.local.harness import StackProcess

IMAGE = os.environ.get("SLIPWAY_TEST_IMAGE", "slipway-test/busybox:latest")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET_P50_MS = 50.0
TARGET_P99_MS = 250.0
MARK = "STAMP"


def loop_command(lines: int, interval: float, lead_in: float) -> list[str]:
    script = (
        f"sleep {lead_in}; "
        f'for i in $(seq 1 {lines}); do echo "{MARK} $i $EPOCHREALTIME"; '
        f'if [ $((i % 2)) = 0 ]; then echo "{MARK} e$i $EPOCHREALTIME" >&2; fi; sleep {interval}; done'
    )
    return ["bash", "-c", script]


def latency_ms(text: str, arrived: float) -> float | None:
    parts = text.split()
    if len(parts) != 3 or parts[0] != MARK:
        return None
    return (arrived - float(parts[2])) * 1000


def baseline(lines: int, interval: float) -> list[float]:
    client = docker.from_env()
    container = client.containers.run(
        IMAGE, loop_command(lines, interval, 0.5), detach=True, labels={"slipway-bench.ws": uuid.uuid4().hex}
    )
    latencies: list[float] = []
    try:
        pending = b""
        for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
            arrived = time.time()
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                value = latency_ms(raw.decode(), arrived)
                if value is not None:
                    latencies.append(value)
    finally:
        container.remove(force=True)
    return latencies


async def watch(url: str) -> tuple[list[float], dict | None]:
    latencies: list[float] = []
    done = None
    async with websockets.connect(url, open_timeout=30, max_size=None) as socket:
        async for raw in socket:
            arrived = time.time()
            message = json.loads(raw)
            for line in message.get("lines", []):
                value = latency_ms(line["text"], arrived)
                if value is not None:
                    latencies.append(value)
            if message.get("done"):
                done = message
    return latencies, done


def slipway(stack: StackProcess, lines: int, interval: float) -> tuple[list[float], dict | None]:
    command = "bash -c '" + loop_command(lines, interval, 3)[2] + "'"
    response = requests.post(f"{stack.base_url}/tasks/bench-ws/", json={"image": IMAGE, "command": command}, timeout=30)
    response.raise_for_status()
    body = response.json()
    url = stack.base_url.replace("http://", "ws://") + (
        f"/tasks/bench-ws/jobs/{body['jobId']}/executions/{body['executionId']}/ws/"
    )
    return asyncio.run(watch(url))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ws_latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=600, help="stdout lines (plus one stderr line per two)")
    parser.add_argument("--interval", type=float, default=0.005, help="seconds between two lines")
    args = parser.parse_args(argv)
    RESULTS_DIR.mkdir(exist_ok=True)
    with StackProcess(log_path=RESULTS_DIR / "ws_latency-stack.log") as stack:
        # A first job warms the runner (image, clients) so the measured one is a steady state.
        slipway(stack, 5, 0.01)
        base = baseline(args.lines, args.interval)
        ours, done = slipway(stack, args.lines, args.interval)
    expected = args.lines + args.lines // 2
    base_stats, our_stats = summary(base), summary(ours)
    report = {
        "lines_expected": expected,
        "baseline_ms": base_stats,
        "slipway_ms": our_stats,
        "done_message": done,
        "ratio_p50": our_stats["p50"] / base_stats["p50"] if base_stats["p50"] else None,
        "ratio_p99": our_stats["p99"] / base_stats["p99"] if base_stats["p99"] else None,
        "targets_ms": {"p50": TARGET_P50_MS, "p99": TARGET_P99_MS},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }
    (RESULTS_DIR / "ws_latency.json").write_text(json.dumps(report, indent=2))
    print(f"lines: expected {expected}, baseline got {len(base)}, Slipway got {len(ours)}; done: {done}")
    print(f"{'':24}{'p50':>10}{'p99':>10}{'max':>10}")
    for name, stats in (("docker logs --follow", base_stats), ("Slipway WebSocket", our_stats)):
        print(f"{name:24}{stats['p50']:>10.1f}{stats['p99']:>10.1f}{stats['max']:>10.1f}  ms")
    print(f"targets                 {TARGET_P50_MS:>10.1f}{TARGET_P99_MS:>10.1f}")
    print(f"ratio to baseline       {report['ratio_p50']:>10.2f}{report['ratio_p99']:>10.2f}")
    met = our_stats["p50"] <= TARGET_P50_MS and our_stats["p99"] <= TARGET_P99_MS and len(ours) == expected
    print("targets met" if met else "targets NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
