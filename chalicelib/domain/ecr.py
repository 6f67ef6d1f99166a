"""Amazon ECR registries and their authorization tokens (pure).

An ECR registry is a host ``<account>.dkr.ecr.<region>.amazonaws.com`` (``.amazonaws.com.cn``
in the China partition, ``dkr.ecr-fips`` for FIPS endpoints). Its credentials are short-lived:
``ecr:GetAuthorizationToken`` answers a base64 token of ``AWS:<password>`` valid 12 hours, which
the runner fetches in the registry's own region and keeps until shortly before it expires.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from chalicelib.domain.registry_credentials import RegistryAuth
from chalicelib.domain.secret_refs import SecretUnavailable

_HOST = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]+)"
    r"\.amazonaws\.com(?:\.cn)?$"
)


@dataclass(frozen=True)
class EcrRegistry:
    account: str
    region: str


def ecr_registry(host: str) -> EcrRegistry | None:
    """The account and region of an ECR registry host; None for any other registry."""
    match = _HOST.match(host.lower())
    return EcrRegistry(match["account"], match["region"]) if match else None


def decode_token(token: str, registry: str) -> RegistryAuth:
    """``{"username", "password"}`` from an authorization token (base64 of ``user:password``)."""
    try:
        user, sep, password = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise SecretUnavailable(f"the authorization token of {registry} is not base64 of user:password") from None
    if not sep or not user or not password:
        raise SecretUnavailable(f"the authorization token of {registry} is not base64 of user:password")
    return {"username": user, "password": password}


def kept_for(expires_in: float, margin: float) -> float:
    """How long a token that expires in ``expires_in`` s is used: up to ``margin`` s before its
    end, so a pull never starts on a token about to lapse (0: not kept, fetched again next time)."""
    return max(0.0, expires_in - margin)
