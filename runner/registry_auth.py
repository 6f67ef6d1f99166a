"""Credentials of private registries for the runner's pulls, read when needed and kept a while.

Where a registry's credentials come from, first found wins:

1. ``settings.registry_secrets``: registry → Secrets Manager secret (ARN or name) (AWS);
2. ``settings.registry_credentials_file``: a JSON file of registry → credentials (local);
3. an ECR registry (``<account>.dkr.ecr.<region>.amazonaws.com``): a token from
   ``ecr:GetAuthorizationToken`` in that region, with the runner role's rights;
4. else none: the image is pulled anonymously.

What was read from 1 or 2 is kept ``registry_credentials_ttl_seconds``, so a rotated secret is
picked up within that time and a burst of pulls reads it once; an ECR token is kept until
``registry_ecr_token_margin_seconds`` before ECR says it expires.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from chalicelib.adapters import registry_tokens, secrets
from chalicelib.domain.ecr import EcrRegistry, ecr_registry, kept_for
from chalicelib.domain.registries import canonical_registry
from chalicelib.domain.registry_credentials import RegistryAuth, from_file, from_secret
from chalicelib.settings import Settings

TokenSource = Callable[[EcrRegistry], registry_tokens.RegistryToken]


def _secret_map(raw: str) -> dict[str, str]:
    if not raw.strip():
        return {}
    entries = json.loads(raw)
    if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
        raise ValueError("SLIPWAY_REGISTRY_SECRETS must be a JSON object of registry → secret ARN or name")
    return {canonical_registry(registry): secret for registry, secret in entries.items()}


class RegistryCredentials:
    """``credentials(registry)`` → ``{"username", "password"}`` or None, cached (see above).

    ``clock`` is monotonic: an ECR token's expiry (wall-clock time) is turned into a deadline
    on it when the token is fetched. ``ecr_token`` fetches a token (the ECR adapter's)."""

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
        ecr_token: TokenSource = registry_tokens.authorization_token,
    ) -> None:
        self._secrets = _secret_map(settings.registry_secrets)
        self._file = settings.registry_credentials_file
        self._ttl = settings.registry_credentials_ttl_seconds
        self._margin = settings.registry_ecr_token_margin_seconds
        self._clock = clock
        self._ecr_token = ecr_token
        # registry → (until, on the monotonic clock; the credentials or None).
        self._cache: dict[str, tuple[float, RegistryAuth | None]] = {}
        self._lock = threading.Lock()

    def __call__(self, registry: str) -> RegistryAuth | None:
        registry = canonical_registry(registry)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(registry)
            if cached is not None and now < cached[0]:
                return cached[1]
        found, kept = self._read(registry)
        with self._lock:
            self._cache[registry] = (now + kept, found)
        return found

    def _read(self, registry: str) -> tuple[RegistryAuth | None, float]:
        """The credentials of ``registry`` and for how many seconds they may be kept."""
        if registry in self._secrets:
            secret = self._secrets[registry]
            return from_secret(secrets.read_secret(secret), secret), self._ttl
        if self._file:
            found = from_file(secrets.read_file(self._file), self._file, registry)
            if found is not None:
                return found, self._ttl
        ecr = ecr_registry(registry)
        if ecr is not None:
            token = self._ecr_token(ecr)
            return token.auth, kept_for(token.expires_at - time.time(), self._margin)
        return None, self._ttl
