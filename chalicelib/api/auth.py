"""Who may call the API: HTTP Basic users and API keys, both off unless configured.

Pure functions over the request's headers (and, for WebSocket handshakes, its query string): no
I/O. Secrets are compared in constant time, and a configured secret may be stored as
``sha256:<hex digest>`` so that the plain value never sits in the deployment's environment.

- HTTP Basic: ``Authorization: Basic base64(user:password)``, users from
  ``SLIPWAY_AUTH_BASIC_USERS`` (``user:password,...``), as in fastlane.
- API keys: ``X-Api-Key: <key>`` or ``Authorization: Bearer <key>``, keys from
  ``SLIPWAY_AUTH_API_KEYS``. A WebSocket handshake from a browser cannot set headers, so
  ``$connect`` also accepts the key as the ``apiKey`` query parameter.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping

from chalicelib.domain.credentials import HASH_PREFIX, Credentials
from chalicelib.domain.errors import SlipwayError
from chalicelib.settings import Settings, get_settings

# Compared against when the user is unknown, so a wrong user name costs as long as a wrong password.
_DUMMY_SECRET = HASH_PREFIX + "0" * 64


class Unauthorized(SlipwayError):
    status_code = 401

    def __init__(self, message: str, challenge: str) -> None:
        super().__init__(message, field="Authorization")
        # The value of the WWW-Authenticate header of the 401 answer.
        self.challenge = challenge


def credentials_from(settings: Settings) -> Credentials:
    return settings.credentials


def get_credentials() -> Credentials:
    """The credentials of this process (the settings parse them once)."""
    return get_settings().credentials


def hash_secret(secret: str) -> str:
    """The ``sha256:<hex>`` form of a secret, to put in the settings instead of the secret."""
    return HASH_PREFIX + hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(given: str, stored: str) -> bool:
    """Constant-time comparison of a secret sent by a client with a configured one."""
    if stored.startswith(HASH_PREFIX):
        expected = stored[len(HASH_PREFIX) :].lower().encode("ascii")
        return hmac.compare_digest(hashlib.sha256(given.encode("utf-8")).hexdigest().encode("ascii"), expected)
    return hmac.compare_digest(given.encode("utf-8"), stored.encode("utf-8"))


def _lower_keys(mapping: Mapping[str, str] | None) -> dict[str, str]:
    return {str(name).lower(): value for name, value in (mapping or {}).items() if isinstance(value, str)}


def _basic(value: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def _key_matches(given: str, keys: tuple[str, ...]) -> bool:
    # Every key is compared (no early exit), so the time taken does not say which one matched.
    matched = False
    for key in keys:
        matched |= secret_matches(given, key)
    return matched


def identify(
    headers: Mapping[str, str] | None, credentials: Credentials, query: Mapping[str, str] | None = None
) -> str | None:
    """The caller's identity (``user:<name>`` or ``api-key``) if the request carries valid
    credentials, else None. ``query`` is consulted for ``apiKey`` (WebSocket handshakes only)."""
    lowered = _lower_keys(headers)
    scheme, _, value = lowered.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "basic" and credentials.basic_users:
        pair = _basic(value)
        if pair is not None:
            user, password = pair
            stored = credentials.basic_users.get(user)
            if secret_matches(password, stored or _DUMMY_SECRET) and stored is not None:
                return f"user:{user}"
    if credentials.api_keys:
        candidates = [lowered.get("x-api-key")]
        if scheme.lower() == "bearer":
            candidates.append(value.strip())
        if query:
            candidates.append(query.get("apiKey"))
        if any(given and _key_matches(given, credentials.api_keys) for given in candidates):
            return "api-key"
    return None


def require(
    headers: Mapping[str, str] | None, credentials: Credentials | None = None, query: Mapping[str, str] | None = None
) -> str | None:
    """Raise Unauthorized unless auth is off or the request carries valid credentials."""
    credentials = credentials or get_credentials()
    if not credentials.enabled:
        return None
    identity = identify(headers, credentials, query)
    if identity is None:
        has_any = "authorization" in _lower_keys(headers) or "x-api-key" in _lower_keys(headers)
        message = "invalid credentials" if has_any else "authentication required"
        raise Unauthorized(message, credentials.challenge)
    return identity


def authorize_connect(headers: Mapping[str, str] | None, query: Mapping[str, str] | None = None) -> str | None:
    """For the WebSocket ``$connect`` handler: the caller's identity (None when auth is off), or
    Unauthorized, which the handler turns into a 401 refusal of the handshake with
    ``unauthorized_response``."""
    return require(headers, get_credentials(), query)


def connect_refusal(event: Mapping[str, object]) -> dict[str, object] | None:
    """For ``@app.on_ws_connect()``: None to accept the handshake, or the 401 answer to return
    (Chalice passes a dict with ``statusCode`` through to API Gateway, which then refuses it).
    ``event`` is the raw Lambda event (``WebsocketEvent.to_dict()``)."""
    headers = event.get("headers")
    query = event.get("queryStringParameters")
    try:
        authorize_connect(
            headers if isinstance(headers, Mapping) else None, query if isinstance(query, Mapping) else None
        )
    except Unauthorized as error:
        return unauthorized_response(error)
    return None


def unauthorized_response(error: Unauthorized) -> dict[str, object]:
    """A Lambda proxy answer refusing a request (API Gateway refuses a WebSocket handshake whose
    ``$connect`` answers a non-2xx status)."""
    return {
        "statusCode": error.status_code,
        "headers": {"Content-Type": "application/json", "WWW-Authenticate": error.challenge},
        "body": json.dumps(error.to_dict()),
    }
