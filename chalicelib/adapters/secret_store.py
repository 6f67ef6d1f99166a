"""Reading secrets: Secrets Manager secrets and SSM parameters (SecureString decrypted), by ARN.

The endpoint is boto3's (``AWS_ENDPOINT_URL``), so the local emulator serves them too.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws import client
from chalicelib.domain.secret_refs import SECRETS_MANAGER, parse_ref


class SecretUnavailable(Exception):
    """The secret could not be read; the message says which and why (never its value)."""


def read_secret(arn: str) -> str:
    """The value of the secret or parameter ``arn``."""
    ref = parse_ref(arn)
    if ref is None:
        raise SecretUnavailable(f"{arn!r} is not a secret or parameter ARN")
    try:
        if ref.service == SECRETS_MANAGER:
            answer = client("secretsmanager").get_secret_value(SecretId=arn)
            if "SecretString" not in answer:
                raise SecretUnavailable(f"secret {arn} holds binary data, not text")
            return str(answer["SecretString"])
        answer = client("ssm").get_parameter(Name=ref.parameter_name, WithDecryption=True)
        return str(answer["Parameter"]["Value"])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise SecretUnavailable(f"secret {arn} could not be read: {code}") from exc
    except BotoCoreError as exc:
        raise SecretUnavailable(f"secret {arn} could not be read: {type(exc).__name__}") from exc
