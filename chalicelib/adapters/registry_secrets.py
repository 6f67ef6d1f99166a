"""Adapter of the private registries' credentials: a Secrets Manager secret, or a local file.

Each holds ``{"username": …, "password": …}`` (a secret's value is that JSON object; the file is
an object of registry → such an object). They are read by the runner when it pulls, never sent
with a job nor stored with one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.adapters import aws


def _credentials(value: Any, where: str) -> dict[str, str]:
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("username"), str)
        or not isinstance(value.get("password"), str)
    ):
        raise ValueError(f"{where} is not an object with a username and a password")
    return {"username": value["username"], "password": value["password"]}


def read_secret(secret_id: str) -> dict[str, str]:
    """The credentials in Secrets Manager's secret ``secret_id`` (an ARN or a name)."""
    answer = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)
    try:
        value = json.loads(answer.get("SecretString") or "")
    except ValueError as exc:
        raise ValueError(f"secret {secret_id} is not JSON") from exc
    return _credentials(value, f"secret {secret_id}")


def read_file(path: str, registry: str) -> dict[str, str] | None:
    """The credentials of ``registry`` in the JSON file at ``path`` (None: it has none)."""
    entries = json.loads(Path(path).read_text())
    if not isinstance(entries, dict):
        raise ValueError(f"{path} is not a JSON object of registry → credentials")
    if registry not in entries:
        return None
    return _credentials(entries[registry], f"{path}: {registry}")
