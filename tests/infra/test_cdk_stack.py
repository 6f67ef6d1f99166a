"""The synthesized CloudFormation template, checked against the code it is generated from.

The expected tables come from PynamoDB's own schema of each model (what ``create_table`` sends,
and what the local stack creates), not from infra/tables.py: a model that gains or changes
a key or an index fails here until the stack declares the same table.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from pynamodb.attributes import TTLAttribute
from pynamodb.models import Model

from chalicelib.adapters.models import ALL_MODELS
from chalicelib.resources import bucket_names, queue_specs
from chalicelib.settings import Settings, get_settings
from infra.cdk import stack as stack_module
from tests.infra.support import CONTEXT, WS_API_STAGE, WS_DOMAIN, WS_ECR_REPOSITORY, Synthesis

# -- tables ---------------------------------------------------------------------------------


def _synth_name(model: type[Model], stage: str) -> str:
    """The name ``model``'s table has in a template of ``stage`` (the models here use the test stage)."""
    return f"{stage}-" + str(model.Meta.table_name).removeprefix(f"{get_settings().stage}-")


def _keys(key_schema: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(key["AttributeName"], key["KeyType"]) for key in key_schema}


def _indexes(indexes: list[dict[str, Any]]) -> dict[str, tuple[set[tuple[str, str]], str, set[str]]]:
    found = {}
    for index in indexes:
        projection = index.get("Projection") or index.get("projection") or {}
        found[index.get("IndexName") or index["index_name"]] = (
            _keys(index.get("KeySchema") or index["key_schema"]),
            projection.get("ProjectionType", ""),
            set(projection.get("NonKeyAttributes", [])),
        )
    return found


def table_differences(model: type[Model], properties: dict[str, Any]) -> list[str]:
    """How the table ``properties`` of the template differ from ``model`` (empty: they match)."""
    schema = model._get_schema()
    differences = []
    if _keys(properties["KeySchema"]) != _keys(schema["key_schema"]):
        differences.append(f"key schema {properties['KeySchema']} != {schema['key_schema']}")
    wanted_types = {(d["AttributeName"], d["AttributeType"]) for d in schema["attribute_definitions"]}
    got_types = {(d["AttributeName"], d["AttributeType"]) for d in properties["AttributeDefinitions"]}
    if got_types != wanted_types:
        differences.append(f"attribute definitions {sorted(got_types)} != {sorted(wanted_types)}")
    if _indexes(properties.get("GlobalSecondaryIndexes", [])) != _indexes(schema["global_secondary_indexes"]):
        differences.append(f"global indexes {properties.get('GlobalSecondaryIndexes')} != model's")
    if _indexes(properties.get("LocalSecondaryIndexes", [])) != _indexes(schema["local_secondary_indexes"]):
        differences.append(f"local indexes {properties.get('LocalSecondaryIndexes')} != model's")
    if properties.get("BillingMode") != "PAY_PER_REQUEST":
        differences.append(f"billing mode {properties.get('BillingMode')}")
    if properties.get("PointInTimeRecoverySpecification") != {"PointInTimeRecoveryEnabled": True}:
        differences.append("point-in-time recovery is off")
    ttl = [a.attr_name for a in model.get_attributes().values() if isinstance(a, TTLAttribute)]
    wanted_ttl = {"AttributeName": ttl[0], "Enabled": True} if ttl else None
    if properties.get("TimeToLiveSpecification") != wanted_ttl:
        differences.append(f"TTL {properties.get('TimeToLiveSpecification')} != {wanted_ttl}")
    return differences


def _tables_by_name(synthesis: Synthesis) -> dict[str, dict[str, Any]]:
    tables = synthesis.resources("AWS::DynamoDB::Table").values()
    return {table["Properties"]["TableName"]: table["Properties"] for table in tables}


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
def test_every_table_matches_its_model(synthesized: Synthesis, model: type[Model]) -> None:
    tables = _tables_by_name(synthesized)
    name = _synth_name(model, synthesized.stage)
    assert name in tables, f"no table {name} in the template (tables: {sorted(tables)})"
    assert table_differences(model, tables[name]) == []


def test_no_table_without_a_model(synthesized: Synthesis) -> None:
    assert sorted(_tables_by_name(synthesized)) == sorted(_synth_name(m, synthesized.stage) for m in ALL_MODELS)


