"""Registries' credentials, the pure rules: the JSON shapes of a secret and of the local file,
ECR's registry hosts and tokens. No message names a value."""

from __future__ import annotations

import base64
import json

import pytest

from chalicelib.domain.ecr import EcrRegistry, decode_token, ecr_registry, kept_for
from chalicelib.domain.registry_credentials import from_file, from_secret
from chalicelib.domain.secret_refs import SecretUnavailable

PASSWORD = "s3cr3t-value"


def test_a_secret_holds_a_username_and_a_password() -> None:
    assert from_secret(json.dumps({"username": "u", "password": PASSWORD, "x": 1}), "reg") == {
        "username": "u",
        "password": PASSWORD,
    }
    for text, message in (
        (f"user:{PASSWORD}", "secret reg is not JSON"),
        (json.dumps({"username": "u", "pass": PASSWORD}), "secret reg is not an object with a username and a password"),
        (json.dumps([PASSWORD]), "secret reg is not an object with a username and a password"),
    ):
        with pytest.raises(SecretUnavailable) as raised:
            from_secret(text, "reg")
        assert str(raised.value) == message
        assert PASSWORD not in str(raised.value) and raised.value.__cause__ is None


def test_the_file_maps_registries_to_credentials() -> None:
    text = json.dumps({"localhost:5000": {"username": "u", "password": PASSWORD}})

    assert from_file(text, "f.json", "localhost:5000") == {"username": "u", "password": PASSWORD}
    assert from_file(text, "f.json", "ghcr.io") is None
    with pytest.raises(SecretUnavailable, match=r"^f\.json is not a JSON object of registry → credentials$"):
        from_file("[]", "f.json", "ghcr.io")
    with pytest.raises(SecretUnavailable, match=r"^f\.json: r is not an object with a username and a password$"):
        from_file(json.dumps({"r": PASSWORD}), "f.json", "r")
    with pytest.raises(SecretUnavailable, match=r"^f\.json is not JSON$"):
        from_file("{", "f.json", "r")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com", EcrRegistry("123456789012", "eu-west-1")),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", EcrRegistry("123456789012", "cn-north-1")),
        ("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", EcrRegistry("123456789012", "us-gov-west-1")),
        ("123456789012.DKR.ECR.us-east-1.amazonaws.com", EcrRegistry("123456789012", "us-east-1")),
        ("12345678901.dkr.ecr.eu-west-1.amazonaws.com", None),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example", None),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com:443", None),
        ("public.ecr.aws", None),
        ("ghcr.io", None),
    ],
)
def test_ecr_registry_hosts_name_their_account_and_region(host: str, expected: EcrRegistry | None) -> None:
    assert ecr_registry(host) == expected


def test_an_ecr_token_is_base64_of_user_and_password() -> None:
    token = base64.b64encode(f"AWS:{PASSWORD}".encode()).decode()

    assert decode_token(token, "r") == {"username": "AWS", "password": PASSWORD}
    for bad in ("***", base64.b64encode(PASSWORD.encode()).decode(), base64.b64encode(b"AWS:").decode()):
        with pytest.raises(SecretUnavailable, match=r"^the authorization token of r is not base64 of user:password$"):
            decode_token(bad, "r")


def test_a_token_is_kept_until_its_margin_before_it_expires() -> None:
    assert kept_for(43200, 900) == 42300
    assert kept_for(600, 900) == 0.0
