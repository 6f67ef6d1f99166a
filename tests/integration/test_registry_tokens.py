"""ECR's registry tokens and secrets in other regions, against the local emulator over HTTP.

The runner asks ``ecr:GetAuthorizationToken`` in the registry's own region, decodes
``AWS:<password>``, keeps it until ``registry_ecr_token_margin_seconds`` before it expires, and
lets an explicit source (a registry secret, the credentials file) win. A secret's ARN names its
region: it is read there, whatever the service's region (us-east-1 here).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.adapters import registry_tokens, secrets
from chalicelib.domain.ecr import EcrRegistry
from chalicelib.settings import Settings
from infra.local.harness import StackProcess
from runner.registry_auth import RegistryCredentials

ACCOUNT = "000000000000"
OTHER_REGION = "eu-west-1"
ECR_HOST = f"{ACCOUNT}.dkr.ecr.{OTHER_REGION}.amazonaws.com"


@pytest.fixture(scope="module")
def secrets_elsewhere(stack: StackProcess) -> Any:
    return boto3.client("secretsmanager", endpoint_url=stack.aws_endpoint, region_name=OTHER_REGION)


class CountedTokens:
    """The real ECR adapter, counting its calls."""

    def __init__(self) -> None:
        self.fetched: list[EcrRegistry] = []

    def __call__(self, registry: EcrRegistry) -> registry_tokens.RegistryToken:
        self.fetched.append(registry)
        return registry_tokens.authorization_token(registry)


def test_an_ecr_token_is_asked_for_in_the_registry_region(stack: StackProcess) -> None:
    token = registry_tokens.authorization_token(EcrRegistry(ACCOUNT, OTHER_REGION))

    assert token.auth["username"] == "AWS" and token.auth["password"]
    assert token.endpoint == f"https://{ECR_HOST}"  # the emulator answers for the region it was asked in
    assert time.time() + 11 * 3600 < token.expires_at < time.time() + 13 * 3600


def test_the_runner_keeps_an_ecr_token_until_the_margin_before_it_expires(stack: StackProcess) -> None:
    now = [1000.0]
    tokens = CountedTokens()
    credentials = RegistryCredentials(
        Settings(registry_ecr_token_margin_seconds=900), clock=lambda: now[0], ecr_token=tokens
    )

    first = credentials(ECR_HOST)
    assert first is not None and first["username"] == "AWS"
    assert tokens.fetched == [EcrRegistry(ACCOUNT, OTHER_REGION)]
    now[0] += 12 * 3600 - 1000  # the token has ~12 h: still well before its margin
    assert credentials(ECR_HOST.upper()) == first
    assert len(tokens.fetched) == 1
    now[0] += 200  # now within 900 s of its expiry
    assert credentials(ECR_HOST) == first
    assert len(tokens.fetched) == 2
    # Another registry is no ECR registry: no token asked for, pulled anonymously.
    assert credentials("ghcr.io") is None and len(tokens.fetched) == 2


def test_explicit_credentials_win_over_an_ecr_token(
    stack: StackProcess, secrets_elsewhere: Any, tmp_path: Path
) -> None:
    by_file = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
    path = tmp_path / "registries.json"
    path.write_text(json.dumps({by_file: {"username": "from-file", "password": "p"}}))
    name = f"slipway-test-ecr-{uuid.uuid4().hex[:8]}"
    arn = secrets_elsewhere.create_secret(Name=name, SecretString=json.dumps({"username": "sm", "password": "q"}))[
        "ARN"
    ]
    tokens = CountedTokens()
    credentials = RegistryCredentials(
        Settings(registry_secrets=json.dumps({ECR_HOST: arn}), registry_credentials_file=str(path)), ecr_token=tokens
    )

    assert credentials(ECR_HOST) == {"username": "sm", "password": "q"}  # read in the ARN's region
    assert credentials(by_file) == {"username": "from-file", "password": "p"}
    assert tokens.fetched == []
    assert credentials(f"{ACCOUNT}.dkr.ecr.ap-south-1.amazonaws.com") is not None
    assert tokens.fetched == [EcrRegistry(ACCOUNT, "ap-south-1")]


def test_a_secret_is_read_in_the_region_its_arn_names(stack: StackProcess, secrets_elsewhere: Any) -> None:
    value = "elsewhere-" + uuid.uuid4().hex
    name = f"slipway/test-{uuid.uuid4().hex[:8]}/db"
    arn = secrets_elsewhere.create_secret(Name=name, SecretString=value)["ARN"]
    assert f":{OTHER_REGION}:" in arn

    assert secrets.read_secret(arn) == value
    # By name, it is looked for in the service's own region, where there is no such secret.
    with pytest.raises(secrets.SecretUnavailable) as raised:
        secrets.read_secret(name)
    assert str(raised.value) == f"secret {name} could not be read: ResourceNotFoundException"
