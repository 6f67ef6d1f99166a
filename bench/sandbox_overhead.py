"""What the container sandbox costs at start: docker create + start as the runner does it
(``runner/docker_engine.DockerEngine``), with the sandbox on (the service's default sandbox:
memory, CPU and pids limits, no-new-privileges, cap_drop ALL, a capped json-file log) and off
(Docker's defaults), on the same network (one the benchmark makes for itself), in one run.

The two are interleaved, one of each per round in alternating order, so the machine's load
changes weigh on both alike. Each container runs ``true``; its removal is not timed. Prints
p50/p90 of both and their difference; the target is a p50 difference ≤ 5 ms. Since one start
varies by tens of milliseconds on a busy machine, it also prints a bootstrap 95 % interval of the
p50 difference (the rounds resampled, each keeping its pair): a p50 difference under the target
with an interval far above it would say the run was too noisy to tell. Writes the figures to
``bench/results/sandbox_overhead.json``.

    .venv/bin/python -m bench.sandbox_overhead [--rounds 100] [--read-only]
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from dataclasses import replace

import docker

from bench.figures import IMAGE, RESULTS, percentile
from chalicelib.settings import Settings
from runner.docker_engine import ContainerSpec, DockerEngine

TARGET_MS = 5.0
BOOTSTRAP_RESAMPLES = 2000


def bootstrap_interval(pairs: list[tuple[float, float]], seed: int = 13) -> tuple[float, float]:
    """The 95 % bootstrap interval of p50(on) − p50(off) over rounds of (off, on) pairs."""
    draw = random.Random(seed)
    differences = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        sample = [pairs[draw.randrange(len(pairs))] for _ in pairs]
        differences.append(percentile([on for _, on in sample], 50) - percentile([off for off, _ in sample], 50))
    return percentile(differences, 2.5), percentile(differences, 97.5)


def _start_ms(engine: DockerEngine, spec: ContainerSpec) -> tuple[float, str]:
    began = time.perf_counter()
    container_id = engine.create(spec)
    engine.start(container_id)
    return (time.perf_counter() - began) * 1000, container_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--warm-up", type=int, default=5)
    parser.add_argument("--read-only", action="store_true", help="also a read-only root with a tmpfs /tmp")
    parser.add_argument(
        "--network", default="", help="the containers' network (default: a bridge network made for the run; 'none')"
    )
    args = parser.parse_args(argv)

    if args.network:
        return _measure(args, args.network)
    network = docker.from_env().networks.create(f"slipway-bench-{uuid.uuid4().hex[:8]}", driver="bridge")
    try:
        return _measure(args, network.name)
    finally:
        network.remove()


def _measure(args: argparse.Namespace, network: str) -> int:
    engine = DockerEngine()
    sandbox = Settings(sandbox_read_only=args.read_only, sandbox_network=network).sandbox_base
    applied = sandbox.apply(None)
    base = ContainerSpec(image=IMAGE, argv=["true"], labels={"slipway.bench": "sandbox-overhead"})
    specs = {"off": replace(base, network=network), "on": replace(base, sandbox=applied)}
    samples: dict[str, list[float]] = {"off": [], "on": []}
    paired: list[float] = []
    rounds: list[tuple[float, float]] = []
    for round_number in range(args.warm_up + args.rounds):
        order = ("off", "on") if round_number % 2 == 0 else ("on", "off")
        this_round: dict[str, float] = {}
        for name in order:
            this_round[name], container_id = _start_ms(engine, specs[name])
            engine.wait(container_id, 30)
            engine.remove(container_id)
        if round_number >= args.warm_up:
            for name, elapsed in this_round.items():
                samples[name].append(elapsed)
            paired.append(this_round["on"] - this_round["off"])
            rounds.append((this_round["off"], this_round["on"]))

    figures = {
        name: {"p50_ms": percentile(values, 50), "p90_ms": percentile(values, 90), "samples": len(values)}
        for name, values in samples.items()
    }
    difference = figures["on"]["p50_ms"] - figures["off"]["p50_ms"]
    print(f"docker create + start, {args.rounds} interleaved rounds (after {args.warm_up} warm-up), image {IMAGE}")
    print(f"sandbox: {json.dumps(applied.view())}")
    print(f"{'':>12} {'p50 ms':>8} {'p90 ms':>8}")
    for name in ("off", "on"):
        print(f"{'sandbox ' + name:>12} {figures[name]['p50_ms']:8.1f} {figures[name]['p90_ms']:8.1f}")
    p90_difference = figures["on"]["p90_ms"] - figures["off"]["p90_ms"]
    print(f"{'difference':>12} {difference:8.1f} {p90_difference:8.1f}")
    paired_median = percentile(paired, 50)
    print(f"median of the {len(paired)} paired differences (on − off, same round): {paired_median:.1f} ms")
    low, high = bootstrap_interval(rounds)
    print(f"95 % bootstrap interval of the p50 difference: {low:.1f} … {high:.1f} ms")
    verdict = "meets" if difference <= TARGET_MS else "misses"
    print(f"the sandbox costs {difference:.1f} ms at p50: {verdict} the ≤ {TARGET_MS:.0f} ms target")
    RESULTS.mkdir(exist_ok=True)
    result = {
        **figures,
        "p50_difference_ms": difference,
        "paired_median_difference_ms": paired_median,
        "p50_difference_interval_ms": [low, high],
        "network": network,
        "read_only": args.read_only,
        "target_ms": TARGET_MS,
    }
    (RESULTS / "sandbox_overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
