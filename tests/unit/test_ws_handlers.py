"""The Chalice WebSocket handlers (``$connect`` / ``$disconnect``) called with generated
API Gateway events, on moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws

from chalicelib.adapters import aws
from chalicelib.adapters.models import ALL_MODELS, ConnectionModel, ExecutionModel, JobModel
from chalicelib.services import log_replay

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def tables(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The session stack's endpoint would send these calls past moto's in-process mock.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        aws.forget_clients()  # a session made before the mock would not be mocked
        for model in ALL_MODELS:
            model._connection = None  # a connection made against another endpoint
            model.create_table(wait=True)
        yield
    # Nor may the mock's connections outlive it: later tests in this process use the stack's.
    for model in ALL_MODELS:
        model._connection = None
    aws.forget_clients()


@pytest.fixture
def replays(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    requested: list[tuple[str, str, str]] = []
    monkeypatch.setattr(log_replay, "request", lambda *args: requested.append(args))
    return requested


def ws_event(route_key: str, connection_id: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}[route_key]
    event: dict[str, Any] = {
        "headers": {"Host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "isBase64Encoded": False,
        "requestContext": {
            "routeKey": route_key,
            "eventType": event_type,
            "connectionId": connection_id,
            "apiId": "abc123",
            "stage": "api",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "requestTimeEpoch": 1767323045000,
            "identity": {"sourceIp": "203.0.113.9"},
        },
    }
    if query is not None:
        event["queryStringParameters"] = query
    return event


def make_execution(status: str, execution_id: str = "0190-e1") -> ExecutionModel:
    JobModel(
        "task-a",
        "job-1",
        spec={"image": "x", "command": "y"},
        created_at=NOW,
        last_modified_at=NOW,
        last_execution_id=execution_id,
    ).save()
    execution = ExecutionModel(
        "job-1", execution_id, task_id="task-a", status=status, image="x", command="y", created_at=NOW
    )
    execution.save()
    return execution


def connect(event: dict[str, Any]) -> dict[str, Any]:
    import app

    return app.ws_connect(event, None)


def test_connect_records_the_viewer_of_the_jobs_last_execution(tables: None, replays: list[Any]) -> None:
    make_execution("running")

    answer = connect(ws_event("$connect", "conn-1", {"taskId": "task-a", "jobId": "job-1"}))

    assert answer["statusCode"] == 200
    record = ConnectionModel.get("conn-1")
    assert (record.execution_id, record.job_id, record.task_id) == ("0190-e1", "job-1", "task-a")
    assert record.expires_at > record.connected_at
    assert [c.connection_id for c in ConnectionModel.by_execution.query("0190-e1")] == ["conn-1"]
    assert replays == []  # a running execution's runner serves the viewer


def test_connect_to_a_finished_execution_asks_for_the_replay(tables: None, replays: list[Any]) -> None:
    make_execution("done")

    query = {"taskId": "task-a", "jobId": "job-1", "executionId": "0190-e1"}
    answer = connect(ws_event("$connect", "conn-2", query))

    assert answer["statusCode"] == 200
    assert replays == [("conn-2", "job-1", "0190-e1", "https://abc123.execute-api.us-east-1.amazonaws.com/api")]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"taskId": "task-a", "jobId": "job-1", "executionId": "nope"}, 404),
        ({"taskId": "task-a", "jobId": "nope"}, 404),
        ({"taskId": "other", "jobId": "job-1", "executionId": "0190-e1"}, 404),
        ({"taskId": "task-a"}, 400),
        (None, 400),
    ],
    ids=["unknown-execution", "unknown-job", "wrong-task", "no-job", "no-query"],
)
def test_connect_refuses_what_does_not_exist(
    tables: None, replays: list[Any], query: dict[str, str] | None, status: int
) -> None:
    make_execution("running")

    answer = connect(ws_event("$connect", "conn-3", query))

    assert answer["statusCode"] == status
    assert "error" in json.loads(answer["body"])
    assert list(ConnectionModel.by_execution.query("0190-e1")) == []


def test_disconnect_forgets_the_viewer(tables: None, replays: list[Any]) -> None:
    import app

    make_execution("running")
    connect(ws_event("$connect", "conn-4", {"taskId": "task-a", "jobId": "job-1"}))

    answer = app.ws_disconnect(ws_event("$disconnect", "conn-4"), None)

    assert answer["statusCode"] == 200
    assert list(ConnectionModel.by_execution.query("0190-e1")) == []
    # A disconnect of an unknown (already forgotten) connection is no error.
    assert app.ws_disconnect(ws_event("$disconnect", "conn-4"), None)["statusCode"] == 200


def test_replay_messages_are_the_whole_log_then_done(tables: None) -> None:
    execution = make_execution("failed")
    execution.log, execution.error, execution.exit_code = "a\nb\n", "boom\n", 2

    frames = [json.loads(frame) for frame in log_replay.messages(execution, 64 * 1024)]

    assert frames == [
        {
            "lines": [
                {"seq": 1, "stream": "stdout", "text": "a"},
                {"seq": 2, "stream": "stdout", "text": "b"},
                {"seq": 3, "stream": "stderr", "text": "boom"},
            ]
        },
        {"done": True, "status": "failed", "exitCode": 2},
    ]
