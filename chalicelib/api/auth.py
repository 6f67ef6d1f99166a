"""Who may call the API: HTTP Basic users and API keys, both off unless configured.

Pure functions over the request's headers (and, for WebSocket handshakes, its query string): no
I/O. Secrets are compared in constant time, and a configured secret may be stored as
``sha256:<hex digest>`` so that the plain value never sits in the deployment's environment.

- HTTP Basic: ``Authorization: Basic base64(user:password)``, users from
  ``SLIPWAY_AUTH_BASIC_USERS`` (``user:password,...``), as in fastlane.
- API keys: ``X-Api-Key: <key>`` or ``Authorization: Bearer <key>``, keys from
  ``SLIPWAY_AUTH_API_KEYS`` (every right) and ``SLIPWAY_AUTH_SCOPED_KEYS`` (some tasks, some
  verbs: chalicelib/domain/access.py). A WebSocket handshake from a browser cannot set headers,
  so ``$connect`` also accepts the key as the ``apiKey`` query parameter.
- The front door: with ``auth_front_door_secret`` set, a request must carry it in
  ``FRONT_DOOR_HEADER`` (CloudFront adds it), so the execute-api endpoint is no way around the
  front door.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.domain.access import FULL, Forbidden, Scope, gateway_principals
from chalicelib.domain.credentials import HASH_PREFIX, Credentials
from chalicelib.domain.errors import SlipwayError
from chalicelib.settings import FRONT_DOOR_HEADER, Settings, get_settings

# Compared against when the user is unknown, so a wrong user name costs as long as a wrong password.
_DUMMY_SECRET = HASH_PREFIX + "0" * 64


class Unauthorized(SlipwayError):
    status_code = 401

    def __init__(self, message: str, challenge: str) -> None:
        super().__init__(message, field="Authorization")
        # The value of the WWW-Authenticate header of the 401 answer.
        self.challenge = challenge


@dataclass(frozen=True)
class Identity:
    """Who called (``user:<name>``, ``api-key`` or ``key:<name>``) and what it may do."""

    name: str
    scope: Scope = FULL


# The caller when auth is off: anyone, with every right.
ANONYMOUS = Identity("anonymous")


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
) -> Identity | None:
    """The caller's identity if the request carries valid credentials, else None. ``query`` is
    consulted for ``apiKey`` (WebSocket handshakes only)."""
    lowered = _lower_keys(headers)
    scheme, _, value = lowered.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "basic" and credentials.basic_users:
        pair = _basic(value)
        if pair is not None:
            user, password = pair
            stored = credentials.basic_users.get(user)
            if secret_matches(password, stored or _DUMMY_SECRET) and stored is not None:
                return Identity(f"user:{user}")
    if credentials.any_keys:
        candidates = [lowered.get("x-api-key")]
        if scheme.lower() == "bearer":
            candidates.append(value.strip())
        if query:
            candidates.append(query.get("apiKey"))
        given_keys = [given for given in candidates if given]
        if any(_key_matches(given, credentials.api_keys) for given in given_keys):
            return Identity("api-key")
        for scoped in credentials.scoped_keys:
            if scoped.secret and any(_key_matches(given, (scoped.secret,)) for given in given_keys):
                return Identity(f"key:{scoped.name}", scoped.scope)
    return None


def identify_principal(context: Mapping[str, object] | None, credentials: Credentials) -> Identity | None:
    """The identity of a caller API Gateway's IAM or Cognito authorizer let in, scoped by the
    first ``auth_scoped_keys`` entry whose ``principal`` matches it; None when the request
    carries no such identity. A principal no entry matches has every right only when no entry
    names principals at all; otherwise it is refused (403)."""
    principals = gateway_principals(context or {})
    if not principals:
        return None
    entries = [scoped for scoped in credentials.scoped_keys if scoped.principal]
    for scoped in entries:
        if scoped.matches_principal(principals):
            return Identity(f"principal:{scoped.name}", scoped.scope)
    if entries:
        raise Forbidden(f"{principals[0]} matches no scoped principal", field="Authorization")
    return Identity(f"principal:{principals[0]}")


def require_front_door(headers: Mapping[str, str] | None, secret: str | None = None) -> None:
    """Raise Forbidden when the stage takes requests through its front door only and this one
    did not come through it (it lacks the front door's secret header)."""
    secret = get_settings().auth_front_door_secret if secret is None else secret
    if not secret:
        return
    given = _lower_keys(headers).get(FRONT_DOOR_HEADER, "")
    if not secret_matches(given, secret):
        raise Forbidden("this API is served through its front door only", field=FRONT_DOOR_HEADER)


def require(
    headers: Mapping[str, str] | None,
    credentials: Credentials | None = None,
    query: Mapping[str, str] | None = None,
    context: Mapping[str, object] | None = None,
) -> Identity:
    """The caller; raise Unauthorized unless auth is off or the request carries valid credentials
    (``context``: the request's ``requestContext``, where a gateway authorizer's identity is)."""
    credentials = credentials or get_credentials()
    principal = identify_principal(context, credentials)
    if principal is not None:
        return principal
    if not credentials.enabled:
        return ANONYMOUS
    identity = identify(headers, credentials, query)
    if identity is None:
        has_any = "authorization" in _lower_keys(headers) or "x-api-key" in _lower_keys(headers)
        message = "invalid credentials" if has_any else "authentication required"
        raise Unauthorized(message, credentials.challenge)
    return identity


def authorize(identity: Identity, verb: str, task_id: str | None = None) -> None:
    """Raise Forbidden (403, saying why) unless ``identity`` may ``verb`` on ``task_id``."""
    identity.scope.check(verb, task_id, identity.name)


def authorize_connect(headers: Mapping[str, str] | None, query: Mapping[str, str] | None = None) -> Identity:
    """For the WebSocket ``$connect`` handler: the caller's identity (anonymous when auth is off),
    allowed to read the task it asks for; or Unauthorized/Forbidden, which the handler turns into
    a refusal of the handshake with ``refusal_response``."""
    require_front_door(headers)
    identity = require(headers, get_credentials(), query)
    authorize(identity, "read", (query or {}).get("taskId"))
    return identity


def connect_refusal(event: Mapping[str, object]) -> dict[str, object] | None:
    """For ``@app.on_ws_connect()``: None to accept the handshake, or the 401/403 answer to
    return (Chalice passes a dict with ``statusCode`` through to API Gateway, which then refuses
    it). ``event`` is the raw Lambda event (``WebsocketEvent.to_dict()``)."""
    headers = event.get("headers")
    query = event.get("queryStringParameters")
    try:
        authorize_connect(
            headers if isinstance(headers, Mapping) else None, query if isinstance(query, Mapping) else None
        )
    except (Unauthorized, Forbidden) as error:
        return refusal_response(error)
    return None


def refusal_response(error: Unauthorized | Forbidden) -> dict[str, object]:
    """A Lambda proxy answer refusing a request (API Gateway refuses a WebSocket handshake whose
    ``$connect`` answers a non-2xx status)."""
    headers = {"Content-Type": "application/json"}
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = error.challenge
    return {"statusCode": error.status_code, "headers": headers, "body": json.dumps(error.to_dict())}
