"""Amazon ECR's short-lived registry credentials: ``ecr:GetAuthorizationToken``, asked in the
registry's own region for the registry's own account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws import client
from chalicelib.domain.ecr import EcrRegistry, decode_token
from chalicelib.domain.registry_credentials import RegistryAuth
from chalicelib.domain.secret_refs import SecretUnavailable


@dataclass(frozen=True)
class RegistryToken:
    auth: RegistryAuth
    # When ECR says the token lapses (seconds since the epoch).
    expires_at: float
    # The registry endpoint ECR says the token is for (``https://<account>.dkr.ecr.<region>…``).
    endpoint: str = ""


def authorization_token(registry: EcrRegistry) -> RegistryToken:
    """The credentials of ``registry``'s Docker endpoint, and when they expire."""
    host = f"{registry.account}.dkr.ecr.{registry.region}"
    try:
        answer = client("ecr", region=registry.region).get_authorization_token(registryIds=[registry.account])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise SecretUnavailable(f"the ECR token of {host} could not be read: {code}") from None
    except BotoCoreError as exc:
        raise SecretUnavailable(f"the ECR token of {host} could not be read: {type(exc).__name__}") from None
    data = answer.get("authorizationData") or []
    if not data or "authorizationToken" not in data[0]:
        raise SecretUnavailable(f"ECR answered no authorization token for {host}")
    expires = data[0].get("expiresAt")
    expires_at = expires.timestamp() if isinstance(expires, datetime) else float(expires or 0)
    endpoint = str(data[0].get("proxyEndpoint", ""))
    return RegistryToken(decode_token(str(data[0]["authorizationToken"]), host), expires_at, endpoint)
