"""The figures for choosing the local AWS engine: moto's server against MiniStack, in one run.

``python -m bench.aws_engines [--quick]`` starts each engine as a process of its own on a free
port (moto: ``python -m infra.local.moto_server`` with this interpreter; MiniStack: through
``infra.local.aws_emulator``, in memory) and measures, on one table pre-filled with
BatchWriteItem to the first size and then to the second (1,000 and 10,000 items by default):

- TransactWriteItems latency: a 2-item transaction (a put with ``attribute_not_exists(pk)`` and
  an ``ADD`` to a counter), as the service's job saves are; one at a time.
- Query latency: one partition of 20 items, read whole.
- Throughput: 8 threads, each doing 1-item transactions (a conditional update of an item of its
  own, so they never conflict and the table keeps its size), per second overall.

and, once per engine, the SQS long-poll wake-up: a ``ReceiveMessage`` (``WaitTimeSeconds=5``)
waits, a message is sent, and the time from just before the send to the poll's return is the
figure. MiniStack is measured with its wake-up (the default of ``ministack_main``) and without
(``sqs_wakeup=False``: it looks at the queue every 100 ms); the sends fall at phases spread
over that period.

It prints a table, the 10k/1k ratios per engine, and writes the figures to
``bench/results/aws_engines.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from bench.figures import RESULTS, percentile
from infra.local.aws_emulator import HEALTH_PATH, EmulatorOptions, start_emulator
from infra.local.stack import free_port, wait_for_http

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=16)
PARTITION = 20  # items per partition key: what a Query reads
BATCH = 25  # BatchWriteItem's limit
THREADS = 8


@dataclass
class Profile:
    sizes: tuple[int, int]
    samples: int  # transactions and queries per size (fewer when the time budget runs out)
    budget_seconds: float  # per latency series
    throughput_seconds: float
    polls: int


FULL = Profile(sizes=(1_000, 10_000), samples=200, budget_seconds=12.0, throughput_seconds=5.0, polls=20)
QUICK = Profile(sizes=(300, 3_000), samples=60, budget_seconds=4.0, throughput_seconds=2.0, polls=8)


@dataclass
class SizeFigures:
    items: int
    fill_items_per_s: float
    tx_ms: list[float] = field(default_factory=list)
    query_ms: list[float] = field(default_factory=list)
    tx_per_s: float = 0.0


@dataclass
class EngineFigures:
    engine: str
    sizes: list[SizeFigures] = field(default_factory=list)
    poll_ms: list[float] = field(default_factory=list)


# -- engines -----------------------------------------------------------------------------------


@contextmanager
def engine_process(engine: str) -> Iterator[str]:
    """Start ``engine`` ("moto", "ministack" or "ministack-no-wakeup") on a free port; yields its
    endpoint and stops it afterwards."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    if engine == "moto":
        command = [sys.executable, "-m", "infra.local.moto_server", "-H", "127.0.0.1", "-p", str(port)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        health = endpoint + "/moto-api/"
    else:
        process = start_emulator(EmulatorOptions(port=port, sqs_wakeup=engine == "ministack"))
        health = endpoint + HEALTH_PATH
    try:
        wait_for_http(health, timeout=60, process=process)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def make_client(endpoint: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, config=CONFIG, **CREDENTIALS)


# -- DynamoDB ----------------------------------------------------------------------------------


def create_table(dynamodb: Any) -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    deadline = time.monotonic() + 30
    while dynamodb.describe_table(TableName=name)["Table"]["TableStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {name} not ACTIVE after 30 s")
        time.sleep(0.05)
    return name


def item(n: int) -> dict[str, Any]:
    """The ``n``-th filler: partitions of ``PARTITION`` items, each with a little payload (like a job's)."""
    return {
        "pk": {"S": f"p{n // PARTITION:06d}"},
        "sk": {"S": f"{n % PARTITION:04d}"},
        "status": {"S": "done"},
        "command": {"S": "echo hello world"},
        "created": {"N": str(1_700_000_000 + n)},
    }


def batch_write(dynamodb: Any, table: str, requests: list[dict[str, Any]]) -> None:
    pending = {table: requests}
    while pending:
        pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def fill(dynamodb: Any, table: str, start: int, stop: int) -> float:
    """Items ``start``..``stop`` - 1, by BatchWriteItem; answers items per second."""
    began = time.perf_counter()
    for first in range(start, stop, BATCH):
        puts = [{"PutRequest": {"Item": item(n)}} for n in range(first, min(stop, first + BATCH))]
        batch_write(dynamodb, table, puts)
    return (stop - start) / (time.perf_counter() - began)


def timed_series(action: Callable[[int], None], count: int, budget: float) -> list[float]:
    """Milliseconds of ``action(i)`` for i = 0.. until ``count`` samples or ``budget`` seconds
    (at least 10 samples)."""
    times: list[float] = []
    deadline = time.monotonic() + budget
    for i in range(count):
        began = time.perf_counter()
        action(i)
        times.append((time.perf_counter() - began) * 1000)
        if i >= 9 and time.monotonic() > deadline:
            break
    return times


def transaction_latency(dynamodb: Any, table: str, profile: Profile) -> list[float]:
    run = uuid.uuid4().hex[:6]
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "counter"}, "sk": {"S": run}, "n": {"N": "0"}})

    def transact(i: int) -> None:
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": f"tx-{run}-{i}"}, "sk": {"S": "job"}, "status": {"S": "queued"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "counter"}, "sk": {"S": run}},
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )

    times = timed_series(transact, profile.samples, profile.budget_seconds)
    # Take the new items out again: the table keeps the size being measured.
    keys = [{"pk": {"S": f"tx-{run}-{i}"}, "sk": {"S": "job"}} for i in range(len(times))]
    keys.append({"pk": {"S": "counter"}, "sk": {"S": run}})
    for first in range(0, len(keys), BATCH):
        batch_write(dynamodb, table, [{"DeleteRequest": {"Key": key}} for key in keys[first : first + BATCH]])
    return times


