"""Who the API accepts, as configured: HTTP Basic users and API keys (pure: parsing only).

``chalicelib.settings`` parses them once per process; ``chalicelib.api.auth`` checks requests
against them. A secret may be stored as ``sha256:<hex digest>`` so that the plain value never
sits in the deployment's environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib.domain.access import ScopedKey

HASH_PREFIX = "sha256:"
REALM = "slipway"


@dataclass(frozen=True)
class Credentials:
    """What the service accepts: user → password (or its digest), API keys (or digests) with
    every right, and scoped keys (chalicelib/domain/access.py)."""

    basic_users: Mapping[str, str] = field(default_factory=dict)
    api_keys: tuple[str, ...] = ()
    scoped_keys: tuple[ScopedKey, ...] = ()

    def __post_init__(self) -> None:
        for key in self.scoped_keys:
            if key.secret:
                _check_digest(key.secret)

    @property
    def enabled(self) -> bool:
        return bool(self.basic_users or self.api_keys or self.scoped_keys)

    @property
    def any_keys(self) -> bool:
        return bool(self.api_keys or self.scoped_keys)

    @property
    def challenge(self) -> str:
        schemes = []
        if self.basic_users:
            schemes.append(f'Basic realm="{REALM}", charset="UTF-8"')
        if self.any_keys:
            schemes.append(f'Bearer realm="{REALM}"')
        return ", ".join(schemes)


def parse_basic_users(raw: str) -> dict[str, str]:
    """``"alice:pw1,bob:sha256:<hex>"`` → ``{"alice": "pw1", "bob": "sha256:<hex>"}``."""
    users: dict[str, str] = {}
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        user, sep, secret = entry.partition(":")
        if not sep or not user or not secret:
            raise ValueError("SLIPWAY_AUTH_BASIC_USERS entries must be user:password (non-empty)")
        _check_digest(secret)
        users[user] = secret
    return users


def parse_api_keys(raw: str) -> tuple[str, ...]:
    keys = tuple(part.strip() for part in raw.split(",") if part.strip())
    for key in keys:
        _check_digest(key)
    return keys


def _check_digest(secret: str) -> None:
    if secret.startswith(HASH_PREFIX):
        digest = secret[len(HASH_PREFIX) :]
        if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
            raise ValueError(f"a secret written {HASH_PREFIX}... must be followed by 64 hex digits")


@dataclass(frozen=True)
class GatewayAuthorizer:
    """The API Gateway authorizer of every route but the public ones (``settings.api_authorizer``):
    ``kind`` is "" (none), "iam" or "cognito" (with the user pools' ARNs)."""

    kind: str = ""
    provider_arns: tuple[str, ...] = ()


def parse_authorizer(spec: str) -> GatewayAuthorizer:
    """``""``, ``"iam"`` or ``"cognito:<user pool ARN>[,<ARN>...]"``; anything else is refused."""
    kind, _, arns = spec.strip().partition(":")
    if not kind:
        return GatewayAuthorizer()
    if kind == "iam":
        return GatewayAuthorizer("iam")
    provider_arns = tuple(arn.strip() for arn in arns.split(",") if arn.strip())
    if kind == "cognito" and provider_arns:
        return GatewayAuthorizer("cognito", provider_arns)
    raise ValueError(f"SLIPWAY_API_AUTHORIZER must be empty, 'iam' or 'cognito:<user pool ARN>', not {spec!r}")
