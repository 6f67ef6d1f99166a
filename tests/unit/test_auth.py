"""chalicelib.api.auth: HTTP Basic users and API keys, plain or as sha256 digests."""

from __future__ import annotations

import base64
import json

import pytest

from chalicelib.api.auth import (
    ANONYMOUS,
    Identity,
    Unauthorized,
    credentials_from,
    hash_secret,
    identify,
    refusal_response,
    require,
    secret_matches,
)
from chalicelib.domain.credentials import Credentials, parse_api_keys, parse_basic_users
from chalicelib.settings import Settings


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


CREDENTIALS = Credentials(
    basic_users={"alice": "wonder:land", "bob": hash_secret("builder")},
    api_keys=("key-one", hash_secret("key-two")),
)


def test_off_by_default_and_everything_passes():
    credentials = credentials_from(Settings())

    assert not credentials.enabled
    assert require({}, credentials) is ANONYMOUS
    assert require(None, credentials) is ANONYMOUS


def test_settings_are_parsed():
    settings = Settings.from_env(
        {"SLIPWAY_AUTH_BASIC_USERS": " alice:pa:ss , bob:x ,", "SLIPWAY_AUTH_API_KEYS": "k1, k2,,"}
    )

    credentials = credentials_from(settings)

    assert dict(credentials.basic_users) == {"alice": "pa:ss", "bob": "x"}
    assert credentials.api_keys == ("k1", "k2")
    assert credentials.enabled


@pytest.mark.parametrize("raw", ["alice", ":pw", "alice:", "bob:sha256:abc"])
def test_malformed_users_are_refused_at_start(raw):
    with pytest.raises(ValueError):
        parse_basic_users(raw)


def test_a_malformed_key_digest_is_refused_at_start():
    with pytest.raises(ValueError):
        parse_api_keys("sha256:" + "z" * 64)


def test_secrets_compare_plain_and_hashed():
    assert secret_matches("s3cret", "s3cret")
    assert not secret_matches("s3cre", "s3cret")
    assert secret_matches("s3cret", hash_secret("s3cret"))
    assert secret_matches("s3cret", hash_secret("s3cret").upper().replace("SHA256:", "sha256:"))
    assert not secret_matches("other", hash_secret("s3cret"))
    assert secret_matches("ünï", "ünï")


@pytest.mark.parametrize(
    ("headers", "identity"),
    [
        (basic("alice", "wonder:land"), "user:alice"),
        (basic("bob", "builder"), "user:bob"),
        ({"X-Api-Key": "key-one"}, "api-key"),
        ({"x-api-key": "key-two"}, "api-key"),
        ({"Authorization": "Bearer key-one"}, "api-key"),
        ({"authorization": "bearer  key-two "}, "api-key"),
    ],
)
def test_valid_credentials_identify_the_caller(headers, identity):
    assert identify(headers, CREDENTIALS) == Identity(identity)
    assert require(headers, CREDENTIALS) == Identity(identity)


@pytest.mark.parametrize(
    "headers",
    [
        basic("alice", "wonder"),
        basic("carol", "wonder:land"),
        basic("bob", hash_secret("builder")),  # the digest itself is not the password
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()},
        {"X-Api-Key": "key-three"},
        {"X-Api-Key": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Token key-one"},
    ],
)
def test_invalid_credentials_are_refused(headers):
    assert identify(headers, CREDENTIALS) is None
    with pytest.raises(Unauthorized, match="invalid credentials") as raised:
        require(headers, CREDENTIALS)
    assert raised.value.status_code == 401


def test_no_credentials_at_all_is_authentication_required_with_both_challenges():
    with pytest.raises(Unauthorized, match="authentication required") as raised:
        require({"Accept": "application/json"}, CREDENTIALS)

    assert raised.value.to_dict() == {"error": "authentication required", "field": "Authorization"}
    assert raised.value.challenge.startswith('Basic realm="slipway"')
    assert 'Bearer realm="slipway"' in raised.value.challenge


def test_only_the_configured_scheme_counts():
    keys_only = Credentials(api_keys=("k",))
    users_only = Credentials(basic_users={"k": "k"})

    assert identify(basic("k", "k"), keys_only) is None
    assert identify({"X-Api-Key": "k"}, users_only) is None
    assert keys_only.challenge == 'Bearer realm="slipway"'


def test_the_query_string_key_counts_only_when_given():
    # WebSocket handshakes from browsers cannot set headers: $connect passes its query string.
    assert identify({}, CREDENTIALS, {"apiKey": "key-one"}) == Identity("api-key")
    assert identify({}, CREDENTIALS, {"apiKey": "nope"}) is None
    assert identify({}, CREDENTIALS) is None


def test_unauthorized_response_is_a_json_401_proxy_answer():
    with pytest.raises(Unauthorized) as raised:
        require({}, CREDENTIALS)

    answer = refusal_response(raised.value)

    assert answer["statusCode"] == 401
    assert answer["headers"]["Content-Type"] == "application/json"
    assert answer["headers"]["WWW-Authenticate"] == CREDENTIALS.challenge
    assert json.loads(answer["body"]) == {"error": "authentication required", "field": "Authorization"}


def test_authorize_connect_uses_the_process_credentials(monkeypatch):
    from chalicelib.api import auth

    monkeypatch.setattr(auth, "get_credentials", lambda: CREDENTIALS)

    assert auth.authorize_connect({"X-Api-Key": "key-one"}, None) == Identity("api-key")
    assert auth.authorize_connect({}, {"apiKey": "key-two"}) == Identity("api-key")
    with pytest.raises(Unauthorized):
        auth.authorize_connect({"Sec-WebSocket-Key": "x"}, {"taskId": "t"})

    monkeypatch.setattr(auth, "get_credentials", lambda: Credentials())
    assert auth.authorize_connect({}, None) is ANONYMOUS


def test_connect_refusal_reads_a_websocket_connect_event(monkeypatch):
    from chalicelib.api import auth

    monkeypatch.setattr(auth, "get_credentials", lambda: CREDENTIALS)
    event = {
        "requestContext": {"eventType": "CONNECT", "connectionId": "c1", "routeKey": "$connect"},
        "headers": {"Host": "x.execute-api.us-east-1.amazonaws.com", "Sec-WebSocket-Version": "13"},
        "queryStringParameters": {"taskId": "t", "jobId": "j"},
    }

    refusal = auth.connect_refusal(event)
    assert refusal is not None and refusal["statusCode"] == 401
    assert json.loads(refusal["body"])["error"] == "authentication required"
    assert auth.connect_refusal({**event, "queryStringParameters": {"taskId": "t", "apiKey": "key-one"}}) is None
    assert auth.connect_refusal({**event, "headers": {**event["headers"], **basic("bob", "builder")}}) is None
    assert auth.connect_refusal({**event, "headers": None, "queryStringParameters": None}) is not None
    monkeypatch.setattr(auth, "get_credentials", lambda: Credentials())
    assert auth.connect_refusal(event) is None