def query_latency(dynamodb: Any, table: str, items: int, profile: Profile) -> list[float]:
    partitions = items // PARTITION
    chooser = random.Random(7)

    def query(_: int) -> None:
        pk = f"p{chooser.randrange(partitions):06d}"
        response = dynamodb.query(
            TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": pk}}
        )
        if response["Count"] != PARTITION:
            raise AssertionError(f"query of {pk} read {response['Count']} items, not {PARTITION}")

    return timed_series(query, profile.samples, profile.budget_seconds)


def transaction_throughput(endpoint: str, table: str, seconds: float) -> float:
    """1-item transactions per second, from ``THREADS`` threads with a client each."""
    clients = [make_client(endpoint, "dynamodb") for _ in range(THREADS)]
    run = uuid.uuid4().hex[:6]
    keys = [{"pk": {"S": f"thread-{run}-{n}"}, "sk": {"S": "own"}} for n in range(THREADS)]
    batch_write(clients[0], table, [{"PutRequest": {"Item": {**key, "n": {"N": "0"}}}} for key in keys])
    done = [0] * THREADS
    failures: list[BaseException] = []
    barrier = threading.Barrier(THREADS + 1)
    stop_at = [0.0]

    def work(n: int) -> None:
        client, key = clients[n], keys[n]
        barrier.wait()
        try:
            while time.monotonic() < stop_at[0]:
                client.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": table,
                                "Key": key,
                                "UpdateExpression": "ADD n :one",
                                "ConditionExpression": "attribute_exists(pk)",
                                "ExpressionAttributeValues": {":one": {"N": "1"}},
                            }
                        }
                    ]
                )
                done[n] += 1
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    stop_at[0] = began + seconds
    barrier.wait()
    for thread in threads:
        thread.join(seconds + 60)
    elapsed = time.monotonic() - began
    if failures:
        raise RuntimeError(f"{len(failures)} throughput threads failed; first: {failures[0]!r}")
    batch_write(clients[0], table, [{"DeleteRequest": {"Key": key}} for key in keys])
    return sum(done) / elapsed


def measure_dynamodb(engine: str, endpoint: str, profile: Profile) -> list[SizeFigures]:
    dynamodb = make_client(endpoint, "dynamodb")
    table = create_table(dynamodb)
    figures: list[SizeFigures] = []
    filled = 0
    for size in profile.sizes:
        rate = fill(dynamodb, table, filled, size)
        filled = size
        figures.append(SizeFigures(items=size, fill_items_per_s=rate))
        figures[-1].tx_ms = transaction_latency(dynamodb, table, profile)
        figures[-1].query_ms = query_latency(dynamodb, table, size, profile)
        figures[-1].tx_per_s = transaction_throughput(endpoint, table, profile.throughput_seconds)
        count = dynamodb.describe_table(TableName=table)["Table"].get("ItemCount")
        print(f"  {engine}: {size:,} items measured (table reports {count} items)", file=sys.stderr, flush=True)
    return figures


