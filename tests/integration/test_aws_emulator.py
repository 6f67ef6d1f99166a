"""The local AWS emulator (MiniStack, through ``infra.local.aws_emulator``) keeps the semantics
Slipway relies on: atomic conditional writes and transactions under races, counters that lose
no increment, sparse GSIs that follow updates, TTL settings, SQS delays, visibility, redrive,
batches and long polls woken by a send, S3 presigned URLs, and state kept across a stop
(SIGTERM) and a crash (``kill -9``, up to the last checkpoint).

The emulator runs as a process of its own, one per test module (the durability tests start
their own, with a data folder); nothing here uses the session stack of ``tests/conftest.py``.
Every client names its endpoint: the environment points at that session stack.
"""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from infra.local.aws_emulator import HEALTH_PATH, EmulatorOptions, start_emulator
from infra.local.stack import free_port, wait_for_http

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# One attempt per call: a retried conditional write would blur who won a race.
CLIENT_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=20)
RACERS = 8
# Rounds of each race: plain moto (without the lock of infra/local/moto_server.py) let two
# transactions win in 1 or 2 rounds of 30 when this was written.
ROUNDS = 30


@dataclass
class Emulator:
    process: subprocess.Popen[bytes]
    endpoint: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=REGION, config=CLIENT_CONFIG, **CREDENTIALS
        )

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(30)


def launch(data_dir: Path | None = None, checkpoint_seconds: float = 0.0, log: Path | None = None) -> Emulator:
    port = free_port()
    options = EmulatorOptions(port=port, data_dir=data_dir, checkpoint_seconds=checkpoint_seconds)
    process = start_emulator(options, log)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(endpoint + HEALTH_PATH, timeout=60, process=process)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return Emulator(process, endpoint)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    running = launch(log=tmp_path_factory.mktemp("emulator") / "emulator.log")
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _emulator_kept_running(request: pytest.FixtureRequest) -> Iterator[None]:
    """Name an emulator that died under a test (its clients only see refused connections)."""
    yield
    if "emulator" in request.fixturenames:
        code = request.getfixturevalue("emulator").process.poll()
        assert code is None, f"the module's emulator exited with {code} during this test"


@pytest.fixture(scope="module")
def dynamodb(emulator: Emulator) -> Any:
    return emulator.client("dynamodb")


@pytest.fixture(scope="module")
def sqs(emulator: Emulator) -> Any:
    return emulator.client("sqs")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_table(dynamodb: Any, name: str | None = None, **extra: Any) -> str:
    name = name or unique("table")
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}, *extra.pop("attributes", [])]
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=attributes,
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    deadline = time.monotonic() + 10
    while dynamodb.describe_table(TableName=name)["Table"]["TableStatus"] != "ACTIVE":
        assert time.monotonic() < deadline, f"table {name} not ACTIVE after 10 s"
        time.sleep(0.05)
    return name


def race(clients: list[Any], attempt: Callable[[Any, int], None]) -> tuple[list[int], list[ClientError]]:
    """Run ``attempt(client, index)`` once per client, all released together; answers the
    indexes that succeeded and the errors of the others."""
    barrier = threading.Barrier(len(clients))
    winners: list[int] = []
    errors: list[ClientError] = []
    unexpected: list[Exception] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        barrier.wait()
        try:
            attempt(clients[index], index)
        except ClientError as exc:
            with lock:
                errors.append(exc)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            with lock:
                unexpected.append(exc)
        else:
            with lock:
                winners.append(index)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not unexpected, unexpected
    return winners, errors


def error_code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


# -- DynamoDB ----------------------------------------------------------------------------------


