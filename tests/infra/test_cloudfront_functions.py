"""The CloudFront Functions of the front door, run with node on sample viewer requests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.cdk.stack import FUNCTIONS_DIR, ws_function_code

# Calls handler() of the module named in argv[1] on each event read from stdin; prints the results.
DRIVER = """
const fn = require(process.argv[1]);
const events = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(events.map((event) => fn.handler(event))));
"""


def run_handler(source: Path, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = subprocess.run(
        ["node", "-e", DRIVER, str(source)],
        input=json.dumps(events),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def viewer_request(
    uri: str, querystring: dict[str, str] | None = None, host: str = "d1.cloudfront.net"
) -> dict[str, Any]:
    return {
        "version": "1.0",
        "context": {"eventType": "viewer-request", "distributionDomainName": "d1.cloudfront.net"},
        "viewer": {"ip": "198.51.100.7"},
        "request": {
            "method": "GET",
            "uri": uri,
            "querystring": {name: {"value": value} for name, value in (querystring or {}).items()},
            "headers": {"host": {"value": host}, "upgrade": {"value": "websocket"}},
            "cookies": {},
        },
    }


def _query(request: dict[str, Any]) -> dict[str, str]:
    return {name: field["value"] for name, field in request["querystring"].items()}


REWRITES = [
    ("/tasks/t1/jobs/j1/ws/", {}, {"taskId": "t1", "jobId": "j1"}),
    ("/tasks/t1/jobs/j1/ws", {}, {"taskId": "t1", "jobId": "j1"}),
    ("/tasks/t1/job/j1/ws/", {}, {"taskId": "t1", "jobId": "j1"}),
    (
        "/tasks/t1/jobs/j1/executions/0190b2c4-7d1e-7cc0-8f3a-2b6d1c9e0f11/ws/",
        {},
        {"taskId": "t1", "jobId": "j1", "executionId": "0190b2c4-7d1e-7cc0-8f3a-2b6d1c9e0f11"},
    ),
    ("/tasks/t1/job/j1/executions/e1/ws", {}, {"taskId": "t1", "jobId": "j1", "executionId": "e1"}),
    # A job named "ws" is still a job.
    ("/tasks/t1/jobs/ws/ws/", {}, {"taskId": "t1", "jobId": "ws"}),
    # Percent-encoded segments pass on as they are; other query parameters are kept, ours win.
    (
        "/tasks/my%20task/jobs/j%2F1/ws/",
        {"token": "abc", "jobId": "forged"},
        {"token": "abc", "taskId": "my%20task", "jobId": "j%2F1"},
    ),
]


@pytest.mark.parametrize(("uri", "query", "expected"), REWRITES, ids=[case[0] for case in REWRITES])
def test_websocket_paths_are_rewritten_to_the_stage(uri: str, query: dict[str, str], expected: dict[str, str]) -> None:
    [request] = run_handler(FUNCTIONS_DIR / "ws_path.js", [viewer_request(uri, query)])
    assert request["uri"] == "/api"
    assert _query(request) == expected
    assert request["method"] == "GET" and request["headers"]["upgrade"] == {"value": "websocket"}


@pytest.mark.parametrize(
    "uri",
    [
        "/tasks/t1/jobs/j1",
        "/tasks/t1/jobs/j1/ws/extra",
        "/tasks/t1/jobs/j1/executions/ws",
        "/tasks/t1/jobs//ws/",
        "/tasks/t1/jobs/j1/executions/e1/logs/ws/",
        "/ws/",
        "/api",
    ],
)
def test_other_paths_are_refused(uri: str) -> None:
    [response] = run_handler(FUNCTIONS_DIR / "ws_path.js", [viewer_request(uri)])
    assert response["statusCode"] == 404
    assert "uri" not in response


def test_the_stage_path_is_the_one_the_stack_writes_in(tmp_path: Path) -> None:
    source = tmp_path / "ws_path.js"
    source.write_text(ws_function_code("/prod"))
    [request] = run_handler(source, [viewer_request("/tasks/a/jobs/b/executions/c/ws/")])
    assert request["uri"] == "/prod"
    assert _query(request) == {"taskId": "a", "jobId": "b", "executionId": "c"}


def test_rest_requests_carry_the_viewer_host_as_forwarded_host() -> None:
    [request] = run_handler(
        FUNCTIONS_DIR / "forwarded_host.js", [viewer_request("/tasks/t1/", host="jobs.example.com")]
    )
    assert request["uri"] == "/tasks/t1/"
    assert request["headers"]["x-forwarded-host"] == {"value": "jobs.example.com"}
