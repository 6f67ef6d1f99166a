"""The local stack's tables, made from the same table specs as the CDK stack's (infra/tables.py).

Read back from the emulator the session's stack provisioned: every model's table exists with the
keys and indexes its spec declares, and with its TTL and point-in-time recovery switched on, as
the CloudFormation template declares them.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.adapters import task_repository
from chalicelib.adapters.aws import client
from chalicelib.adapters.models import ALL_MODELS, TASK_LISTING, TaskModel, task_id_shard
from chalicelib.domain.clock import ISO_FORMAT
from chalicelib.settings import get_settings
from infra.local.harness import StackProcess
from infra.local.provision import create_table, create_table_request
from infra.tables import TableSpec, table_specs

SPECS = table_specs(ALL_MODELS, get_settings())


def _indexes(description: dict[str, Any], key: str) -> dict[str, tuple[Any, Any]]:
    return {
        index["IndexName"]: (index["KeySchema"], index["Projection"]["ProjectionType"])
        for index in description.get(key, [])
    }


@pytest.mark.parametrize("spec", SPECS, ids=[spec.model_name for spec in SPECS])
def test_each_table_is_made_as_its_spec_says(stack: StackProcess, spec: TableSpec) -> None:
    dynamodb = client("dynamodb")
    request = create_table_request(spec)

    table = dynamodb.describe_table(TableName=spec.table_name)["Table"]

    assert table["TableName"].startswith(f"{stack.stage}-slipway-")
    assert table["KeySchema"] == request["KeySchema"]
    assert _indexes(table, "GlobalSecondaryIndexes") == _indexes(request, "GlobalSecondaryIndexes")
    assert _indexes(table, "LocalSecondaryIndexes") == _indexes(request, "LocalSecondaryIndexes")
    ttl = dynamodb.describe_time_to_live(TableName=spec.table_name)["TimeToLiveDescription"]
    if spec.ttl_attribute:
        assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", spec.ttl_attribute)
    else:
        assert ttl["TimeToLiveStatus"] == "DISABLED"
    backups = dynamodb.describe_continuous_backups(TableName=spec.table_name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_every_model_has_a_table_and_a_ttl_where_it_declares_one() -> None:
    assert {spec.model_name for spec in SPECS} == {model.__name__ for model in ALL_MODELS}
    assert {spec.model_name for spec in SPECS if spec.ttl_attribute} == {
        "HostModel",
        "ConnectionModel",
        "DeliveryIdempotencyModel",
        "IdempotencyModel",
    }


@pytest.mark.parametrize(("model", "added"), [("ExecutionModel", "owed-events"), ("TaskModel", "by-task-id")])
def test_a_table_kept_from_an_older_release_gains_the_indexes_added_since(
    stack: StackProcess, model: str, added: str
) -> None:
    """A data folder made before the owed-events (task-id) index existed: provisioning again adds it."""
    [spec] = [spec for spec in SPECS if spec.model_name == model]
    older = dataclasses.replace(
        spec,
        table_name=f"{spec.table_name}-older-{uuid.uuid4().hex[:6]}",
        global_indexes=tuple(index for index in spec.global_indexes if index.name != added),
    )
    dynamodb = client("dynamodb")
    create_table(older)
    try:
        create_table(dataclasses.replace(spec, table_name=older.table_name))

        table = dynamodb.describe_table(TableName=older.table_name)["Table"]
        assert _indexes(table, "GlobalSecondaryIndexes") == _indexes(
            create_table_request(spec), "GlobalSecondaryIndexes"
        )
    finally:
        dynamodb.delete_table(TableName=older.table_name)


def test_tasks_stored_before_the_task_id_index_are_put_in_it_by_the_backfill(stack: StackProcess) -> None:
    """What provisioning runs at start-up (and the dispatcher's tick, a batch at a time): a task
    without ``id_shard`` gets its shard, and the marker of a complete index is written."""
    dynamodb = client("dynamodb")
    settings = get_settings()
    old = f"old-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    item = TaskModel(
        old, listing=TASK_LISTING, created_key=f"{now.strftime(ISO_FORMAT)}#{old}", created_at=now, last_modified_at=now
    ).serialize()
    dynamodb.put_item(TableName=settings.tasks_table, Item=item)
    dynamodb.delete_item(TableName=settings.counters_table, Key={"name": {"S": task_repository.ID_INDEX_MARKER}})

    assert not task_repository.id_index_ready()
    assert task_repository.backfill_id_index()

    assert task_repository.id_index_ready()
    stored = TaskModel.get(old, consistent_read=True)
    assert stored.id_shard == task_id_shard(old)
    assert old in task_repository.task_ids_with_prefixes([old[:6]])
