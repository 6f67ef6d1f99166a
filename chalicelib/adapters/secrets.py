"""The one reader of secrets: Secrets Manager secrets and SSM parameters (SecureString
decrypted), and the local credentials file.

A secret is named by its ARN, or (Secrets Manager) by its name. An ARN names its region: the
secret is read there, with a client of that region (one per region, all on the process's one
botocore session, ``aws.client``); a name is read in the service's region. The endpoint is
boto3's (``AWS_ENDPOINT_URL``), so the local emulator serves them too.

Every failure is a SecretUnavailable saying which secret and why (the service's error code),
never its value.
"""

from __future__ import annotations

from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws import client
from chalicelib.domain.secret_refs import SECRETS_MANAGER, SecretUnavailable, parse_ref

__all__ = ["SecretUnavailable", "read_file", "read_secret"]


def read_secret(secret: str) -> str:
    """The text of the secret or parameter ``secret`` (an ARN, or a Secrets Manager name)."""
    ref = parse_ref(secret)
    if ref is None and secret.startswith("arn:"):
        raise SecretUnavailable(f"{secret!r} is not a secret or parameter ARN")
    try:
        if ref is None or ref.service == SECRETS_MANAGER:
            region = ref.region if ref is not None else None
            answer = client("secretsmanager", region=region).get_secret_value(SecretId=secret)
            if "SecretString" not in answer:
                raise SecretUnavailable(f"secret {secret} holds binary data, not text")
            return str(answer["SecretString"])
        answer = client("ssm", region=ref.region).get_parameter(Name=ref.parameter_name, WithDecryption=True)
        return str(answer["Parameter"]["Value"])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise SecretUnavailable(f"secret {secret} could not be read: {code}") from None
    except BotoCoreError as exc:
        raise SecretUnavailable(f"secret {secret} could not be read: {type(exc).__name__}") from None


def read_file(path: str) -> str:
    """The text of the local credentials file ``path``."""
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise SecretUnavailable(f"{path} could not be read: {exc.strerror or type(exc).__name__}") from None
