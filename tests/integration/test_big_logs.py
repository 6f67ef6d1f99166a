"""``logs/`` of a run whose stdout and stderr together exceed what Lambda may answer (6 MB): a
redirect to the combined object the runner stored, exactly stdout + separator + stderr; and the
answers the app makes for it, measured as the Lambda response it returns, stay under 6 MB."""

from __future__ import annotations

import json
from typing import Any

import requests

from tests.conftest import Api

LAMBDA_ANSWER_LIMIT = 6 * 1024 * 1024
SEPARATOR = b"\n-=-\n"
STDOUT_BYTES = 4 * 1024 * 1024
STDERR_BYTES = 3 * 1024 * 1024


def _lambda_answer(resource: str, **params: str) -> dict[str, Any]:
    """The response the Chalice app returns to Lambda for a GET of ``resource``, invoked in this
    process on the stack's tables and bucket, as API Gateway's REST proxy would."""
    import app

    event = {
        "resource": resource,
        "path": resource.format(**params),
        "httpMethod": "GET",
        "headers": {"Host": "slipway.test", "X-Forwarded-Proto": "https"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": "GET",
            "path": resource.format(**params),
            "stage": "api",
            "identity": {"sourceIp": "203.0.113.9"},
        },
        "body": None,
        "isBase64Encoded": False,
    }
    answer: dict[str, Any] = app.app(event, None)
    return answer


def _expected(pattern: bytes, size: int) -> bytes:
    return (pattern * (size // len(pattern) + 1))[:size]


def test_logs_over_six_mb_redirect_to_exactly_stdout_separator_stderr(api: Api, task_id: str) -> None:
    command = f"sh -c 'yes 0123456789abcdef | head -c {STDOUT_BYTES}; yes warn-warn-warn | head -c {STDERR_BYTES} >&2'"
    body = api.enqueue(task_id, command)
    execution = api.wait_finished(body["executionUrl"], timeout=180)
    assert execution["status"] == "done", execution["error"][-500:]
    expected = _expected(b"0123456789abcdef\n", STDOUT_BYTES) + SEPARATOR + _expected(b"warn-warn-warn\n", STDERR_BYTES)

    for url in (body["jobUrl"] + "/logs/", body["executionUrl"] + "logs/"):
        redirect = api.get(url, allow_redirects=False)
        assert redirect.status_code == 302, redirect.text[:200]
        download = requests.get(redirect.headers["Location"], timeout=60)
        assert download.status_code == 200
        assert len(download.content) == len(expected) and download.content == expected
    # Each stream alone fits an answer: served inline as before.
    assert api.get(body["executionUrl"] + "stderr/").content == expected[-STDERR_BYTES:]

    ids = {"task_id": task_id, "job_id": body["jobId"]}
    answers = {
        "job logs": _lambda_answer("/tasks/{task_id}/jobs/{job_id}/logs", **ids),
        "execution logs": _lambda_answer(
            "/tasks/{task_id}/jobs/{job_id}/executions/{execution_id}/logs", execution_id=body["executionId"], **ids
        ),
        "execution stdout": _lambda_answer(
            "/tasks/{task_id}/jobs/{job_id}/executions/{execution_id}/stdout", execution_id=body["executionId"], **ids
        ),
        "execution details": _lambda_answer(
            "/tasks/{task_id}/jobs/{job_id}/executions/{execution_id}", execution_id=body["executionId"], **ids
        ),
        "job details": _lambda_answer("/tasks/{task_id}/jobs/{job_id}", **ids),
    }
    sizes = {name: len(json.dumps(answer)) for name, answer in answers.items()}
    print("Lambda answer sizes (characters of the response JSON):", sizes)
    assert answers["job logs"]["statusCode"] == answers["execution logs"]["statusCode"] == 302
    assert answers["execution stdout"]["statusCode"] == 200
    assert all(size < LAMBDA_ANSWER_LIMIT for size in sizes.values()), sizes


def test_logs_of_control_characters_under_the_limit_in_bytes_are_not_answered_inline(api: Api, task_id: str) -> None:
    # 1 MiB of stdout and 1 MiB of stderr, each byte a control character: 2 MiB of output that
    # would be a 12 MiB answer once escaped.
    size = 1024 * 1024
    body = api.enqueue(task_id, f"sh -c 'head -c {size} /dev/zero; head -c {size} /dev/zero >&2'")
    execution = api.wait_finished(body["executionUrl"], timeout=120)
    assert execution["status"] == "done"

    ids = {"task_id": task_id, "job_id": body["jobId"]}
    answer = _lambda_answer("/tasks/{task_id}/jobs/{job_id}/logs", **ids)
    assert answer["statusCode"] == 302 and len(json.dumps(answer)) < LAMBDA_ANSWER_LIMIT
    download = requests.get(answer["headers"]["Location"], timeout=60)
    assert download.content == b"\0" * size + SEPARATOR + b"\0" * size
    details = _lambda_answer("/tasks/{task_id}/jobs/{job_id}", **ids)
    assert details["statusCode"] == 200 and len(json.dumps(details)) < LAMBDA_ANSWER_LIMIT
