"""Scoped keys and the front door, on a stack of their own (no runner: these need the API only).

Keys: ``producta`` may read and write tasks ``producta-.*``; ``viewer`` may only read them;
``productb`` may read and write ``productb-.*``; ``ops`` (a plain key of auth_api_keys) may do
everything, /status/ included. Every request carries the front door's header unless a test
leaves it out on purpose: the stage takes requests through its front door only.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import websockets
from websockets.exceptions import InvalidStatus

from chalicelib.api.auth import hash_secret
from chalicelib.settings import FRONT_DOOR_HEADER
from infra.local.harness import StackProcess
from tests.conftest import LOG_DIR, TEST_IMAGE

FRONT = "front-door-" + uuid.uuid4().hex
PRODUCT_A, VIEWER, PRODUCT_B, OPS = (f"{name}-{uuid.uuid4().hex}" for name in ("a", "viewer", "b", "ops"))
SCOPED = [
    {"name": "producta", "key": hash_secret(PRODUCT_A), "tasks": "producta-.*", "verbs": ["read", "write"]},
    {"name": "viewer", "key": VIEWER, "tasks": "producta-.*", "verbs": ["read"]},
    {"name": "productb", "key": hash_secret(PRODUCT_B), "tasks": "productb-.*", "verbs": ["read", "write"]},
]


@pytest.fixture(scope="module")
def scoped() -> Iterator[StackProcess]:
    stack = StackProcess(
        runners=0,
        log_path=LOG_DIR / "stack-scoped.log",
        extra_env={
            "SLIPWAY_AUTH_API_KEYS": OPS,
            "SLIPWAY_AUTH_SCOPED_KEYS": json.dumps(SCOPED),
            "SLIPWAY_AUTH_FRONT_DOOR_SECRET": FRONT,
        },
    )
    stack.start()
    yield stack
    stack.stop()


def _call(stack: StackProcess, method: str, path: str, key: str | None, front: bool = True, **kwargs: Any):
    headers = {FRONT_DOOR_HEADER: FRONT} if front else {}
    if key is not None:
        headers["X-Api-Key"] = key
    return requests.request(method, stack.base_url + path, headers=headers, timeout=30, **kwargs)


def _enqueue(stack: StackProcess, key: str, task: str) -> dict[str, Any]:
    body = {"image": TEST_IMAGE, "command": "echo hi"}
    response = _call(stack, "POST", f"/tasks/{task}/", key, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _handshake_status(url: str, headers: dict[str, str]) -> int:
    async def attempt() -> int:
        async with asyncio.timeout(20):
            try:
                async with websockets.connect(url, open_timeout=15, additional_headers=headers) as socket:
                    await socket.close()
                    return 101
            except InvalidStatus as refused:
                return refused.response.status_code

    return asyncio.run(attempt())


@pytest.fixture(scope="module")
def jobs(scoped: StackProcess) -> dict[str, dict[str, Any]]:
    """One job of each team (an execution each, never run: no runner)."""
    suffix = uuid.uuid4().hex[:8]
    return {
        "a": _enqueue(scoped, PRODUCT_A, f"producta-{suffix}"),
        "b": _enqueue(scoped, PRODUCT_B, f"productb-{suffix}"),
    }


def _path(answer: dict[str, Any]) -> str:
    return f"/tasks/{answer['taskId']}/jobs/{answer['jobId']}"


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", "/"),
        ("GET", "/logs/"),
        ("GET", "/history/"),
        ("POST", "/stop/"),
        ("POST", "/retry/"),
        ("PUT", "/"),
    ],
)
def test_a_key_cannot_reach_another_teams_jobs(
    scoped: StackProcess, jobs: dict[str, dict[str, Any]], method: str, suffix: str
) -> None:
    other = jobs["b"]
    body = {"image": TEST_IMAGE, "command": "echo taken over"} if method == "PUT" else None

    response = _call(scoped, method, _path(other) + suffix, PRODUCT_A, json=body)

    assert response.status_code == 403, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {
        "error": f"key:producta may not reach task {other['taskId']!r} (only tasks matching 'producta-.*')",
        "taskId": other["taskId"],
    }
    # Nothing changed for the other team: its job is as it was, with its one execution.
    details = _call(scoped, "GET", _path(other) + "/", PRODUCT_B).json()["job"]
    assert details["executionCount"] == 1 and details["metadata"]["command"] == "echo hi"
    assert details["executions"][0]["status"] == "enqueued"


def test_a_key_reaches_its_own_teams_jobs(scoped: StackProcess, jobs: dict[str, dict[str, Any]]) -> None:
    own = jobs["a"]

    assert _call(scoped, "GET", _path(own) + "/", PRODUCT_A).status_code == 200
    assert _call(scoped, "GET", own["executionUrl"].removeprefix(scoped.base_url), VIEWER).status_code == 200
    # A job's history is read as its details are: the viewer's ``read`` covers it, on both forms.
    for form in (_path(own), _path(own).replace("/jobs/", "/job/")):
        answer = _call(scoped, "GET", form + "/history/", VIEWER)
        assert answer.status_code == 200, answer.text
        assert [run["executionId"] for run in answer.json()["executions"]] == [own["executionId"]]
    singular = _call(scoped, "GET", _path(jobs["b"]).replace("/jobs/", "/job/") + "/history/", VIEWER)
    assert singular.status_code == 403 and singular.json()["taskId"] == jobs["b"]["taskId"]
    assert _call(scoped, "POST", _path(own) + "/retry/", PRODUCT_A).status_code == 200
    # Nor may it create a task outside its pattern (matched whole: a prefix is not enough).
    for task in ("productb-1", "x-producta-1"):
        refused = _call(scoped, "POST", f"/tasks/{task}/", PRODUCT_A, json={"image": TEST_IMAGE, "command": "true"})
        assert refused.status_code == 403
        assert _call(scoped, "GET", f"/tasks/{task}/", OPS).status_code == 404


def test_listings_and_search_show_only_the_keys_tasks(scoped: StackProcess, jobs: dict[str, dict[str, Any]]) -> None:
    mine, theirs = jobs["a"]["taskId"], jobs["b"]["taskId"]

    listed = {item["taskId"] for item in _call(scoped, "GET", "/tasks/", PRODUCT_A).json()["items"]}
    everything = {item["taskId"] for item in _call(scoped, "GET", "/tasks/", OPS).json()["items"]}
    word = mine.rsplit("-", 1)[1]  # the suffix both teams' task ids share
    found = _call(scoped, "GET", "/search/", PRODUCT_A, params={"query": word}).json()
    found_by_b = _call(scoped, "GET", "/search/", PRODUCT_B, params={"query": word}).json()

    assert mine in listed and theirs not in listed
    assert all(task.startswith("producta-") for task in listed)
    assert {mine, theirs} <= everything
    assert [item["taskId"] for item in found["items"]] == [mine] and found["pages"] == 1
    assert [item["taskId"] for item in found_by_b["items"]] == [theirs]


def test_verbs_limit_what_a_key_may_do(scoped: StackProcess, jobs: dict[str, dict[str, Any]]) -> None:
    own = jobs["a"]

    refused = _call(scoped, "POST", _path(own) + "/stop/", VIEWER)
    status_for_team = _call(scoped, "GET", "/status/", PRODUCT_A)
    blacklist = _call(scoped, "POST", "/docker-executor/blacklist", PRODUCT_A, json={"host": "h:1"})

    assert refused.status_code == 403
    assert refused.json() == {"error": "key:viewer may not write (it may read)", "verb": "write"}
    assert status_for_team.status_code == 403 and status_for_team.json()["verb"] == "admin"
    assert blacklist.status_code == 403
    assert _call(scoped, "GET", "/status/", OPS).status_code == 200


def test_websocket_connects_are_checked_the_same_way(scoped: StackProcess, jobs: dict[str, dict[str, Any]]) -> None:
    ws = scoped.base_url.replace("http://", "ws://")
    own, other = _path(jobs["a"]) + "/ws/", _path(jobs["b"]) + "/ws/"
    front = {FRONT_DOOR_HEADER: FRONT}

    assert _handshake_status(ws + own, front) == 401
    assert _handshake_status(ws + other, front | {"X-Api-Key": PRODUCT_A}) == 403
    assert _handshake_status(ws + own + f"?apiKey={VIEWER}", front) == 101
    assert _handshake_status(ws + own, front | {"X-Api-Key": PRODUCT_A}) == 101
    # Straight to the endpoint, not through the front door: refused even with a good key.
    assert _handshake_status(ws + own, {"X-Api-Key": PRODUCT_A}) == 403


def test_requests_that_skip_the_front_door_are_refused(scoped: StackProcess, jobs: dict[str, dict[str, Any]]) -> None:
    for path in ("/healthcheck/", "/tasks/", _path(jobs["a"]) + "/"):
        response = _call(scoped, "GET", path, OPS, front=False)
        assert response.status_code == 403, path
        assert response.json() == {
            "error": "this API is served through its front door only",
            "field": FRONT_DOOR_HEADER,
        }
    wrong = requests.get(
        scoped.base_url + "/tasks/", headers={FRONT_DOOR_HEADER: "guess", "X-Api-Key": OPS}, timeout=30
    )
    assert wrong.status_code == 403
    assert _call(scoped, "GET", "/healthcheck/", None).status_code == 200


def test_without_credentials_everything_but_the_health_check_is_refused(scoped: StackProcess) -> None:
    response = _call(scoped, "GET", "/tasks/", None)

    assert response.status_code == 401
    assert response.json() == {"error": "authentication required", "field": "Authorization"}
