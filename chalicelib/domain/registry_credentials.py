"""Private registries' credentials as the operator stores them (pure): their JSON shapes.

A Secrets Manager secret's value is ``{"username": …, "password": …}``; the local file is an
object of registry → such an object. A wrong shape is a SecretUnavailable whose message names
the secret or the file and the registry, never a value: it becomes the execution's ``error``.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.domain.secret_refs import SecretUnavailable

RegistryAuth = dict[str, str]


def _credentials(value: Any, where: str) -> RegistryAuth:
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("username"), str)
        or not isinstance(value.get("password"), str)
    ):
        raise SecretUnavailable(f"{where} is not an object with a username and a password")
    return {"username": value["username"], "password": value["password"]}


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        # Not chained: a decoding error keeps the whole text it failed on.
        raise SecretUnavailable(f"{where} is not JSON") from None


def from_secret(text: str, secret: str) -> RegistryAuth:
    """The credentials in the value ``text`` of the secret ``secret`` (its ARN or name)."""
    return _credentials(_json(text, f"secret {secret}"), f"secret {secret}")


def from_file(text: str, path: str, registry: str) -> RegistryAuth | None:
    """The credentials of ``registry`` in the file ``path`` whose content is ``text`` (None: it
    lists no such registry)."""
    entries = _json(text, path)
    if not isinstance(entries, dict):
        raise SecretUnavailable(f"{path} is not a JSON object of registry → credentials")
    if registry not in entries:
        return None
    return _credentials(entries[registry], f"{path}: {registry}")
