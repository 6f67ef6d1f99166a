"""Execution output in S3: one object per stream (stdout, stderr) per execution."""

from __future__ import annotations

from typing import BinaryIO

from botocore.exceptions import ClientError

from chalicelib.adapters.aws import client
from chalicelib.settings import get_settings

STREAMS = ("stdout", "stderr")


def object_key(task_id: str, job_id: str, execution_id: str, stream: str) -> str:
    return f"logs/{task_id}/{job_id}/{execution_id}/{stream}.log"


def upload(key: str, body: BinaryIO) -> None:
    """Stream a file-like object to S3 (multipart above 8 MB, so any size works)."""
    client("s3").upload_fileobj(
        body, get_settings().logs_bucket, key, ExtraArgs={"ContentType": "text/plain; charset=utf-8"}
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
