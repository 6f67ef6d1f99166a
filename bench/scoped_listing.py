"""Does a scoped key's listing cost what its own tasks cost, whatever other teams store?

``python -m bench.scoped_listing [--others 3000] [--own 30] [--samples 60]`` starts two local
stacks in one run (no runner: the API and its emulator only), each with the same scoped keys:

- **empty**: only the caller's tasks, ``--own`` tasks ``producta-<app>-<n>``, made through the
  API (one POST each);
- **loaded**: the same, then ``--others`` tasks of nine other teams (``<team>-<app>-<n>``),
  written straight into its tables with the service's models as ``save_job`` writes them (the
  task with its shard of the task-id index, its words, the task counter).

Two keys cover the same tasks: ``producta`` (``producta-.*``: its prefix is looked up in the
task-id index) and ``producta-noprefix`` (``(?:producta)-.*``, which matches the same ids but
forces no prefix the scanner is sure of: the filtered read of every task id, as every scoped
listing was before the index). Requests alternate between the stacks (empty, loaded / loaded,
empty) and their round trips are timed: ``GET /tasks/`` (page 1 and the last page) and
``GET /search/?query=<app>`` (a word of one in ten ids of every team), and, straight to each
emulator, the task-id index Queries such a listing makes. Before anything is
timed, each answer is checked: the same tasks on both stacks and for both keys, none of
another team. Prints p50 and p90 of each and the loaded / empty ratio of the p50s (target:
≤ 1.2 with the index); writes ``bench/results/scoped_listing.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from bench.figures import IMAGE, RESULTS, percentile
from infra.local.harness import ROOT, StackProcess

LOG_DIR = ROOT / ".local" / "bench-logs"
OPS_KEY = "bench-ops-key"
KEYS = {"producta": "bench-producta-key", "producta-noprefix": "bench-noprefix-key"}
SCOPED = [
    {"name": "producta", "key": KEYS["producta"], "tasks": "producta-.*", "verbs": ["read"]},
    {"name": "producta-noprefix", "key": KEYS["producta-noprefix"], "tasks": "(?:producta)-.*", "verbs": ["read"]},
]
OTHER_TEAMS = ("payments", "search", "billing", "ingest", "mobile", "growth", "identity", "reports", "platform")
APPS = ("api", "worker", "etl", "cron", "sync", "export", "audit", "index", "cleanup", "web")
SEARCHED_APP = APPS[0]
TARGET_RATIO = 1.2


def task_id(team: str, index: int) -> str:
    return f"{team}-{APPS[index % len(APPS)]}-{index}"


def p50(values: list[float]) -> float:
    return percentile(values, 50)


class Client:
    """A keep-alive session on one stack."""

    def __init__(self, stack: StackProcess) -> None:
        self.base_url = stack.base_url
        self.session = requests.Session()

    def get(self, path: str, key: str, **params: Any) -> dict[str, Any]:
        response = self.session.get(self.base_url + path, headers={"X-Api-Key": key}, params=params, timeout=60)
        if response.status_code != 200:
            raise AssertionError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
        body: dict[str, Any] = response.json()
        return body

    def timed(self, path: str, key: str, **params: Any) -> float:
        began = time.perf_counter()
        self.get(path, key, **params)
        return (time.perf_counter() - began) * 1000


def make_own_tasks(stack: StackProcess, count: int) -> list[str]:
    """The caller's tasks, through the API (a job each, enqueued: there is no runner)."""
    session = requests.Session()
    ids = [task_id("producta", index) for index in range(count)]
    for each in ids:
        response = session.post(
            f"{stack.base_url}/tasks/{each}/",
            headers={"X-Api-Key": OPS_KEY},
            json={"image": IMAGE, "command": "true"},
            timeout=60,
        )
        if response.status_code != 200:
            raise AssertionError(f"POST /tasks/{each}/ answered {response.status_code}: {response.text[:300]}")
    return ids


