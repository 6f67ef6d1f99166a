"""chalicelib.api.openapi: the document lists exactly the app's routes, is valid OpenAPI 3, and its
schemas agree with payload.py and views.py."""

from __future__ import annotations

from datetime import UTC, datetime

import jsonschema
import pytest
from openapi_spec_validator import validate

import app
from chalicelib.adapters.models import ExecutionModel
from chalicelib.api import openapi
from chalicelib.domain.payload import JobSpec
from chalicelib.domain.urls import Urls
from chalicelib.services import views
from tests.unit.test_payload import API_EXAMPLE, FULL_BODY

SPEC = openapi.document("http://localhost:10000")


def _schema(name: str) -> dict:
    """A component schema with its $refs resolved, for jsonschema."""
    return {**SPEC["components"]["schemas"][name], "components": SPEC["components"]}


def _check(instance: object, name: str) -> None:
    schema = {"$ref": f"#/components/schemas/{name}", "components": _nullable_as_types(SPEC["components"])}
    jsonschema.validate(instance, schema)


def _nullable_as_types(node: object) -> object:
    """OpenAPI 3.0's ``nullable`` in JSON Schema terms."""
    if isinstance(node, dict):
        converted = {key: _nullable_as_types(value) for key, value in node.items() if key != "nullable"}
        if node.get("nullable"):
            converted = {"anyOf": [converted, {"type": "null"}]}
        return converted
    if isinstance(node, list):
        return [_nullable_as_types(value) for value in node]
    return node


def test_every_route_of_the_app_is_in_the_document_and_nothing_else():
    # Preflight OPTIONS routes (only when CORS is on) are protocol, not API.
    registered = {("/" + path.strip("/"), method) for path, entry in app.app.routes.items() for method in entry}
    registered = {(path, method) for path, method in registered if method != "OPTIONS"}

    assert _route_keys(SPEC) == registered


def _route_keys(spec: dict) -> set[tuple[str, str]]:
    """(path without its final slash, METHOD) of every operation of ``spec``."""
    return {("/" + path.strip("/"), method.upper()) for path, item in spec["paths"].items() for method in item}


def test_the_document_is_valid_openapi_3():
    validate(SPEC)


def test_operation_ids_are_unique_and_singular_forms_deprecated():
    operations = [(path, op) for path, item in SPEC["paths"].items() for op in item.values()]
    ids = [op["operationId"] for _, op in operations]

    assert len(ids) == len(set(ids))
    assert all(op.get("deprecated") is True for path, op in operations if "/job/" in path)
    assert not any(op.get("deprecated") for path, op in operations if "/job/" not in path)


def test_the_healthcheck_the_document_and_the_console_shell_are_public_and_the_rest_may_need_credentials():
    public = {path for path, item in SPEC["paths"].items() if any(op.get("security") == [] for op in item.values())}

    # The console's page holds no data: what it shows comes from the other routes, with credentials.
    assert public == {"/healthcheck/", "/openapi.json", "/ui/"}
    assert all(
        "401" in op["responses"] for path, item in SPEC["paths"].items() if path not in public for op in item.values()
    )
    # A scoped key outside its scope, or a request around the front door, gets a 403.
    assert all(
        "403" in op["responses"] for path, item in SPEC["paths"].items() if path not in public for op in item.values()
    )


def test_job_payload_schema_has_exactly_the_keys_payload_accepts():
    properties = SPEC["components"]["schemas"]["JobPayload"]["properties"]

    assert set(properties) == set(JobSpec.__dataclass_fields__)
    assert SPEC["components"]["schemas"]["JobPayload"]["required"] == ["image", "command"]


@pytest.mark.parametrize("body", [API_EXAMPLE, FULL_BODY, {"image": "a", "command": "b", "envs": None}])
def test_valid_bodies_match_the_schema(body):
    _check(body, "JobPayload")


@pytest.mark.parametrize(
    "body",
    [
        {"image": "a"},
        {"image": "a", "command": "b", "retires": 3},
        {"image": "a", "command": "b", "retries": "3"},
        {"image": "a", "command": "b", "retries": -1},
        {"image": "a", "command": "b", "concurrencyPolicy": "sometimes"},
        {"image": "a", "command": "b", "webhooks": {"succeeds": [{"headers": {}}]}},
    ],
)
def test_invalid_bodies_do_not_match_the_schema(body):
    with pytest.raises(jsonschema.ValidationError):
        _check(body, "JobPayload")


def test_the_execution_view_matches_its_schema():
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    item = ExecutionModel(
        "job", "exec", task_id="t", status="done", image="i", command="c", created_at=now, request_ip="10.0.0.1"
    )

    shaped = views.execution(item, Urls("http://h"))

    _check(shaped, "Execution")
    assert set(shaped) == set(SPEC["components"]["schemas"]["Execution"]["properties"])
    assert shaped["requestIP"] == "10.0.0.1"


def test_the_error_body_shape():
    _check({"error": "image is required", "field": "image"}, "Error")
    _check({"error": "task 'x' does not exist", "taskId": "x"}, "Error")
    with pytest.raises(jsonschema.ValidationError):
        _check({"message": "x"}, "Error")


def test_credentials_are_optional_only_while_auth_is_off():
    assert {} in SPEC["security"]
    assert {} not in openapi.document(auth_required=True)["security"]
    assert {"basic": []} in openapi.document(auth_required=True)["security"]


def test_the_server_is_the_base_url_given():
    assert SPEC["servers"] == [{"url": "http://localhost:10000"}]
    assert openapi.document()["servers"] == [{"url": "/"}]
