"""DynamoDB table descriptions read from the PynamoDB models (``chalicelib.adapters.models``).

The models are the one definition of every table: this module walks a model class (its Meta,
its key attributes, its index classes and a TTL attribute if it declares one) and answers a
plain ``TableSpec``. The CDK stack turns the specs into ``aws_dynamodb.Table`` constructs and
the local stack creates the same tables from them (``infra/local/provision.py``), TTL and
point-in-time recovery included. Nothing here is written by hand per table, so a key or index
added to a model reaches AWS and the emulator alike.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from pynamodb.attributes import Attribute, TTLAttribute
from pynamodb.indexes import GlobalSecondaryIndex, Index, LocalSecondaryIndex
from pynamodb.models import Model

from chalicelib.settings import Settings

# DynamoDB scalar types a key attribute can have (PynamoDB's attr_type values).
KEY_TYPES = frozenset({"S", "N", "B"})
PAY_PER_REQUEST = "PAY_PER_REQUEST"


@dataclass(frozen=True)
class KeyAttribute:
    name: str
    # "S", "N" or "B".
    type: str


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None
    # "ALL", "KEYS_ONLY" or "INCLUDE".
    projection: str
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    model_name: str
    table_name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None
    global_indexes: tuple[IndexSpec, ...]
    local_indexes: tuple[IndexSpec, ...]
    ttl_attribute: str | None
    billing_mode: str = PAY_PER_REQUEST
    # Continuous backups (35 days of point-in-time restore); a model opts out with
    # ``point_in_time_recovery = False`` in its Meta.
    point_in_time_recovery: bool = True


def _key(attribute: Attribute[object], owner: str) -> KeyAttribute:
    if attribute.attr_type not in KEY_TYPES:
        raise ValueError(f"{owner}: key attribute {attribute.attr_name} has type {attribute.attr_type}, not S, N or B")
    return KeyAttribute(name=str(attribute.attr_name), type=str(attribute.attr_type))


def _keys(attributes: dict[str, Attribute[object]], owner: str) -> tuple[KeyAttribute, KeyAttribute | None]:
    hash_keys = [a for a in attributes.values() if a.is_hash_key]
    range_keys = [a for a in attributes.values() if a.is_range_key]
    if len(hash_keys) != 1 or len(range_keys) > 1:
        raise ValueError(f"{owner}: needs one hash key and at most one range key")
    return _key(hash_keys[0], owner), (_key(range_keys[0], owner) if range_keys else None)


def _indexes(model: type[Model]) -> list[Index[Model]]:
    members = inspect.getmembers(model, lambda member: isinstance(member, Index))
    return sorted((index for _, index in members), key=lambda index: str(index.Meta.index_name))


def _index_spec(index: Index[Model], owner: str) -> IndexSpec:
    name = str(index.Meta.index_name)
    partition_key, sort_key = _keys(index.Meta.attributes, f"{owner} index {name}")
    projection = index.Meta.projection
    return IndexSpec(
        name=name,
        partition_key=partition_key,
        sort_key=sort_key,
        projection=str(projection.projection_type),
        non_key_attributes=tuple(projection.non_key_attributes or ()),
    )


def table_name(model: type[Model], settings: Settings | None = None) -> str:
    """The table's name in the deployment ``settings`` describes: the Settings property the
    model's Meta names in ``settings_field``, or (no settings given, or a model without that
    field) the name its Meta answers now."""
    settings_field = getattr(model.Meta, "settings_field", "")
    if settings is not None and settings_field:
        return str(getattr(settings, settings_field))
    return str(model.Meta.table_name)


def table_spec(model: type[Model], settings: Settings | None = None) -> TableSpec:
    """The table ``model`` describes, named as in ``settings``."""
    owner = model.__name__
    billing_mode = getattr(model.Meta, "billing_mode", None) or PAY_PER_REQUEST
    if billing_mode != PAY_PER_REQUEST:
        raise ValueError(f"{owner}: every table is on-demand (PAY_PER_REQUEST), the model says {billing_mode}")
    attributes = model.get_attributes()
    partition_key, sort_key = _keys(attributes, owner)
    indexes = _indexes(model)
    ttl = [a for a in attributes.values() if isinstance(a, TTLAttribute)]
    if len(ttl) > 1:
        raise ValueError(f"{owner}: DynamoDB allows one TTL attribute per table")
    return TableSpec(
        model_name=owner,
        table_name=table_name(model, settings),
        partition_key=partition_key,
        sort_key=sort_key,
        global_indexes=tuple(_index_spec(i, owner) for i in indexes if isinstance(i, GlobalSecondaryIndex)),
        local_indexes=tuple(_index_spec(i, owner) for i in indexes if isinstance(i, LocalSecondaryIndex)),
        ttl_attribute=str(ttl[0].attr_name) if ttl else None,
        point_in_time_recovery=bool(getattr(model.Meta, "point_in_time_recovery", True)),
    )


def table_specs(
    models: tuple[type[Model], ...] | list[type[Model]], settings: Settings | None = None
) -> list[TableSpec]:
    return [table_spec(model, settings) for model in models]