def load_other_teams(count: int) -> float:
    """Write ``count`` other teams' tasks into the loaded stack's tables (this process's
    environment points at it), as ``save_job`` writes a task; answers the seconds it took."""
    from chalicelib.adapters import counters
    from chalicelib.adapters.models import CounterModel, TaskModel, TaskWordModel, new_task
    from chalicelib.domain.task_words import task_words

    began = time.perf_counter()
    # Older than the caller's tasks and newer, mixed: the listing's order interleaves them.
    start = datetime.now(UTC) - timedelta(days=30)
    tasks: list[TaskModel] = []
    words: list[TaskWordModel] = []
    for index in range(count):
        each = task_id(OTHER_TEAMS[index % len(OTHER_TEAMS)], index)
        created = start + timedelta(seconds=index * 30 * 24 * 3600 / count) + timedelta(days=index % 2 * 30)
        tasks.append(new_task(each, created))
        words += [TaskWordModel(word, each) for word in task_words(each)]

    def write(items: list[Any]) -> None:
        with type(items[0]).batch_write() as batch:
            for item in items:
                batch.save(item)

    chunks = [chunk[at : at + 500] for chunk in (tasks, words) for at in range(0, len(chunk), 500)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, chunks))
    CounterModel(counters.TASKS).update(actions=[CounterModel.value.add(count)])
    return time.perf_counter() - began


def every_listed(client: Client, key: str, path: str, **params: Any) -> list[str]:
    """Every task id of every page of a listing, in order."""
    first = client.get(path, key, **params)
    ids = [item["taskId"] for item in first["items"]]
    for page in range(2, int(first["pages"]) + 1):
        ids += [item["taskId"] for item in client.get(path, key, page=page, **params)["items"]]
    return ids


def check(clients: dict[str, Client], own: list[str]) -> dict[str, int]:
    """Both stacks and both keys answer the caller's tasks, all of them and only them."""
    found: dict[str, list[str]] = {}
    for stack_name, client in clients.items():
        for key_name, key in KEYS.items():
            listed = every_listed(client, key, "/tasks/")
            searched = every_listed(client, key, "/search/", query=SEARCHED_APP)
            found[f"{stack_name} {key_name} /tasks/"] = listed
            found[f"{stack_name} {key_name} /search/"] = searched
            if sorted(listed) != sorted(own):
                raise AssertionError(f"{stack_name}/{key_name}: /tasks/ listed {len(listed)} tasks, not the {len(own)}")
            expected = sorted(each for each in own if each.split("-")[1] == SEARCHED_APP)
            if searched != expected:
                raise AssertionError(f"{stack_name}/{key_name}: /search/ found {searched}, not {expected}")
    reference = found["empty producta /tasks/"]
    for name, ids in found.items():
        if name.endswith("/tasks/") and ids != reference:
            raise AssertionError(f"{name} lists the tasks in another order than the empty stack")
    return {name: len(ids) for name, ids in found.items()}


Times = dict[str, dict[str, list[float]]]


class Emulator:
    """Straight to one stack's emulator: the task-id index Queries a scoped listing makes."""

    def __init__(self, stack: StackProcess) -> None:
        import boto3

        from chalicelib.settings import Settings
        from infra.local.stack import FAKE_CREDENTIALS

        settings = Settings(stage=stack.stage)
        self.table = settings.tasks_table
        self.shards = settings.task_id_shards
        self.dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=stack.aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        )

    def timed_prefix_queries(self) -> float:
        """One Query per shard with ``begins_with(task_id, "producta-")``, as the listing makes
        them; answers the milliseconds of all of them."""
        began = time.perf_counter()
        for shard in range(self.shards):
            self.dynamodb.query(
                TableName=self.table,
                IndexName="by-task-id",
                KeyConditionExpression="(#0 = :0 AND begins_with (#1, :1))",
                ExpressionAttributeNames={"#0": "id_shard", "#1": "task_id"},
                ExpressionAttributeValues={":0": {"S": f"ids#{shard}"}, ":1": {"S": "producta-"}},
            )
        return (time.perf_counter() - began) * 1000


