"""Credentials of private registries for the runner's pulls, read when needed and kept a while.

``settings.registry_secrets`` maps a registry to a Secrets Manager secret (AWS);
``settings.registry_credentials_file`` is a JSON file of registry → credentials (local). A
registry in neither is pulled from anonymously. What was read is kept
``registry_credentials_ttl_seconds``, so a rotated secret is picked up within that time and a
burst of pulls reads it once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from chalicelib.adapters import registry_secrets
from chalicelib.domain.registries import canonical_registry
from chalicelib.settings import Settings


def _secret_map(raw: str) -> dict[str, str]:
    if not raw.strip():
        return {}
    entries = json.loads(raw)
    if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
        raise ValueError("SLIPWAY_REGISTRY_SECRETS must be a JSON object of registry → secret ARN or name")
    return {canonical_registry(registry): secret for registry, secret in entries.items()}


class RegistryCredentials:
    """``credentials(registry)`` → ``{"username", "password"}`` or None, cached with a TTL."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self._secrets = _secret_map(settings.registry_secrets)
        self._file = settings.registry_credentials_file
        self._ttl = settings.registry_credentials_ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, str] | None]] = {}
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self._secrets or self._file)

    def __call__(self, registry: str) -> dict[str, str] | None:
        registry = canonical_registry(registry)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(registry)
            if cached is not None and now - cached[0] < self._ttl:
                return cached[1]
        found = self._read(registry)
        with self._lock:
            self._cache[registry] = (now, found)
        return found

    def _read(self, registry: str) -> dict[str, str] | None:
        if registry in self._secrets:
            return registry_secrets.read_secret(self._secrets[registry])
        if self._file:
            return registry_secrets.read_file(self._file, registry)
        return None
