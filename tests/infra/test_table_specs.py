"""infra/tables.py: a model's CreateTable request, as the local stack sends it, equals PynamoDB's
own schema of the model (what ``Model.create_table`` would send), and names follow the settings."""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.models import Model

from chalicelib.adapters.models import ALL_MODELS, TaskModel
from chalicelib.settings import Settings
from infra.local.provision import create_table_request
from infra.tables import table_name, table_spec


def _keys(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return sorted((key["AttributeName"], key["KeyType"]) for key in schema)


def _shape(keys: Any, attributes: Any, global_indexes: Any, local_indexes: Any) -> dict[str, Any]:
    """A table's schema with order removed (PynamoDB does not list the hash key first)."""

    def index(entry: dict[str, Any]) -> tuple[Any, ...]:
        name = entry.get("IndexName", entry.get("index_name"))
        schema = entry.get("KeySchema", entry.get("key_schema"))
        projection = entry.get("Projection", entry.get("projection"))
        return (name, _keys(schema), projection["ProjectionType"])

    return {
        "keys": _keys(keys),
        "attributes": sorted((a["AttributeName"], a["AttributeType"]) for a in attributes),
        "global": sorted(index(entry) for entry in global_indexes),
        "local": sorted(index(entry) for entry in local_indexes),
    }


@pytest.mark.parametrize("model", ALL_MODELS, ids=[model.__name__ for model in ALL_MODELS])
def test_the_request_matches_pynamodbs_schema(model: type[Model]) -> None:
    request = create_table_request(table_spec(model, Settings(stage="s")))

    schema = model._get_schema()

    assert _shape(
        request["KeySchema"],
        request["AttributeDefinitions"],
        request.get("GlobalSecondaryIndexes", []),
        request.get("LocalSecondaryIndexes", []),
    ) == _shape(
        schema["key_schema"],
        schema["attribute_definitions"],
        schema["global_secondary_indexes"],
        schema["local_secondary_indexes"],
    )
    assert request["TableName"].startswith("s-slipway-")
    assert request["BillingMode"] == "PAY_PER_REQUEST"


def test_names_come_from_the_settings_given_not_from_the_process() -> None:
    assert table_name(TaskModel, Settings(stage="blue")) == "blue-slipway-tasks"
    assert table_name(TaskModel, Settings(stage="green")) == "green-slipway-tasks"
    assert table_spec(TaskModel, Settings(stage="blue")).point_in_time_recovery
