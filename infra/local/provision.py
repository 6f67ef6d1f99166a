"""Create a deployment's tables, queues and bucket on whatever AWS endpoint boto3 is pointed at.

The tables come from the same ``TableSpec``s the CDK stack declares (``infra/tables.py``, read
from the PynamoDB models: keys, indexes, TTL, point-in-time recovery), and the queues and bucket
from ``chalicelib.resources``: what ``infra/`` deploys to AWS is what the local stack makes.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters import task_repository
from chalicelib.adapters.aws import client
from chalicelib.adapters.models import ALL_MODELS
from chalicelib.resources import bucket_names, queue_specs
from chalicelib.settings import Settings
from infra.tables import IndexSpec, KeyAttribute, TableSpec, table_specs

logger = logging.getLogger(__name__)


def provision(settings: Settings) -> None:
    """Make what ``settings`` (the process's own: the models read them) describe. A table kept
    from an older release gains the indexes added since, and its older tasks are put in the
    task-id index at once (the dispatcher's tick would do it too, a batch a tick)."""
    for spec in table_specs(ALL_MODELS, settings):
        create_table(spec)
    task_repository.backfill_id_index()
    sqs = client("sqs")
    arns: dict[str, str] = {}
    for spec in queue_specs(settings):
        attributes = {
            "VisibilityTimeout": str(spec.visibility_timeout),
            "MessageRetentionPeriod": str(spec.retention_seconds),
        }
        if spec.dead_letter:
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arns[spec.dead_letter], "maxReceiveCount": spec.max_receive_count}
            )
        url = sqs.create_queue(QueueName=spec.name, Attributes=attributes)["QueueUrl"]
        arns[spec.name] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        logger.info("queue %s ready", spec.name)
    s3 = client("s3")
    for bucket in bucket_names(settings):
        try:
            if settings.region == "us-east-1":
                s3.create_bucket(Bucket=bucket)
            else:
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": settings.region})
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        logger.info("bucket %s ready", bucket)


def _key_schema(partition_key: KeyAttribute, sort_key: KeyAttribute | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition_key.name, "KeyType": "HASH"}]
    if sort_key is not None:
        schema.append({"AttributeName": sort_key.name, "KeyType": "RANGE"})
    return schema


def _index(index: IndexSpec) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": index.projection}
    if index.non_key_attributes:
        projection["NonKeyAttributes"] = list(index.non_key_attributes)
    return {
        "IndexName": index.name,
        "KeySchema": _key_schema(index.partition_key, index.sort_key),
        "Projection": projection,
    }


def create_table_request(spec: TableSpec) -> dict[str, Any]:
    """The CreateTable request of ``spec`` (every key attribute of the table and its indexes)."""
    keys = [spec.partition_key, spec.sort_key]
    for index in (*spec.global_indexes, *spec.local_indexes):
        keys += [index.partition_key, index.sort_key]
    definitions = {key.name: key.type for key in keys if key is not None}
    request: dict[str, Any] = {
        "TableName": spec.table_name,
        "KeySchema": _key_schema(spec.partition_key, spec.sort_key),
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in sorted(definitions.items())],
        "BillingMode": spec.billing_mode,
    }
    if spec.global_indexes:
        request["GlobalSecondaryIndexes"] = [_index(index) for index in spec.global_indexes]
    if spec.local_indexes:
        request["LocalSecondaryIndexes"] = [_index(index) for index in spec.local_indexes]
    return request


def add_missing_indexes(spec: TableSpec, table: dict[str, Any]) -> list[str]:
    """Create the global indexes ``spec`` declares that the existing ``table`` (its
    description) lacks: a data folder kept from an older release gains the indexes added
    since (as a CloudFormation update does in AWS). Answers the names of those created."""
    present = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}
    created: list[str] = []
    dynamodb = client("dynamodb")
    for index in spec.global_indexes:
        if index.name in present:
            continue
        keys = [key for key in (index.partition_key, index.sort_key) if key is not None]
        dynamodb.update_table(
            TableName=spec.table_name,
            AttributeDefinitions=[{"AttributeName": key.name, "AttributeType": key.type} for key in keys],
            GlobalSecondaryIndexUpdates=[{"Create": _index(index)}],
        )
        logger.info("added index %s to table %s", index.name, spec.table_name)
        created.append(index.name)
    return created


def create_table(spec: TableSpec) -> None:
    """Create the table of ``spec`` unless it exists (then only add the global indexes it
    lacks), then its TTL and point-in-time recovery."""
    dynamodb = client("dynamodb")
    try:
        table = dynamodb.describe_table(TableName=spec.table_name)["Table"]
        add_missing_indexes(spec, table)
        return
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    dynamodb.create_table(**create_table_request(spec))
    dynamodb.get_waiter("table_exists").wait(TableName=spec.table_name, WaiterConfig={"Delay": 0.2})
    if spec.ttl_attribute:
        dynamodb.update_time_to_live(
            TableName=spec.table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
        )
    if spec.point_in_time_recovery:
        dynamodb.update_continuous_backups(
            TableName=spec.table_name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
    logger.info("created table %s", spec.table_name)
