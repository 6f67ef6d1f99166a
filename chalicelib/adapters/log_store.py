"""Execution output in S3: one object per stream (stdout, stderr) per execution."""

from __future__ import annotations

from functools import cache
from typing import BinaryIO

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from chalicelib.adapters.aws import client
from chalicelib.settings import get_settings

STREAMS = ("stdout", "stderr")


def object_key(task_id: str, job_id: str, execution_id: str, stream: str) -> str:
    return f"logs/{task_id}/{job_id}/{execution_id}/{stream}.log"


# Multipart parts of an upload; a part is read into memory before it is sent, and at most
# _PARTS_IN_MEMORY of them are held at once, so an upload of any size costs the runner about
# _PART_BYTES x _PARTS_IN_MEMORY of memory (S3 takes 10,000 parts: 80 GB at this size).
_PART_BYTES = 8 * 1024 * 1024
_PARTS_IN_MEMORY = 2


@cache
def _transfer_config() -> TransferConfig:
    config = TransferConfig(
        multipart_threshold=_PART_BYTES,
        multipart_chunksize=_PART_BYTES,
        max_concurrency=_PARTS_IN_MEMORY,
        preferred_transfer_client="classic",
    )
    # Not a parameter of boto3's TransferConfig, an attribute of s3transfer's it extends.
    config.max_in_memory_upload_chunks = _PARTS_IN_MEMORY
    return config


def upload(key: str, body: BinaryIO) -> None:
    """Stream a file-like object to S3: multipart above 8 MB, so any size works, and never more
    than a few parts of it in memory."""
    client("s3").upload_fileobj(
        body,
        get_settings().logs_bucket,
        key,
        ExtraArgs={"ContentType": "text/plain; charset=utf-8"},
        Config=_transfer_config(),
    )


def read(key: str) -> bytes:
    try:
        response = client("s3").get_object(Bucket=get_settings().logs_bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return b""
        raise
    return response["Body"].read()


def download_url(key: str, expires_seconds: int = 300) -> str:
    return client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": get_settings().logs_bucket, "Key": key}, ExpiresIn=expires_seconds
    )


def bucket_reachable() -> None:
    client("s3").head_bucket(Bucket=get_settings().logs_bucket)