def test_the_comparison_sees_drift(synthesized: Synthesis) -> None:
    """The check above is not vacuous: a table that lost an index, a key or its PITR is reported."""
    tables = _tables_by_name(synthesized)
    jobs = next(m for m in ALL_MODELS if m.__name__ == "JobModel")
    properties = tables[_synth_name(jobs, synthesized.stage)]
    no_index = copy.deepcopy(properties)
    no_index.pop("GlobalSecondaryIndexes")
    other_key = copy.deepcopy(properties)
    other_key["KeySchema"][0]["AttributeName"] = "renamed"
    no_pitr = copy.deepcopy(properties)
    no_pitr.pop("PointInTimeRecoverySpecification")
    for drifted in (no_index, other_key, no_pitr):
        assert table_differences(jobs, drifted) != []


def test_ttl_and_local_index_of_a_model_reach_the_table(ws_synthesized: Synthesis) -> None:
    """The WebSocket variant adds a model with a TTL attribute, a GSI and an LSI (INCLUDE)."""
    table = _tables_by_name(ws_synthesized)[f"{ws_synthesized.stage}-slipway-sessions"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
    assert table["LocalSecondaryIndexes"] == [
        {
            "IndexName": "by-kind",
            "KeySchema": [
                {"AttributeName": "connection_id", "KeyType": "HASH"},
                {"AttributeName": "kind", "KeyType": "RANGE"},
            ],
            "Projection": {"NonKeyAttributes": ["user"], "ProjectionType": "INCLUDE"},
        }
    ]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["by-user"]
    for model in ALL_MODELS:
        name = _synth_name(model, ws_synthesized.stage)
        assert table_differences(model, _tables_by_name(ws_synthesized)[name]) == []


def test_tables_are_retained_when_asked(synthesized: Synthesis, ws_synthesized: Synthesis) -> None:
    assert {t["DeletionPolicy"] for t in synthesized.resources("AWS::DynamoDB::Table").values()} == {"Delete"}
    assert {t["DeletionPolicy"] for t in ws_synthesized.resources("AWS::DynamoDB::Table").values()} == {"Retain"}


# -- queues and bucket ----------------------------------------------------------------------


def test_queues_follow_the_specs_and_have_their_dead_letter_queues(synthesized: Synthesis) -> None:
    queues = synthesized.resources("AWS::SQS::Queue")
    by_name = {q["Properties"]["QueueName"]: (logical_id, q["Properties"]) for logical_id, q in queues.items()}
    specs = queue_specs(Settings(stage=synthesized.stage))
    assert sorted(by_name) == sorted(spec.name for spec in specs)
    for spec in specs:
        _, properties = by_name[spec.name]
        assert properties["VisibilityTimeout"] == spec.visibility_timeout
        assert properties["MessageRetentionPeriod"] == spec.retention_seconds
        assert properties["SqsManagedSseEnabled"] is True
        if spec.dead_letter:
            dlq_id, _ = by_name[spec.dead_letter]
            assert properties["RedrivePolicy"] == {
                "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
                "maxReceiveCount": spec.max_receive_count,
            }
        else:
            assert "RedrivePolicy" not in properties


def test_log_bucket_is_private_encrypted_and_expires_logs(synthesized: Synthesis) -> None:
    template = Template.from_json(synthesized.template)
    for name in bucket_names(Settings(stage=synthesized.stage)):
        template.has_resource_properties(
            "AWS::S3::Bucket",
            {
                "BucketName": name,
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "LifecycleConfiguration": {
                    "Rules": Match.array_with(
                        [Match.object_like({"ExpirationInDays": int(CONTEXT["log_expiry_days"]), "Status": "Enabled"})]
                    )
                },
            },
        )


# -- IAM ------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policy_documents(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    documents = []
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append((logical_id, properties["PolicyDocument"]))
        elif resource["Type"] == "AWS::IAM::Role":
            documents += [(logical_id, p["PolicyDocument"]) for p in properties.get("Policies", [])]
        elif resource["Type"] == "AWS::Serverless::Function":
            for policy in _as_list(properties.get("Policies", [])):
                if isinstance(policy, dict) and "Statement" in policy:
                    documents.append((logical_id, policy))
    return documents


# Actions IAM knows no resource of: granted on "*", alone in their statement.
RESOURCELESS_ACTIONS = {"ecr:GetAuthorizationToken"}


@pytest.mark.parametrize("variant", ["synthesized", "ws_synthesized"])
def test_no_policy_allows_everything_or_anything_on_everything(variant: str, request: pytest.FixtureRequest) -> None:
    synthesis: Synthesis = request.getfixturevalue(variant)
    documents = _policy_documents(synthesis.template)
    assert documents, "no IAM policy found"
    for logical_id, document in documents:
        for statement in document["Statement"]:
            if statement.get("Effect") != "Allow":
                continue
            actions = _as_list(statement.get("Action", []))
            resources = _as_list(statement.get("Resource", []))
            assert "NotAction" not in statement and "NotResource" not in statement, logical_id
            assert not [a for a in actions if a == "*" or str(a).endswith(":*")], (logical_id, actions)
            if "*" in resources and "cloudwatch:PutMetricData" in actions:
                # An action without resource-level permissions, held to the service's namespace.
                assert actions == list(stack_module.METRIC_DATA_ACTIONS), (logical_id, statement)
                assert set(statement["Condition"]) == {"StringEquals"}, (logical_id, statement)
                assert set(statement["Condition"]["StringEquals"]) == {"cloudwatch:namespace"}, (logical_id, statement)
            elif not set(actions) <= RESOURCELESS_ACTIONS:
                assert "*" not in resources, (logical_id, statement)


def _grants(synthesis: Synthesis, role_prefix: str) -> dict[str, set[str]]:
    """Action -> the resources (as JSON text) a role's policies grant it on."""
    policies = synthesis.resources("AWS::IAM::Policy").values()
    grants: dict[str, set[str]] = {}
    for policy in policies:
        roles = [ref["Ref"] for ref in policy["Properties"]["Roles"]]
        if not any(role.startswith(role_prefix) for role in roles):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            for action in _as_list(statement["Action"]):
                for resource in _as_list(statement["Resource"]):
                    grants.setdefault(action, set()).add(json.dumps(resource, sort_keys=True))
    return grants


def _statements(synthesis: Synthesis, role_prefix: str, action: str) -> list[dict[str, Any]]:
    """The statements of a role's policies that allow ``action``."""
    found = []
    for policy in synthesis.resources("AWS::IAM::Policy").values():
        if any(ref["Ref"].startswith(role_prefix) for ref in policy["Properties"]["Roles"]):
            statements = policy["Properties"]["PolicyDocument"]["Statement"]
            found += [s for s in statements if action in _as_list(s["Action"])]
    return found


def _logical_id(synthesis: Synthesis, kind: str, name_key: str, name: str) -> str:
    for logical_id, resource in synthesis.resources(kind).items():
        if resource["Properties"][name_key] == name:
            return logical_id
    raise AssertionError(f"no {kind} named {name}")


def test_runner_role_has_exactly_what_a_runner_needs(synthesized: Synthesis) -> None:
    settings = Settings(stage=synthesized.stage)
    grants = _grants(synthesized, "RunnerRole")
    queue = json.dumps(
        {"Fn::GetAtt": [_logical_id(synthesized, "AWS::SQS::Queue", "QueueName", settings.job_queue), "Arn"]}
    )
    tables = [
        json.dumps({"Fn::GetAtt": [logical_id, "Arn"]}, sort_keys=True)
        for logical_id in synthesized.resources("AWS::DynamoDB::Table")
    ]
    slot_table = json.dumps(
        {
            "Fn::GetAtt": [
                _logical_id(synthesized, "AWS::DynamoDB::Table", "TableName", f"{synthesized.stage}-slipway-slots"),
                "Arn",
            ]
        },
        sort_keys=True,
    )
    bucket = _logical_id(synthesized, "AWS::S3::Bucket", "BucketName", settings.logs_bucket)
    bucket_objects = json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/*"]]}, sort_keys=True)

    by_resource: dict[str, set[str]] = {}
    for action, resources in grants.items():
        for resource in resources:
            by_resource.setdefault(resource, set()).add(action)
    notifications = json.dumps(
        {"Fn::GetAtt": [_logical_id(synthesized, "AWS::SQS::Queue", "QueueName", settings.notifications_queue), "Arn"]}
    )
    control_queues = [r for r in by_resource if f":{settings.control_queue('')}*" in r]
    indexes = [r for r in by_resource if "/index/*" in r]
    assert len(control_queues) == 1
    assert len(indexes) == len([m for m in ALL_MODELS if m._indexes])
    expected = {
        queue: {
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:SendMessage",
            "sqs:GetQueueUrl",
        },
        # The runner makes its own control queue, receives stop requests on it, and sends them to others.
        control_queues[0]: {
            "sqs:CreateQueue",
            "sqs:GetQueueUrl",
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:SendMessage",
        },
        # It publishes execution events; the notifications handler delivers them.
        notifications: {"sqs:SendMessage", "sqs:GetQueueUrl"},
        **{
            table: {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:PutItem"} for table in tables
        },
        **{index: {"dynamodb:Query"} for index in indexes},
        bucket_objects: {"s3:PutObject", "s3:GetObject"},
    }
    # Only the slots table may have items deleted: a runner gives back the slots it held.
    expected[slot_table] = expected[slot_table] | {"dynamodb:DeleteItem"}
    # The runner posts live log lines to the WebSocket viewers and closes them at the end.
    expected |= {r: {"execute-api:ManageConnections"} for r in by_resource if "/@connections/*" in r}
    # It reads the secrets that jobs' env vars may reference (settings.env_secret_ref_patterns), only those.
    expected |= {r: {"secretsmanager:GetSecretValue"} for r in by_resource if ":secret:slipway/*" in r}
    expected |= {r: {"ssm:GetParameter"} for r in by_resource if ":parameter/slipway/*" in r}
    # It sends its metrics (PutMetricData has no resource-level permissions: see below) and asks
    # ECR for registry tokens (a call on no resource); it pulls from any repository by default.
    expected[json.dumps("*")] = {"cloudwatch:PutMetricData", "ecr:GetAuthorizationToken"}
    any_repository = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":ecr:*:*:repository/*"]]}
    expected[json.dumps(any_repository, sort_keys=True)] = {
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchCheckLayerAvailability",
    }
    assert by_resource == expected
    [metric_data] = _statements(synthesized, "RunnerRole", "cloudwatch:PutMetricData")
    assert metric_data["Resource"] == "*"
    assert metric_data["Condition"] == {"StringEquals": {"cloudwatch:namespace": settings.metrics_namespace}}
    # ... and the Lambdas write EMF lines: their role may not call it.
    assert _statements(synthesized, "ApiFunctionRole", "cloudwatch:PutMetricData") == []
    template = Template.from_json(synthesized.template)
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [Match.object_like({"Principal": {"Service": "ec2.amazonaws.com"}})]
            },
            "Description": Match.string_like_regexp("runner"),
        },
    )
    template.has_resource_properties(
        "AWS::IAM::InstanceProfile", {"Roles": [{"Ref": Match.string_like_regexp("^RunnerRole")}]}
    )


def test_lambda_functions_run_under_the_stack_role_with_the_stage_environment(synthesized: Synthesis) -> None:
    functions = synthesized.resources("AWS::Serverless::Function")
    assert functions
    role = next(
        logical_id for logical_id in synthesized.resources("AWS::IAM::Role") if logical_id.startswith("ApiFunctionRole")
    )
    for function in functions.values():
        properties = function["Properties"]
        assert properties["Role"] == {"Fn::GetAtt": [role, "Arn"]}
        variables = properties["Environment"]["Variables"]
        assert variables["SLIPWAY_STAGE"] == synthesized.stage
        assert variables["SLIPWAY_RUNNER_CONCURRENCY"] == CONTEXT["runner_concurrency"]
        # The functions keep the default sink: EMF lines, which their log groups turn into metrics.
        assert "SLIPWAY_METRICS_SINK" not in variables
    grants = _grants(synthesized, "ApiFunctionRole")
    settings = Settings(stage=synthesized.stage)
    notifications = json.dumps(
        {"Fn::GetAtt": [_logical_id(synthesized, "AWS::SQS::Queue", "QueueName", settings.notifications_queue), "Arn"]}
    )
    # Only the notifications handler receives, and only from its own queue.
    assert grants["sqs:ReceiveMessage"] == {notifications}
    assert "s3:PutObject" not in grants
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "sqs:SendMessage"} <= set(
        grants
    )


def test_the_notifications_handler_reads_its_queue_with_partial_batch_failures(synthesized: Synthesis) -> None:
    settings = Settings(stage=synthesized.stage)
    queue_id = _logical_id(synthesized, "AWS::SQS::Queue", "QueueName", settings.notifications_queue)
    dlq_id = _logical_id(synthesized, "AWS::SQS::Queue", "QueueName", settings.notifications_dead_letter_queue)
    functions = synthesized.resources("AWS::Serverless::Function")
    [source] = [
        event["Properties"]
        for function in functions.values()
        for event in (function["Properties"].get("Events") or {}).values()
        if event["Type"] == "SQS"
    ]
    assert source["Queue"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["BatchSize"] == 10
    grants = _grants(synthesized, "ApiFunctionRole")
    queue, dlq = (json.dumps({"Fn::GetAtt": [i, "Arn"]}) for i in (queue_id, dlq_id))
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:SendMessage"):
        assert queue in grants[action], action
    assert dlq in grants["sqs:SendMessage"]
    [table] = [
        logical_id
        for logical_id, table in synthesized.resources("AWS::DynamoDB::Table").items()
        if table["Properties"]["TableName"].endswith("-slipway-delivery-idempotency")
    ]
    # The delivery records' table; the API's idempotency table is the only other one it may delete from.
    idempotency = _logical_id(synthesized, "AWS::DynamoDB::Table", "TableName", settings.idempotency_table)
    assert grants["dynamodb:DeleteItem"] == {json.dumps({"Fn::GetAtt": [t, "Arn"]}) for t in (table, idempotency)}
    # SMTP by default: no SES permission unless the stage sends through SES.
    assert "ses:SendRawEmail" not in grants


def test_ecr_pulls_may_be_restricted_to_named_repositories(ws_synthesized: Synthesis) -> None:
    grants = _grants(ws_synthesized, "RunnerRole")

    assert grants["ecr:GetAuthorizationToken"] == {json.dumps("*")}
    named = json.dumps(
        {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":ecr:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                    ":repository/team/*",
                ],
            ]
        },
        sort_keys=True,
    )
    pinned = json.dumps(WS_ECR_REPOSITORY)
    for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"):
        assert grants[action] == {named, pinned}, action


def test_websocket_handlers_may_manage_their_connections(ws_synthesized: Synthesis) -> None:
    grants = _grants(ws_synthesized, "ApiFunctionRole")
    [resource] = grants["execute-api:ManageConnections"]
    assert "WebsocketAPI" in resource and f"/{WS_API_STAGE}/*/@connections/*" in resource


# -- outputs and the front door -------------------------------------------------------------


def _websocket_declared(synthesis: Synthesis) -> bool:
    return bool(synthesis.resources("AWS::ApiGatewayV2::Api"))


def _behaviors(synthesis: Synthesis) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    [distribution] = synthesis.resources("AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    return config, config.get("CacheBehaviors", [])


def test_outputs_of_the_real_app(synthesized: Synthesis) -> None:
    outputs = synthesized.template["Outputs"]
    for name in ("ApiUrl", "FrontDoorUrl", "RunnerEnvironment", "RunnerRoleArn", "RunnerInstanceProfileName"):
        assert name in outputs
    environment = json.dumps(outputs["RunnerEnvironment"]["Value"])
    assert f"SLIPWAY_STAGE={synthesized.stage}" in environment
    assert f"SLIPWAY_RUNNER_CONCURRENCY={CONTEXT['runner_concurrency']}" in environment
    assert "AWS_DEFAULT_REGION=" in environment
    # The runners send their metrics with PutMetricData: nothing reads their stdout for EMF.
    assert "SLIPWAY_METRICS_SINK=cloudwatch" in environment
    # The app may or may not declare WebSocket handlers yet: the stack follows it.
    assert ("WebSocketUrl" in outputs) == _websocket_declared(synthesized)
    config, behaviors = _behaviors(synthesized)
    assert bool(behaviors) == _websocket_declared(synthesized)
    [rest_origin] = [o for o in config["Origins"] if o["Id"] == config["DefaultCacheBehavior"]["TargetOriginId"]]
    assert rest_origin["OriginPath"] == "/api"
    assert "RestAPI" in json.dumps(rest_origin["DomainName"])
    [rest_api] = synthesized.resources("AWS::Serverless::Api").values()
    assert rest_api["Properties"]["EndpointConfiguration"] == "REGIONAL"


def test_front_door_routes_websocket_paths_through_the_rewrite(ws_synthesized: Synthesis) -> None:
    outputs = ws_synthesized.template["Outputs"]
    assert "WebSocketUrl" in outputs
    assert outputs["FrontDoorWebSocketUrl"]["Value"] == f"wss://{WS_DOMAIN}/tasks/{{taskId}}/jobs/{{jobId}}/ws/"
    config, behaviors = _behaviors(ws_synthesized)
    assert sorted(b["PathPattern"] for b in behaviors) == sorted(stack_module.WS_PATH_PATTERNS)
    functions = ws_synthesized.resources("AWS::CloudFront::Function")
    [(ws_function_id, ws_function)] = [(k, f) for k, f in functions.items() if k.startswith("WsPathFunction")]
    assert f"var STAGE_PATH = '/{WS_API_STAGE}';" in ws_function["Properties"]["FunctionCode"]
    assert ws_function["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    origins = {o["Id"]: o for o in config["Origins"]}
    for behavior in behaviors:
        origin = origins[behavior["TargetOriginId"]]
        assert "WebsocketAPI" in json.dumps(origin["DomainName"])
        assert "OriginPath" not in origin or origin["OriginPath"] == ""
        assert behavior["FunctionAssociations"] == [
            {"EventType": "viewer-request", "FunctionARN": {"Fn::GetAtt": [ws_function_id, "FunctionARN"]}}
        ]
    assert config["Aliases"] == [WS_DOMAIN]
    assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    records = ws_synthesized.resources("AWS::Route53::RecordSet").values()
    assert {r["Properties"]["Type"] for r in records} == {"A", "AAAA"}
    variables = next(iter(ws_synthesized.resources("AWS::Serverless::Function").values()))["Properties"]["Environment"]
    assert variables["Variables"]["SLIPWAY_PUBLIC_URL"] == f"https://{WS_DOMAIN}"


def test_ws_function_code_substitutes_the_stage() -> None:
    code = stack_module.ws_function_code("/prod")
    assert "var STAGE_PATH = '/prod';" in code and "var STAGE_PATH = '/api';" not in code
    with pytest.raises(ValueError):
        stack_module.ws_function_code("/bad'stage")


@pytest.mark.parametrize("variant", ["synthesized", "ws_synthesized"])
def test_no_function_keeps_the_packaging_placeholder_role(variant: str, request: pytest.FixtureRequest) -> None:
    synthesis: Synthesis = request.getfixturevalue(variant)
    assert stack_module.PLACEHOLDER_ROLE_ARN not in json.dumps(synthesis.template)
    template = Template.from_json(synthesis.template)
    template.resource_count_is("AWS::CloudFront::Distribution", 1)


def test_live_logs_wiring_of_the_real_app(synthesized: Synthesis) -> None:
    # The runner posts to the viewers: it may manage the connections and knows the endpoint.
    assert _websocket_declared(synthesized)
    [resource] = _grants(synthesized, "RunnerRole")["execute-api:ManageConnections"]
    assert "WebsocketAPI" in resource and "/@connections/*" in resource
    environment = json.dumps(synthesized.template["Outputs"]["RunnerEnvironment"]["Value"])
    assert "SLIPWAY_WS_MANAGEMENT_URL=https://" in environment
    # $connect replays a finished execution's log through the ws_replay Lambda, asynchronously.
    functions = synthesized.resources("AWS::Serverless::Function")
    [replay_id] = [logical_id for logical_id in functions if logical_id.lower().startswith("wsreplay")]
    wired = [
        f["Properties"]["Environment"]["Variables"].get("SLIPWAY_WS_REPLAY_FUNCTION")
        for logical_id, f in functions.items()
        if logical_id != replay_id
    ]
    assert wired and all(value == {"Ref": replay_id} for value in wired)
    assert "lambda:InvokeFunction" in _grants(synthesized, "ApiFunctionRole")