def test_conditional_put_race_has_one_winner(emulator: Emulator, dynamodb: Any) -> None:
    table = create_table(dynamodb)
    clients = [emulator.client("dynamodb") for _ in range(RACERS)]
    for round_ in range(ROUNDS):
        key = f"slot-{round_}"

        def put(client: Any, index: int, key: str = key) -> None:
            client.put_item(
                TableName=table,
                Item={"pk": {"S": key}, "owner": {"N": str(index)}},
                ConditionExpression="attribute_not_exists(pk)",
            )

        winners, errors = race(clients, put)
        assert len(winners) == 1, f"round {round_}: {len(winners)} conditional puts succeeded"
        assert [error_code(exc) for exc in errors] == ["ConditionalCheckFailedException"] * (RACERS - 1)
        stored = dynamodb.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True)["Item"]
        assert stored["owner"] == {"N": str(winners[0])}


def test_transaction_race_has_one_winner_and_cancellation_reasons(emulator: Emulator, dynamodb: Any) -> None:
    table = create_table(dynamodb)
    clients = [emulator.client("dynamodb") for _ in range(RACERS)]
    for round_ in range(ROUNDS):
        first, other = f"job-{round_}", f"counter-{round_}"

        # As ``store.save_job``: a conditional put plus an unconditional write, all or nothing.
        def transact(client: Any, index: int, first: str = first, other: str = other) -> None:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": table,
                            "Item": {"pk": {"S": first}, "owner": {"N": str(index)}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": table, "Item": {"pk": {"S": other}, "owner": {"N": str(index)}}}},
                ]
            )

        winners, errors = race(clients, transact)
        assert len(winners) == 1, f"round {round_}: {len(winners)} transactions succeeded"
        assert len(errors) == RACERS - 1
        for exc in errors:
            assert error_code(exc) == "TransactionCanceledException"
            reasons = exc.response["CancellationReasons"]
            # PynamoDB reads ``Code`` of every reason (one per item, in order).
            assert [reason["Code"] for reason in reasons] == ["ConditionalCheckFailed", "None"]
        for key in (first, other):
            stored = dynamodb.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True)["Item"]
            assert stored["owner"] == {"N": str(winners[0])}, f"a cancelled transaction wrote {key}"

    # What the service itself sees, through PynamoDB: the code it branches on, and the reasons.
    class Item(Model):
        class Meta:
            table_name = table
            region = REGION
            host = emulator.endpoint
            aws_access_key_id = CREDENTIALS["aws_access_key_id"]
            aws_secret_access_key = CREDENTIALS["aws_secret_access_key"]

        pk = UnicodeAttribute(hash_key=True)
        owner = NumberAttribute(null=True)

    connection = Connection(region=REGION, host=emulator.endpoint, **CREDENTIALS)
    with pytest.raises(TransactWriteError) as caught, TransactWrite(connection=connection) as tx:
        tx.save(Item("job-0", owner=99), condition=Item.pk.does_not_exist())
        tx.save(Item("fresh", owner=99))
    assert caught.value.cause_response_code == "TransactionCanceledException"
    reasons = caught.value.cancellation_reasons
    assert reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed"
    assert reasons[1] is None
    assert Item.count("fresh") == 0


