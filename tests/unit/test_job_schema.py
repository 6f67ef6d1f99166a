"""chalicelib.domain.job_schema: the job body declared once, read by the validation, the typed
JobSpec and the OpenAPI document alike; the document's paths read from the routes registered."""

from __future__ import annotations

import dataclasses
from typing import TypedDict, get_type_hints

import pytest

import app
from chalicelib.api import openapi
from chalicelib.api.routes import ROUTES, Answer, Route
from chalicelib.domain import job_schema
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.payload import JobSpec, parse_job
from chalicelib.services import views


def test_the_job_spec_has_exactly_the_declared_keys_and_their_defaults():
    fields = {f.name: f for f in dataclasses.fields(JobSpec)}

    assert set(fields) == job_schema.NAMES
    for each in job_schema.FIELDS:
        if isinstance(each.default, (int, str)):
            assert fields[each.name].default == each.default, each.name


def test_the_document_s_job_body_is_the_declared_one():
    assert openapi.document()["components"]["schemas"]["JobPayload"] == job_schema.openapi_schema()


def test_the_declaration_drives_the_validation():
    image = next(f for f in job_schema.FIELDS if f.name == "image")
    start_at = next(f for f in job_schema.FIELDS if f.name == "startAt")

    assert image.schema()["pattern"] == job_schema.IMAGE_PATTERN
    assert start_at.schema()["maximum"] == job_schema.LATEST_TIMESTAMP
    with pytest.raises(ValidationError, match="year 9999"):
        parse_job({"image": "a", "command": "b", "startAt": job_schema.LATEST_TIMESTAMP + 1})


@pytest.mark.parametrize("each", job_schema.FIELDS, ids=lambda f: f.name)
def test_every_key_is_described_and_null_is_absent_unless_declared_otherwise(each):
    schema = each.schema()

    assert schema["description"]
    assert schema.get("nullable", False) is (not each.required and each.nullable)


def test_the_registry_holds_every_route_the_app_registers_and_the_singular_forms_as_deprecated():
    registered = {(path, method) for path, entry in app.app.routes.items() for method in entry if method != "OPTIONS"}

    assert {(route.path, route.method) for route in ROUTES} == registered
    assert all(route.deprecated == ("/job/" in route.path) for route in ROUTES)


class _Thing(TypedDict):
    """A thing"""

    name: str
    size: int | None


def _a_thing() -> _Thing:
    """Look at a thing."""
    return {"name": "x", "size": None}


def test_the_paths_are_built_from_the_routes_given():
    routes = [Route("/things/{task_id}", "GET", _a_thing, answers=(Answer(409, "Busy"),))]

    spec = openapi.document(routes=routes)
    operation = spec["paths"]["/things/{task_id}/"]["get"]

    assert list(spec["paths"]) == ["/things/{task_id}/"]
    assert operation["summary"] == "Look at a thing"
    assert operation["operationId"] == "get_things_task_id"
    assert [p["name"] for p in operation["parameters"]] == ["task_id"]
    assert operation["responses"]["200"]["description"] == "A thing"
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/_Thing"}
    assert set(operation["responses"]) == {"200", "400", "401", "403", "404", "409"}
    assert spec["components"]["schemas"]["_Thing"]["properties"] == {
        "name": {"type": "string"},
        "size": {"type": "integer", "nullable": True},
    }


@pytest.mark.parametrize("shape", [views.Execution, views.TaskSummary, views.Enqueued], ids=lambda s: s.__name__)
def test_answer_components_are_read_from_the_typed_answers(shape):
    component = openapi.document()["components"]["schemas"][shape.__name__]

    assert list(component["properties"]) == list(get_type_hints(shape))
    assert component["required"] == list(get_type_hints(shape))