def measure(
    clients: dict[str, Client], emulators: dict[str, Emulator], samples: int, warm_up: int, last_page: int
) -> Times:
    """Milliseconds of each request on each stack, alternating the stacks' order."""
    timers: dict[str, Callable[[str], float]] = {}
    for key_name, key in KEYS.items():
        timers[f"GET /tasks/ ({key_name})"] = lambda stack, key=key: clients[stack].timed("/tasks/", key)
        timers[f"GET /tasks/?page={last_page} ({key_name})"] = lambda stack, key=key: clients[stack].timed(
            "/tasks/", key, page=last_page
        )
        timers[f"GET /search/ ({key_name})"] = lambda stack, key=key: clients[stack].timed(
            "/search/", key, query=SEARCHED_APP
        )
    timers["index Queries alone (emulator)"] = lambda stack: emulators[stack].timed_prefix_queries()
    times: Times = {name: {"empty": [], "loaded": []} for name in timers}
    for round_number in range(warm_up + samples):
        order = ("empty", "loaded") if round_number % 2 == 0 else ("loaded", "empty")
        for name, timed in timers.items():
            for stack_name in order:
                elapsed = timed(stack_name)
                if round_number >= warm_up:
                    times[name][stack_name].append(elapsed)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--others", type=int, default=3000, help="other teams' tasks on the loaded stack")
    parser.add_argument("--own", type=int, default=30, help="the caller's tasks, on both stacks")
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--warm-up", type=int, default=5)
    args = parser.parse_args(argv)

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    extra_env = {"SLIPWAY_AUTH_API_KEYS": OPS_KEY, "SLIPWAY_AUTH_SCOPED_KEYS": json.dumps(SCOPED)}
    empty = StackProcess(runners=0, log_path=LOG_DIR / "scoped-listing-empty.log", extra_env=extra_env)
    loaded = StackProcess(runners=0, log_path=LOG_DIR / "scoped-listing-loaded.log", extra_env=extra_env)
    with empty, loaded:
        # The models below write to the loaded stack: its stage and emulator, set before any
        # settings are read in this process.
        os.environ.update(loaded.client_env())
        own = make_own_tasks(empty, args.own)
        make_own_tasks(loaded, args.own)
        load_seconds = load_other_teams(args.others)
        clients = {"empty": Client(empty), "loaded": Client(loaded)}
        counted = check(clients, own)
        last_page = max(1, -(-args.own // 10))
        emulators = {"empty": Emulator(empty), "loaded": Emulator(loaded)}
        times = measure(clients, emulators, args.samples, args.warm_up, last_page)

    print(
        f"scoped listing: {args.own} tasks of the caller on both stacks, {args.others} other teams' tasks "
        f"on the loaded one (written in {load_seconds:.1f} s); {args.samples} alternating samples "
        f"after {args.warm_up} warm-up; checked: {len(counted)} listings, same tasks on both"
    )
    print(f"{'request':<44} {'empty p50':>10} {'p90':>7} {'loaded p50':>11} {'p90':>7} {'ratio':>6}")
    figures: dict[str, dict[str, float]] = {}
    for name, by_stack in times.items():
        e, loaded_times = by_stack["empty"], by_stack["loaded"]
        ratio = p50(loaded_times) / p50(e)
        figures[name] = {
            "empty_p50_ms": p50(e),
            "empty_p90_ms": percentile(e, 90),
            "loaded_p50_ms": p50(loaded_times),
            "loaded_p90_ms": percentile(loaded_times, 90),
            "ratio_p50": ratio,
            "empty_mean_ms": statistics.fmean(e),
            "loaded_mean_ms": statistics.fmean(loaded_times),
        }
        print(
            f"{name:<44} {p50(e):10.1f} {percentile(e, 90):7.1f} {p50(loaded_times):11.1f} "
            f"{percentile(loaded_times, 90):7.1f} {ratio:6.2f}"
        )
    paired = {
        name: statistics.median(b / a for a, b in zip(by_stack["empty"], by_stack["loaded"], strict=True))
        for name, by_stack in times.items()
    }
    print("median of the paired ratios (loaded / empty, same round):")
    for name, ratio in paired.items():
        print(f"  {name:<42} {ratio:6.2f}")
    indexed = [figures[name]["ratio_p50"] for name in figures if name.endswith("(producta)")]
    verdict = "meets" if max(indexed) <= TARGET_RATIO else "misses"
    print(f"with the task-id index the worst loaded / empty ratio is {max(indexed):.2f}: {verdict} ≤ {TARGET_RATIO}")
    RESULTS.mkdir(exist_ok=True)
    result = {
        "own": args.own,
        "others": args.others,
        "samples": args.samples,
        "figures": figures,
        "paired_ratio_median": paired,
    }
    (RESULTS / "scoped_listing.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
