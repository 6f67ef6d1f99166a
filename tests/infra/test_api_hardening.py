"""Deployment side of the API hardening: the API Gateway authorizer option, gzip by API Gateway,
the idempotency table's grants, and no API credentials in the runners' environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from chalicelib.settings import Settings
from infra.cdk.stack import SlipwayStack
from tests.infra.support import ROOT, Synthesis

SWAGGER = """
import json
from chalice.deploy.swagger import CFNSwaggerGenerator
import app
print(json.dumps(CFNSwaggerGenerator().generate_swagger(app.app)))
"""


def _swagger(authorizer: str) -> dict:
    env = {**os.environ, "SLIPWAY_API_AUTHORIZER": authorizer, "SLIPWAY_STAGE": "authz"}
    result = subprocess.run(
        [sys.executable, "-c", SWAGGER], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _security(swagger: dict) -> dict[str, object]:
    return {
        f"{method.upper()} {path}": operation.get("security")
        for path, item in swagger["paths"].items()
        for method, operation in item.items()
        if method != "options"
    }


def test_no_gateway_authorizer_by_default():
    swagger = _swagger("")

    assert "securityDefinitions" not in swagger
    assert not any(_security(swagger).values())


def test_iam_authorizer_guards_every_route_but_the_health_check_the_document_and_the_console_page():
    swagger = _swagger("iam")

    assert swagger["securityDefinitions"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    security = _security(swagger)
    open_routes = {route for route, value in security.items() if not value}
    # The console's page holds no data: every call it makes is an API call, guarded as any other.
    assert open_routes == {"GET /healthcheck", "GET /openapi.json", "GET /ui"}
    assert all(value == [{"sigv4": []}] for route, value in security.items() if route not in open_routes)


def test_cognito_authorizer_names_its_user_pools():
    pool = "arn:aws:cognito-idp:us-east-1:111122223333:userpool/us-east-1_Example"

    swagger = _swagger(f"cognito:{pool}")

    definition = swagger["securityDefinitions"]["SlipwayUsers"]
    assert definition["x-amazon-apigateway-authorizer"]["providerARNs"] == [pool]
    assert _security(swagger)["POST /tasks/{task_id}"] == [{"SlipwayUsers": []}]


def test_an_unknown_authorizer_is_refused_at_start():
    import app

    with pytest.raises(ValueError, match="SLIPWAY_API_AUTHORIZER"):
        app.gateway_authorizer("lambda")
    with pytest.raises(ValueError):
        app.gateway_authorizer("cognito:")


def test_api_gateway_gzips_answers_of_the_configured_size(synthesized: Synthesis):
    [rest_api] = synthesized.resources("AWS::Serverless::Api").values()

    assert rest_api["Properties"]["MinimumCompressionSize"] == Settings().gzip_min_bytes


def test_only_the_idempotency_table_may_be_deleted_from(synthesized: Synthesis):
    policies = synthesized.resources("AWS::IAM::Policy")
    deletes = [
        statement
        for logical_id, policy in policies.items()
        if logical_id.startswith("ApiFunctionRole")
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "dynamodb:DeleteItem" in json.dumps(statement["Action"])
    ]

    assert len(deletes) == 1
    assert deletes[0]["Action"] == "dynamodb:DeleteItem"
    assert "TableIdempotencyModel" in json.dumps(deletes[0]["Resource"])


def test_runners_do_not_get_the_api_credentials():
    settings = Settings(stage="s", auth_basic_users="alice:pw", auth_api_keys="k", runner_concurrency=8)

    env = SlipwayStack.runner_environment(SimpleNamespace(settings=settings, websocket_api=None))  # type: ignore[arg-type]

    assert env["SLIPWAY_RUNNER_CONCURRENCY"] == "8"
    assert not any(key.startswith("SLIPWAY_AUTH_") for key in env)