# -- SQS ---------------------------------------------------------------------------------------


def poll_wakeup(endpoint: str, polls: int) -> list[float]:
    """Milliseconds from just before a send to the return of a ReceiveMessage waiting for it."""
    sqs, poller = make_client(endpoint, "sqs"), make_client(endpoint, "sqs")
    url = sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    latencies: list[float] = []
    for n in range(polls):
        returned: list[tuple[float, list[dict[str, Any]]]] = []

        def poll(into: list[tuple[float, list[dict[str, Any]]]] = returned) -> None:
            messages = poller.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
            into.append((time.perf_counter(), messages))

        thread = threading.Thread(target=poll)
        thread.start()
        # The poll is waiting; the send falls at a phase spread over a 100 ms period.
        time.sleep(0.15 + 0.1 * n / polls)
        sent = time.perf_counter()
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
        thread.join(15)
        arrived, messages = returned[0]
        if len(messages) != 1:
            raise AssertionError(f"the poll returned {len(messages)} messages")
        latencies.append((arrived - sent) * 1000)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
    return latencies


# -- the run -----------------------------------------------------------------------------------


def run(profile: Profile) -> list[EngineFigures]:
    results: list[EngineFigures] = []
    for engine in ("moto", "ministack", "ministack-no-wakeup"):
        figures = EngineFigures(engine=engine)
        with engine_process(engine) as endpoint:
            if engine != "ministack-no-wakeup":  # its DynamoDB is MiniStack's, measured just before
                figures.sizes = measure_dynamodb(engine, endpoint, profile)
            figures.poll_ms = poll_wakeup(endpoint, profile.polls)
        results.append(figures)
    return results


def _p50(values: list[float]) -> float:
    return statistics.median(values)


def report(results: list[EngineFigures], profile: Profile) -> None:
    small, large = profile.sizes
    print("Local AWS engines — DynamoDB on a table of N items, SQS long-poll wake-up (latencies in ms)")
    print(
        f"  {'engine':<12}{'items':>8}{'fill/s':>9}{'tx n':>6}{'tx p50':>8}{'tx p90':>8}"
        f"{'q n':>6}{'q p50':>8}{'q p90':>8}{'tx/s 8thr':>11}"
    )
    for engine in results:
        for size in engine.sizes:
            print(
                f"  {engine.engine:<12}{size.items:>8,}{size.fill_items_per_s:>9.0f}"
                f"{len(size.tx_ms):>6}{_p50(size.tx_ms):>8.1f}{percentile(size.tx_ms, 90):>8.1f}"
                f"{len(size.query_ms):>6}{_p50(size.query_ms):>8.1f}{percentile(size.query_ms, 90):>8.1f}"
                f"{size.tx_per_s:>11.0f}"
            )
    print(f"Ratios {large:,} items / {small:,} items (1.0: the cost does not grow with the table)")
    print(f"  {'engine':<12}{'tx p50':>8}{'q p50':>8}{'tx/s':>8}")
    for engine in results:
        if len(engine.sizes) != 2:
            continue
        one, ten = engine.sizes
        print(
            f"  {engine.engine:<12}{_p50(ten.tx_ms) / _p50(one.tx_ms):>8.2f}"
            f"{_p50(ten.query_ms) / _p50(one.query_ms):>8.2f}{ten.tx_per_s / one.tx_per_s:>8.2f}"
        )
    print("SQS long poll: just before SendMessage → the waiting ReceiveMessage returns")
    print(f"  {'engine':<22}{'n':>4}{'p50':>8}{'p90':>8}{'max':>8}")
    for engine in results:
        values = engine.poll_ms
        print(
            f"  {engine.engine:<22}{len(values):>4}{_p50(values):>8.1f}"
            f"{percentile(values, 90):>8.1f}{max(values):>8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller tables (300 and 3,000 items), fewer samples")
    args = parser.parse_args()
    profile = QUICK if args.quick else FULL
    began = time.monotonic()
    results = run(profile)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "aws_engines.json").write_text(
        json.dumps({"profile": asdict(profile), "engines": [asdict(engine) for engine in results]}, indent=2)
    )
    report(results, profile)
    print(f"({time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