def test_conditional_counter_updates_lose_nothing(emulator: Emulator, dynamodb: Any) -> None:
    table = create_table(dynamodb)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "counter"}, "n": {"N": "0"}, "taken": {"N": "0"}})
    clients = [emulator.client("dynamodb") for _ in range(RACERS)]
    increments, attempts, limit = 25, 10, 30
    taken: list[int] = []

    def bump(client: Any, index: int) -> None:
        for _ in range(increments):
            client.update_item(
                TableName=table,
                Key={"pk": {"S": "counter"}},
                UpdateExpression="ADD n :one",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        # A bounded counter (a lease limit): only ``limit`` of all these may pass their check.
        for _ in range(attempts):
            try:
                client.update_item(
                    TableName=table,
                    Key={"pk": {"S": "counter"}},
                    UpdateExpression="ADD taken :one",
                    ConditionExpression="taken < :limit",
                    ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": str(limit)}},
                )
                taken.append(index)
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise

    winners, errors = race(clients, bump)
    assert not errors, errors
    assert len(winners) == RACERS
    stored = dynamodb.get_item(TableName=table, Key={"pk": {"S": "counter"}}, ConsistentRead=True)["Item"]
    assert stored["n"] == {"N": str(RACERS * increments)}
    assert stored["taken"] == {"N": str(limit)}
    assert len(taken) == limit


def test_sparse_gsi_follows_writes_and_updates(dynamodb: Any) -> None:
    table = create_table(
        dynamodb,
        attributes=[{"AttributeName": "shard", "AttributeType": "S"}, {"AttributeName": "due", "AttributeType": "N"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_due",
                "KeySchema": [
                    {"AttributeName": "shard", "KeyType": "HASH"},
                    {"AttributeName": "due", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )

    def due_before(limit: int) -> list[str]:
        response = dynamodb.query(
            TableName=table,
            IndexName="by_due",
            KeyConditionExpression="#shard = :shard AND due < :limit",  # SHARD is a reserved word
            ExpressionAttributeNames={"#shard": "shard"},
            ExpressionAttributeValues={":shard": {"S": "s"}, ":limit": {"N": str(limit)}},
        )
        return [item["pk"]["S"] for item in response["Items"]]

    for pk, due in (("a", 3), ("b", 1), ("c", 2)):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": pk}, "shard": {"S": "s"}, "due": {"N": str(due)}})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "unscheduled"}})
    assert due_before(10) == ["b", "c", "a"]  # in range-key order
    assert due_before(3) == ["b", "c"]

    def update(pk: str, expression: str, values: dict[str, Any] | None = None) -> None:
        kwargs: dict[str, Any] = {"ExpressionAttributeValues": values} if values else {}
        names = {"#shard": "shard"} if "#shard" in expression else {}
        if names:
            kwargs["ExpressionAttributeNames"] = names
        dynamodb.update_item(TableName=table, Key={"pk": {"S": pk}}, UpdateExpression=expression, **kwargs)

    update("b", "REMOVE #shard, due")  # leaves the sparse index
    assert due_before(10) == ["c", "a"]
    update("unscheduled", "SET #shard = :s, due = :d", {":s": {"S": "s"}, ":d": {"N": "0"}})  # joins it
    assert due_before(10) == ["unscheduled", "c", "a"]
    update("c", "SET due = :d", {":d": {"N": "20"}})  # moves within it
    assert due_before(10) == ["unscheduled", "a"]
    assert due_before(30) == ["unscheduled", "a", "c"]
    dynamodb.delete_item(TableName=table, Key={"pk": {"S": "a"}})
    assert due_before(30) == ["unscheduled", "c"]


def test_limited_query_of_a_large_index_partition_pages_in_order(dynamodb: Any) -> None:
    """The key-condition fast path (``ministack_main``) gives what DynamoDB gives: the partition's
    items in index order, page by page, for both spellings of the condition; none of another."""
    table = create_table(
        dynamodb,
        attributes=[{"AttributeName": "listing", "AttributeType": "S"}, {"AttributeName": "at", "AttributeType": "N"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_at",
                "KeySchema": [
                    {"AttributeName": "listing", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    for start in range(0, 300, 25):
        dynamodb.batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": {"pk": {"S": f"t{n}"}, "listing": {"S": "task"}, "at": {"N": str(n)}}}}
                    for n in range(start, start + 25)
                ]
            }
        )
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "other"}, "listing": {"S": "job"}, "at": {"N": "5"}})

    def page(condition: str, names: dict[str, str], key: dict[str, Any] | None = None) -> dict[str, Any]:
        return dynamodb.query(
            TableName=table,
            IndexName="by_at",
            KeyConditionExpression=condition,
            ExpressionAttributeValues={":l": {"S": "task"}},
            ScanIndexForward=False,
            Limit=10,
            **({"ExpressionAttributeNames": names} if names else {}),
            **({"ExclusiveStartKey": key} if key else {}),
        )

    for condition, names in (("listing = :l", {}), ("#l = :l", {"#l": "listing"})):
        first = page(condition, names)
        assert [item["pk"]["S"] for item in first["Items"]] == [f"t{n}" for n in range(299, 289, -1)]
        second = page(condition, names, first["LastEvaluatedKey"])
        assert [item["pk"]["S"] for item in second["Items"]] == [f"t{n}" for n in range(289, 279, -1)]
    none = dynamodb.query(
        TableName=table,
        IndexName="by_at",
        KeyConditionExpression="listing = :l",
        ExpressionAttributeValues={":l": {"S": "nothing"}},
    )
    assert none["Items"] == []
    with pytest.raises(ClientError):  # still refused as DynamoDB does: a key condition on a non-key
        dynamodb.query(TableName=table, KeyConditionExpression="at = :l", ExpressionAttributeValues={":l": {"S": "x"}})


def test_a_prefix_query_of_an_index_partition_gives_that_prefixs_items_only(dynamodb: Any) -> None:
    """The ``begins_with`` fast path (``ministack_main``) gives what DynamoDB gives: the items of
    that partition whose sort key starts with the prefix, in order, paged, for PynamoDB's and a
    plain spelling; prefixes with regular-expression characters are taken literally."""
    table = create_table(
        dynamodb,
        attributes=[
            {"AttributeName": "id_shard", "AttributeType": "S"},
            {"AttributeName": "task_id", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_id",
                "KeySchema": [
                    {"AttributeName": "id_shard", "KeyType": "HASH"},
                    {"AttributeName": "task_id", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    ids = [f"{team}-{n:02d}" for team in ("a", "ab", "b", "a.c") for n in range(15)]
    for start in range(0, len(ids), 25):
        dynamodb.batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": {"pk": {"S": each}, "id_shard": {"S": "s0"}, "task_id": {"S": each}}}}
                    for each in ids[start : start + 25]
                ]
            }
        )
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "other"}, "id_shard": {"S": "s1"}, "task_id": {"S": "a-99"}})

    def found(condition: str, names: dict[str, str], prefix: str, limit: int = 100) -> list[str]:
        every: list[str] = []
        key: dict[str, Any] | None = None
        while True:
            response = dynamodb.query(
                TableName=table,
                IndexName="by_id",
                KeyConditionExpression=condition,
                ExpressionAttributeValues={":0": {"S": "s0"}, ":1": {"S": prefix}},
                Limit=limit,
                **({"ExpressionAttributeNames": names} if names else {}),
                **({"ExclusiveStartKey": key} if key else {}),
            )
            every += [item["task_id"]["S"] for item in response["Items"]]
            key = response.get("LastEvaluatedKey")
            if not key:
                return every

    spellings = [
        ("(#0 = :0 AND begins_with (#1, :1))", {"#0": "id_shard", "#1": "task_id"}),
        ("id_shard = :0 AND begins_with(task_id, :1)", {}),
    ]
    for condition, names in spellings:
        for prefix in ("a-", "ab", "a", "a.", "z", "a-1"):
            expected = sorted(each for each in ids if each.startswith(prefix))
            assert found(condition, names, prefix) == expected, (condition, prefix)
            assert found(condition, names, prefix, limit=4) == expected, (condition, prefix)


def test_time_to_live_settings(dynamodb: Any) -> None:
    table = create_table(dynamodb)
    response = dynamodb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    assert response["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "expires_at"}
    described = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert described["TimeToLiveStatus"] in ("ENABLED", "ENABLING")
    assert described["AttributeName"] == "expires_at"


# -- SQS ---------------------------------------------------------------------------------------


def create_queue(sqs: Any, **attributes: str) -> str:
    return sqs.create_queue(QueueName=unique("queue"), Attributes=attributes)["QueueUrl"]


def receive(sqs: Any, url: str, wait: int = 0, **kwargs: Any) -> list[dict[str, Any]]:
    response = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=wait,
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
        **kwargs,
    )
    return response.get("Messages", [])


def test_delay_seconds(sqs: Any) -> None:
    url = create_queue(sqs)
    sent = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
    assert receive(sqs, url) == []
    messages = receive(sqs, url, wait=3)
    waited = time.monotonic() - sent
    assert [m["Body"] for m in messages] == ["later"]
    assert 0.9 <= waited < 2.5, f"a 1 s delay ended after {waited:.2f} s"


def test_visibility_timeout_and_handing_back(sqs: Any) -> None:
    url = create_queue(sqs, VisibilityTimeout="30")
    sqs.send_message(QueueUrl=url, MessageBody="job")
    first = receive(sqs, url, VisibilityTimeout=1)
    assert [m["Body"] for m in first] == ["job"]
    assert first[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    taken = time.monotonic()
    assert receive(sqs, url) == []  # invisible while received
    again = receive(sqs, url, wait=3)
    waited = time.monotonic() - taken
    assert [m["Body"] for m in again] == ["job"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert 0.9 <= waited < 2.5, f"a 1 s visibility timeout ended after {waited:.2f} s"
    # Received with the queue's 30 s; handing it back makes it visible at once.
    assert receive(sqs, url) == []
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"], VisibilityTimeout=0)
    back = receive(sqs, url)
    assert [m["Body"] for m in back] == ["job"]
    assert back[0]["Attributes"]["ApproximateReceiveCount"] == "3"


def test_redrive_to_dead_letter_queue(sqs: Any) -> None:
    dead = create_queue(sqs)
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = create_queue(sqs, RedrivePolicy=json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 2}))
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    for count in ("1", "2"):
        messages = receive(sqs, url, VisibilityTimeout=0)
        assert [(m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in messages] == [("poison", count)]
    assert receive(sqs, url) == []  # a third receive moves it instead of delivering it
    assert [m["Body"] for m in receive(sqs, dead, wait=2)] == ["poison"]


def test_long_poll_wakes_on_send(emulator: Emulator, sqs: Any) -> None:
    url = create_queue(sqs)
    poller = emulator.client("sqs")
    latencies: list[float] = []
    for n in range(7):
        received: list[float] = []
        bodies: list[list[dict[str, Any]]] = []

        def poll() -> None:
            bodies.append(receive(poller, url, wait=5))  # noqa: B023
            received.append(time.monotonic())  # noqa: B023

        thread = threading.Thread(target=poll)
        thread.start()
        # The poll is waiting, and its engine looked at the queue (every 100 ms without the
        # wake-up) just before the send: a poll that is not woken returns ~90 ms late.
        time.sleep(0.21)
        sent = time.monotonic()
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
        thread.join(10)
        assert [m["Body"] for m in bodies[0]] == [f"m{n}"]
        latencies.append(received[0] - sent)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=bodies[0][0]["ReceiptHandle"])
    median = statistics.median(latencies)
    assert median < 0.050, f"long polls returned {median * 1000:.0f} ms after a send (median); all: {latencies}"


def test_send_and_delete_batches(sqs: Any) -> None:
    url = create_queue(sqs)
    sent = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(9)])
    assert sorted(entry["Id"] for entry in sent["Successful"]) == sorted(str(n) for n in range(9))
    assert not sent.get("Failed")
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5
    while len(messages) < 9 and time.monotonic() < deadline:
        messages += receive(sqs, url, wait=1)
    assert sorted(m["Body"] for m in messages) == sorted(f"m{n}" for n in range(9))
    entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
    entries.append({"Id": "bogus", "ReceiptHandle": "not-a-receipt-handle"})  # at most 10 entries
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    assert sorted(entry["Id"] for entry in deleted["Successful"]) == sorted(str(n) for n in range(9))
    assert [entry["Id"] for entry in deleted.get("Failed", [])] == ["bogus"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


# -- S3 ----------------------------------------------------------------------------------------


def test_s3_objects_and_presigned_get(emulator: Emulator) -> None:
    s3 = emulator.client("s3")
    bucket = unique("logs")
    s3.create_bucket(Bucket=bucket)
    body = b"line 1\nline 2\n" * 100
    s3.put_object(Bucket=bucket, Key="task/job/execution.log", Body=body)
    assert s3.get_object(Bucket=bucket, Key="task/job/execution.log")["Body"].read() == body
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "task/job/execution.log"}, ExpiresIn=300
    )
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.content == body
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=bucket, Key="absent")
    assert error_code(missing.value) in ("NoSuchKey", "404")


