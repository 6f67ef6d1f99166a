"""The local stack's tables, made from the same table specs as the CDK stack's (infra/tables.py).

Read back from the emulator the session's stack provisioned: every model's table exists with the
keys and indexes its spec declares, and with its TTL and point-in-time recovery switched on, as
the CloudFormation template declares them.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

from chalicelib.adapters.aws import client
from chalicelib.adapters.models import ALL_MODELS
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


def test_a_table_kept_from_an_older_release_gains_the_indexes_added_since(stack: StackProcess) -> None:
    """A data folder made before the owed-events index existed: provisioning again adds it."""
    [spec] = [spec for spec in SPECS if spec.model_name == "ExecutionModel"]
    older = dataclasses.replace(
        spec,
        table_name=f"{spec.table_name}-older-{uuid.uuid4().hex[:6]}",
        global_indexes=tuple(index for index in spec.global_indexes if index.name != "owed-events"),
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
