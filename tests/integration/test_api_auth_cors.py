"""Auth and CORS on a stack configured with credentials and allowed origins (both are off on
the shared stack: see test_api_niceties.py for the auth-off case).

No runner: these requests only need the API."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator

import pytest
import requests
import websockets
from websockets.exceptions import InvalidStatus

from chalicelib.api.auth import hash_secret
from infra.local.harness import StackProcess
from tests.conftest import LOG_DIR, TEST_IMAGE

USER, PASSWORD = "alice", "wonder:land"
KEY, HASHED_KEY = "plain-key-1", "hashed-key-2"
ORIGIN = "https://console.example"


@pytest.fixture(scope="module")
def secured() -> Iterator[StackProcess]:
    stack = StackProcess(
        runners=0,
        log_path=LOG_DIR / "stack-secured.log",
        extra_env={
            "SLIPWAY_AUTH_BASIC_USERS": f"{USER}:{PASSWORD},bob:{hash_secret('builder')}",
            "SLIPWAY_AUTH_API_KEYS": f"{KEY},{hash_secret(HASHED_KEY)}",
            "SLIPWAY_CORS_ORIGINS": f"{ORIGIN},http://localhost:3000",
        },
    )
    stack.start()
    yield stack
    stack.stop()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _enqueue(base: str, headers: dict[str, str], task: str = "secured") -> requests.Response:
    body = {"image": TEST_IMAGE, "command": "echo hi", "startIn": "1h"}
    return requests.post(f"{base}/tasks/{task}/", json=body, headers=headers, timeout=30)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/tasks/"),
        ("GET", "/search/?query=x"),
        ("POST", "/tasks/secured/"),
        ("GET", "/tasks/secured/"),
        ("GET", "/tasks/secured/jobs/00000000-0000-4000-8000-000000000000/"),
        ("PUT", "/tasks/secured/job/00000000-0000-4000-8000-000000000000"),
        ("GET", "/tasks/secured/jobs/00000000-0000-4000-8000-000000000000/executions/x/stdout/"),
        ("POST", "/tasks/secured/jobs/00000000-0000-4000-8000-000000000000/stop/"),
    ],
)
def test_requests_without_credentials_are_refused_with_a_json_401(secured: StackProcess, method: str, path: str):
    response = requests.request(method, secured.base_url + path, json={"image": TEST_IMAGE, "command": "x"}, timeout=30)

    assert response.status_code == 401, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"error": "authentication required", "field": "Authorization"}
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="slipway"')


@pytest.mark.parametrize(
    "headers",
    [basic(USER, "wrong"), basic("mallory", PASSWORD), {"X-Api-Key": "nope"}, {"Authorization": "Bearer nope"}],
)
def test_wrong_credentials_are_refused_and_nothing_is_stored(secured: StackProcess, headers: dict[str, str]):
    response = _enqueue(secured.base_url, headers, task="never-stored")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid credentials"
    found = requests.get(f"{secured.base_url}/tasks/never-stored/", headers={"X-Api-Key": KEY}, timeout=30)
    assert found.status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        basic(USER, PASSWORD),
        basic("bob", "builder"),
        {"X-Api-Key": KEY},
        {"Authorization": f"Bearer {HASHED_KEY}"},
    ],
    ids=["basic", "basic-hashed", "api-key-header", "bearer-hashed"],
)
def test_valid_credentials_are_served(secured: StackProcess, headers: dict[str, str]):
    enqueued = _enqueue(secured.base_url, headers)
    assert enqueued.status_code == 200, enqueued.text

    details = requests.get(enqueued.json()["jobUrl"] + "/", headers=headers, timeout=30)
    assert details.status_code == 200
    assert details.json()["job"]["jobId"] == enqueued.json()["jobId"]


def test_the_healthcheck_and_the_api_document_stay_open(secured: StackProcess):
    assert requests.get(f"{secured.base_url}/healthcheck/", timeout=30).status_code == 200
    spec = requests.get(f"{secured.base_url}/openapi.json", timeout=30)
    assert spec.status_code == 200
    assert spec.json()["openapi"].startswith("3.")


def test_a_preflight_from_an_allowed_origin_is_answered_without_credentials(secured: StackProcess):
    response = requests.options(
        f"{secured.base_url}/tasks/secured/",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
        timeout=30,
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "POST", "OPTIONS"}
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "x-api-key"} <= allowed
    assert int(response.headers["Access-Control-Max-Age"]) > 0


def test_a_preflight_from_another_origin_gets_no_permission(secured: StackProcess):
    response = requests.options(
        f"{secured.base_url}/tasks/secured/jobs/00000000-0000-4000-8000-000000000000/",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"},
        timeout=30,
    )

    assert response.status_code == 204
    assert "Access-Control-Allow-Origin" not in response.headers


def test_answers_carry_the_allowed_origin_even_errors(secured: StackProcess):
    ok = requests.get(f"{secured.base_url}/tasks/", headers={"Origin": ORIGIN, "X-Api-Key": KEY}, timeout=30)
    refused = requests.get(f"{secured.base_url}/tasks/", headers={"Origin": "http://localhost:3000"}, timeout=30)
    foreign = requests.get(f"{secured.base_url}/tasks/", headers={"Origin": "https://evil.example", "X-Api-Key": KEY})

    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "WWW-Authenticate" in ok.headers["Access-Control-Expose-Headers"]
    # A browser script can read why it was refused.
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert foreign.status_code == 200
    assert "Access-Control-Allow-Origin" not in foreign.headers
    assert foreign.headers["Vary"] == "Origin"


def _handshake_status(url: str, headers: dict[str, str] | None = None) -> int:
    """The HTTP status a WebSocket handshake is answered with (101 when it opens)."""

    async def attempt() -> int:
        async with asyncio.timeout(20):
            try:
                async with websockets.connect(url, open_timeout=15, additional_headers=headers) as socket:
                    await socket.close()
                    return 101
            except InvalidStatus as refused:
                return refused.response.status_code

    return asyncio.run(attempt())


def test_websocket_handshakes_and_stream_pages_need_credentials_too(secured: StackProcess):
    job_id = _enqueue(secured.base_url, {"X-Api-Key": KEY}, task="ws-secured").json()["jobId"]
    path = f"/tasks/ws-secured/jobs/{job_id}"
    ws = secured.base_url.replace("http://", "ws://") + path + "/ws/"

    # Without credentials the handshake is refused before anything is looked up; with any of
    # them it gets as far as the lookup (the job is delayed: no execution to watch yet → 404).
    assert _handshake_status(ws) == 401
    assert _handshake_status(ws + "?apiKey=nope") == 401
    assert _handshake_status(ws + f"?apiKey={KEY}") == 404
    assert _handshake_status(ws, basic(USER, PASSWORD)) == 404
    assert _handshake_status(ws, {"X-Api-Key": KEY}) == 404
    page = secured.base_url + path + "/stream/"
    assert requests.get(page, timeout=30).status_code == 401
    assert requests.get(page, params={"apiKey": "nope"}, timeout=30).status_code == 401
    assert requests.get(page, params={"apiKey": KEY}, timeout=30).status_code == 404
    # Only the pages take a key in the query: the JSON API still wants a header.
    assert requests.get(secured.base_url + path + "/", params={"apiKey": KEY}, timeout=30).status_code == 401