# -- durability --------------------------------------------------------------------------------


KEPT_ITEM = {"pk": {"S": "item"}, "listing": {"S": "all"}, "ttl": {"N": "4102444800"}}


def write_everything(emulator: Emulator, tag: str, delayed: int = 0) -> None:
    dynamodb, sqs, s3 = emulator.client("dynamodb"), emulator.client("sqs"), emulator.client("s3")
    # Like the service's tables: a sparse GSI and a TTL attribute.
    table = create_table(
        dynamodb,
        name=f"kept-{tag}",
        attributes=[{"AttributeName": "listing", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_listing",
                "KeySchema": [{"AttributeName": "listing", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    dynamodb.put_item(TableName=table, Item=KEPT_ITEM | {"value": {"S": tag}})
    url = sqs.create_queue(QueueName=f"kept-{tag}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=f"now-{tag}")
    if delayed:
        sqs.send_message(QueueUrl=url, MessageBody=f"later-{tag}", DelaySeconds=delayed)
    s3.create_bucket(Bucket=f"kept-{tag}")
    s3.put_object(Bucket=f"kept-{tag}", Key="object", Body=tag.encode())


def check_everything(emulator: Emulator, tag: str, delayed: bool = False) -> None:
    dynamodb, sqs, s3 = emulator.client("dynamodb"), emulator.client("sqs"), emulator.client("s3")
    table = f"kept-{tag}"
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "item"}}, ConsistentRead=True).get("Item")
    assert item == KEPT_ITEM | {"value": {"S": tag}}
    listed = dynamodb.query(
        TableName=table,
        IndexName="by_listing",
        KeyConditionExpression="listing = :l",
        ExpressionAttributeValues={":l": {"S": "all"}},
    )["Items"]
    assert listed == [item]
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl.get("AttributeName")) in (("ENABLED", "ttl"), ("ENABLING", "ttl"))
    # Resolved by name, as the service does: the URL must work on the new process's port.
    url = sqs.get_queue_url(QueueName=f"kept-{tag}")["QueueUrl"]
    assert [m["Body"] for m in receive(sqs, url)] == [f"now-{tag}"]
    if delayed:
        assert [m["Body"] for m in receive(sqs, url, wait=6)] == [f"later-{tag}"]
    assert s3.get_object(Bucket=f"kept-{tag}", Key="object")["Body"].read() == tag.encode()


def test_state_survives_a_stop(tmp_path: Path) -> None:
    # No checkpoints: what is kept is the save the SIGTERM shutdown makes.
    first = launch(tmp_path, checkpoint_seconds=0, log=tmp_path / "emulator.log")
    try:
        write_everything(first, "stop", delayed=3)
    finally:
        assert first.stop(signal.SIGTERM) == 0
    second = launch(tmp_path, checkpoint_seconds=0, log=tmp_path / "emulator.log")
    try:
        dynamodb = second.client("dynamodb")
        assert "kept-stop" in dynamodb.list_tables()["TableNames"]
        check_everything(second, "stop", delayed=True)
    finally:
        second.stop()


def test_state_survives_a_crash_up_to_the_last_checkpoint(tmp_path: Path) -> None:
    first = launch(tmp_path, checkpoint_seconds=1, log=tmp_path / "emulator.log")
    try:
        write_everything(first, "crash")
        time.sleep(2.2)  # more than two checkpoints
    finally:
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    second = launch(tmp_path, checkpoint_seconds=1, log=tmp_path / "emulator.log")
    try:
        check_everything(second, "crash")
    finally:
        second.stop()
