"""Safe to deploy: a stage without authentication is refused unless the operator says so loudly;
the front door is the only way in when asked; throttling, a usage plan per key, alarms; and the
secrets (SMTP password, front door header) are in no output and no runner environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aws_cdk as cdk
import pytest

from chalicelib.settings import FRONT_DOOR_HEADER, Settings
from infra.cdk.config import PUBLIC_FLAG, DeployConfig, DeployOptions, PublicApiRefused, load_config, public_api_warning
from infra.cdk.stack import SlipwayStack
from tests.infra.support import CDK_DIR, CONTEXT, ROOT, Synthesis, tool_env


def _config(**context: str) -> DeployConfig:
    return load_config(context.get, {})


# -- the refusal --------------------------------------------------------------------------------


def test_the_cdk_app_refuses_a_stage_without_authentication(tmp_path: Path) -> None:
    env = tool_env(tmp_path) | {"CDK_OUTDIR": str(tmp_path / "out"), "CDK_CONTEXT_JSON": json.dumps({"stage": "pub"})}

    result = subprocess.run(
        [sys.executable, str(CDK_DIR / "app.py")],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode != 0
    assert "refusing to synthesize stage 'pub'" in result.stderr
    assert f"-c {PUBLIC_FLAG}=true" in result.stderr
    assert not list((tmp_path / "out").glob("*.template.json"))


def test_the_stack_itself_refuses_it_before_packaging_anything() -> None:
    with pytest.raises(PublicApiRefused, match="auth_api_keys, auth_scoped_keys"):
        SlipwayStack(cdk.App(), config=_config(stage="pub"), project_dir=ROOT)


@pytest.mark.parametrize(
    "context",
    [
        {"auth_api_keys": "sha256:" + "0" * 64},
        {"auth_basic_users": "ops:sha256:" + "1" * 64},
        {"auth_scoped_keys": json.dumps([{"name": "a", "key": "sha256:" + "2" * 64, "tasks": "a-.*"}])},
        {"api_authorizer": "iam"},
    ],
    ids=["keys", "basic", "scoped-keys", "iam"],
)
def test_any_authentication_is_enough(context: dict[str, str]) -> None:
    assert public_api_warning(_config(stage="s", **context)) is None


def test_the_loud_flag_or_the_local_emulator_turn_the_refusal_into_a_warning() -> None:
    flagged = public_api_warning(_config(stage="pub", **{PUBLIC_FLAG: "true"}))
    local = public_api_warning(DeployConfig(Settings(stage="pub"), DeployOptions(local_emulator="http://127.0.0.1:1")))

    assert flagged is not None and "NO AUTHENTICATION" in flagged
    assert local == flagged
    with pytest.raises(PublicApiRefused):
        public_api_warning(_config(stage="pub", **{PUBLIC_FLAG: "no"}))


def test_a_flagged_public_stage_is_synthesized_with_the_warning_printed(ws_synthesized: Synthesis) -> None:
    assert ws_synthesized.template["Resources"]
    assert f"WARNING: stage '{ws_synthesized.stage}' has NO AUTHENTICATION" in ws_synthesized.output


def test_a_secured_stage_prints_no_warning(synthesized: Synthesis) -> None:
    assert "NO AUTHENTICATION" not in synthesized.output


# -- the front door as the only way in ----------------------------------------------------------


def _origins(synthesis: Synthesis) -> list[dict[str, Any]]:
    [distribution] = synthesis.resources("AWS::CloudFront::Distribution").values()
    return distribution["Properties"]["DistributionConfig"]["Origins"]


def _secret_id(synthesis: Synthesis) -> str:
    [secret] = synthesis.resources("AWS::SecretsManager::Secret")
    return secret


def test_cloudfront_sends_the_secret_header_and_every_function_checks_it(synthesized: Synthesis) -> None:
    secret = _secret_id(synthesized)
    reference = {"Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": secret}, ":SecretString:::}}"]]}

    for origin in _origins(synthesized):
        headers = {h["HeaderName"]: h["HeaderValue"] for h in origin.get("OriginCustomHeaders", [])}
        assert headers == {FRONT_DOOR_HEADER: reference}
    for function in synthesized.resources("AWS::Serverless::Function").values():
        assert function["Properties"]["Environment"]["Variables"]["SLIPWAY_AUTH_FRONT_DOOR_SECRET"] == reference
    # A reference only: the value is resolved by CloudFormation, never written in the template.
    [secret_properties] = [r["Properties"] for r in synthesized.resources("AWS::SecretsManager::Secret").values()]
    assert "SecretString" not in secret_properties and "GenerateSecretString" in secret_properties
    outputs = json.dumps(synthesized.template["Outputs"])
    assert "resolve:secretsmanager" not in outputs and "FRONT_DOOR" not in outputs


def test_without_the_option_there_is_no_secret_header(ws_synthesized: Synthesis) -> None:
    assert not ws_synthesized.resources("AWS::SecretsManager::Secret")
    assert all("OriginCustomHeaders" not in origin for origin in _origins(ws_synthesized))


# -- throttling, the usage plan, alarms ---------------------------------------------------------


def test_the_rest_stage_is_throttled_and_each_usage_plan_key_too(synthesized: Synthesis) -> None:
    [rest_api] = synthesized.resources("AWS::Serverless::Api").values()
    [method_settings] = rest_api["Properties"]["MethodSettings"]
    options = DeployOptions()
    assert method_settings == {
        "ResourcePath": "/*",
        "HttpMethod": "*",
        "ThrottlingRateLimit": options.api_rate_limit,
        "ThrottlingBurstLimit": options.api_burst_limit,
    }
    [plan] = synthesized.resources("AWS::ApiGateway::UsagePlan").values()
    assert plan["Properties"]["Throttle"] == {
        "RateLimit": options.api_rate_limit,
        "BurstLimit": options.api_burst_limit,
    }
    assert plan["Properties"]["ApiStages"] == [{"ApiId": {"Ref": "RestAPI"}, "Stage": "api"}]
    [key] = synthesized.resources("AWS::ApiGateway::ApiKey").values()
    assert key["Properties"]["Name"] == f"slipway-{synthesized.stage}-producta"
    [link] = synthesized.resources("AWS::ApiGateway::UsagePlanKey").values()
    assert link["Properties"]["KeyType"] == "API_KEY"


def test_routes_need_a_usage_plan_key_when_the_stage_has_some() -> None:
    script = "import json, app; from chalice.deploy.swagger import CFNSwaggerGenerator; "
    script += "print(json.dumps(CFNSwaggerGenerator().generate_swagger(app.app)))"
    env = {**os.environ, "SLIPWAY_GATEWAY_USAGE_PLAN_KEYS": "producta", "SLIPWAY_STAGE": "plans"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    swagger = json.loads(result.stdout)

    security = {
        f"{method.upper()} {path}": operation.get("security")
        for path, item in swagger["paths"].items()
        for method, operation in item.items()
        if method != "options"
    }
    assert security["POST /tasks/{task_id}"] == [{"api_key": []}]
    assert security["GET /healthcheck"] is None


def test_alarms_watch_both_dead_letter_queues_and_every_function(synthesized: Synthesis) -> None:
    alarms = synthesized.resources("AWS::CloudWatch::Alarm")
    settings = Settings(stage=synthesized.stage)
    queues = synthesized.resources("AWS::SQS::Queue")
    dead_letters = {
        logical_id
        for logical_id, queue in queues.items()
        if queue["Properties"]["QueueName"]
        in (settings.job_dead_letter_queue, settings.notifications_dead_letter_queue)
    }
    watched_queues = {
        alarm["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for alarm in alarms.values()
        if alarm["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    }
    assert watched_queues == dead_letters and len(dead_letters) == 2
    watched_functions = {
        alarm["Properties"]["Dimensions"][0]["Value"]["Ref"]
        for alarm in alarms.values()
        if alarm["Properties"]["MetricName"] == "Errors"
    }
    assert watched_functions == set(synthesized.resources("AWS::Serverless::Function"))
    [topic] = synthesized.resources("AWS::SNS::Topic")
    for logical_id, alarm in alarms.items():
        # Every alarm tells the topic; these (not the service-metrics ones) fire on any one.
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]
        if not logical_id.startswith("ServiceMetricsMetricsAlarm"):
            assert alarm["Properties"]["Threshold"] == 0
    [subscription] = synthesized.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Endpoint"] == CONTEXT["alarm_email"]


# -- secrets that stay secret -------------------------------------------------------------------


def test_a_plain_smtp_password_is_refused_at_synth() -> None:
    config = _config(stage="mail", auth_api_keys="sha256:" + "0" * 64, smtp_password="hunter2")

    with pytest.raises(ValueError, match="smtp_password_secret"):
        SlipwayStack(cdk.App(), config=config, project_dir=ROOT)


def test_runners_get_neither_mail_settings_nor_the_front_door_secret() -> None:
    settings = Settings(
        stage="s",
        smtp_user="mailer",
        smtp_password_secret="arn:aws:secretsmanager:us-east-1:123456789012:secret:smtp-AbCdEf",
        auth_front_door_secret="front",
        runner_concurrency=8,
    )

    env = SlipwayStack.runner_environment(SimpleNamespace(settings=settings, websocket_api=None))  # type: ignore[arg-type]

    assert env["SLIPWAY_RUNNER_CONCURRENCY"] == "8"
    assert not [key for key in env if key.startswith(("SLIPWAY_SMTP_", "SLIPWAY_AUTH_"))]


def test_the_runner_role_may_read_exactly_the_secrets_jobs_may_reference(synthesized: Synthesis) -> None:
    policies = [
        statement
        for logical_id, policy in synthesized.resources("AWS::IAM::Policy").items()
        if logical_id.startswith("RunnerRole")
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    secret_grants = {
        action: json.dumps(statement["Resource"])
        for statement in policies
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        if action.startswith(("secretsmanager:", "ssm:"))
    }

    assert set(secret_grants) == {"secretsmanager:GetSecretValue", "ssm:GetParameter"}
    assert ":secret:slipway/*" in secret_grants["secretsmanager:GetSecretValue"]
    assert ":parameter/slipway/*" in secret_grants["ssm:GetParameter"]
