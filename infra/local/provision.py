"""Create a deployment's tables, queues and bucket on whatever AWS endpoint boto3 is pointed at.

The tables come from the PynamoDB models and the queues and bucket from
``chalicelib.resources``: the same definitions ``infra/`` deploys to AWS.
"""

from __future__ import annotations

import json
import logging

from botocore.exceptions import ClientError

from chalicelib.adapters.aws import client
from chalicelib.adapters.models import ALL_MODELS
from chalicelib.resources import bucket_names, queue_specs
from chalicelib.settings import Settings

logger = logging.getLogger(__name__)


def provision(settings: Settings) -> None:
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(wait=True)
            logger.info("created table %s", model.Meta.table_name)
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
