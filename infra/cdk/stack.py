"""The AWS stack of one Slipway deployment (one stage).

- the Chalice app (REST API, the dispatcher's schedule and any WebSocket handlers), packaged by
  ``chalice package`` through the ``chalice.cdk`` construct, running under a role made here;
- the DynamoDB tables, read from the PynamoDB models (``infra/tables.py``);
- the SQS queues and their dead-letter queues, from ``chalicelib.resources.queue_specs``;
- the S3 log bucket(s), from ``chalicelib.resources.bucket_names``;
- least-privilege IAM: one role for the Lambda functions, one role + instance profile for the
  Docker hosts that run ``python -m runner``;
- one front door: a CloudFront distribution in front of the REST API and the WebSocket API
  (with ``front_door_only``, the only way in: it sends a secret header the app checks);
- abuse limits and alarms: stage throttling and a usage plan (per key), CloudWatch alarms on both
  dead-letter queues and on every function's errors, to an SNS topic.

A stage without authentication is refused unless the operator says otherwise
(``infra.cdk.config.public_api_warning``).

Every name comes from ``chalicelib.settings.Settings`` (through ``DeployConfig``), so the
deployed service finds its resources with nothing more than ``SLIPWAY_STAGE``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aws_cdk import Annotations, Aws, CfnOutput, CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib.resources import bucket_names, job_queue_names, queue_specs
from chalicelib.settings import FRONT_DOOR_HEADER, Settings
from infra.cdk import local_emulator
from infra.cdk.config import DeployConfig, public_api_warning, settings_environment
from infra.cdk.monitoring import ServiceMonitoring
from infra.tables import IndexSpec, KeyAttribute, TableSpec, table_specs

if TYPE_CHECKING:
    from pynamodb.models import Model

FUNCTIONS_DIR = Path(__file__).resolve().parent / "functions"
# Chalice packages the Lambda functions with this role ARN, replaced below by the role made here.
PLACEHOLDER_ROLE_ARN = "arn:aws:iam::000000000000:role/slipway-replaced-by-cdk"
# The line of ws_path.js that holds the API Gateway stage path.
_STAGE_LINE = re.compile(r"^var STAGE_PATH = '[^']*';$", re.MULTILINE)

# CloudFront path patterns of the documented WebSocket paths (see functions/ws_path.js).
WS_PATH_PATTERNS = (
    "/tasks/*/jobs/*/ws/",
    "/tasks/*/jobs/*/ws",
    "/tasks/*/job/*/ws/",
    "/tasks/*/job/*/ws",
)

# Settings the runners do not get (the API's credentials, the mail settings: runners send none).
RUNNER_EXCLUDED_PREFIXES = ("SLIPWAY_AUTH_", "SLIPWAY_SMTP_")
# What a runner calls to read the secrets a job's env vars reference (env_secret_ref_patterns).
SECRET_REF_ACTIONS = {"secretsmanager": ("secretsmanager:GetSecretValue",), "ssm": ("ssm:GetParameter",)}
# Powertools removes the record of a failed idempotent enqueue so its key can be used again.
IDEMPOTENCY_TABLE_ACTIONS_API = ("dynamodb:DeleteItem",)
# A runner pulls from ECR with a token it asks for itself (runner/registry_auth.py): the token
# call takes no resource; the pull rights are on the repositories (``ecr_repositories``).
ECR_TOKEN_ACTIONS = ("ecr:GetAuthorizationToken",)
ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")

# What each role may do; every action is granted on named ARNs only.
TABLE_ACTIONS_API = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query")
# The health check describes a table.
TABLE_ACTIONS_API_EXTRA = ("dynamodb:DescribeTable",)
TABLE_ACTIONS_RUNNER = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query")
# A runner gives back the pool/task concurrency slots it held (conditional deletes of its leases).
SLOT_TABLE_ACTIONS_RUNNER = ("dynamodb:DeleteItem",)
JOB_QUEUE_ACTIONS_API = ("sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes")
# /status/ reads the length of the dead-letter queue.
DEAD_LETTER_ACTIONS_API = ("sqs:GetQueueUrl", "sqs:GetQueueAttributes")
JOB_QUEUE_ACTIONS_RUNNER = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:SendMessage",
    "sqs:GetQueueUrl",
)
# Control queues (one per runner host, made by the runner itself: chalicelib.adapters.control).
CONTROL_QUEUE_ACTIONS_API = ("sqs:GetQueueUrl", "sqs:SendMessage")
CONTROL_QUEUE_ACTIONS_RUNNER = (
    "sqs:CreateQueue",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:SendMessage",
)
BUCKET_OBJECT_ACTIONS_API = ("s3:GetObject",)
# HeadBucket (health check) is authorized by s3:ListBucket on the bucket.
BUCKET_ACTIONS_API = ("s3:ListBucket",)
BUCKET_OBJECT_ACTIONS_RUNNER = ("s3:PutObject", "s3:GetObject")
# The notifications consumer (a Chalice SQS handler): what the event source mapping needs, plus
# sending retries back to the queue and parked deliveries to its dead-letter queue.
NOTIFICATIONS_QUEUE_ACTIONS_API = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:SendMessage",
)
NOTIFICATIONS_DLQ_ACTIONS_API = ("sqs:GetQueueUrl", "sqs:SendMessage")
NOTIFICATIONS_QUEUE_ACTIONS_RUNNER = ("sqs:GetQueueUrl", "sqs:SendMessage")
# Powertools idempotency deletes the record of an attempt that raised, so it can run again.
IDEMPOTENCY_TABLE_ACTIONS_API = ("dynamodb:DeleteItem",)
SES_ACTIONS = ("ses:SendRawEmail",)
# The runner sends its metrics with PutMetricData (its stdout is no log group's: see
# chalicelib/adapters/cloudwatch_metrics.py). The action has no resource-level permissions, so it
# is granted on "*" under a condition: the service's own namespace only.
METRIC_DATA_ACTIONS = ("cloudwatch:PutMetricData",)
# The sink the stack gives the runners (the Lambdas keep metrics_sink, EMF on stdout by default).
RUNNER_METRICS_SINK = "cloudwatch"
# Logical ids chalice package gives the handler ``@app.on_sqs_message(name="notifications")``.
NOTIFICATIONS_FUNCTION = "Notifications"
# Chalice names the dispatcher's scheduled Lambda after its function name (app.py).
DISPATCHER_FUNCTION = "Dispatcher"
NOTIFICATIONS_EVENT_SOURCE = "NotificationsSqsEventSource"
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
WEBSOCKET_ACTIONS = ("execute-api:ManageConnections",)


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def _attribute(key: KeyAttribute) -> dynamodb.Attribute:
    types = {
        "S": dynamodb.AttributeType.STRING,
        "N": dynamodb.AttributeType.NUMBER,
        "B": dynamodb.AttributeType.BINARY,
    }
    return dynamodb.Attribute(name=key.name, type=types[key.type])


def _projection(index: IndexSpec) -> dynamodb.ProjectionType:
    return {
        "ALL": dynamodb.ProjectionType.ALL,
        "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
        "INCLUDE": dynamodb.ProjectionType.INCLUDE,
    }[index.projection]


def ws_function_code(stage_path: str) -> str:
    """The source of functions/ws_path.js, rewriting to ``stage_path`` (e.g. ``/api``)."""
    source = (FUNCTIONS_DIR / "ws_path.js").read_text()
    if not re.fullmatch(r"/[A-Za-z0-9_-]+", stage_path):
        raise ValueError(f"not an API Gateway stage path: {stage_path!r}")
    code, count = _STAGE_LINE.subn(f"var STAGE_PATH = '{stage_path}';", source)
    if count != 1:
        raise ValueError("functions/ws_path.js must hold exactly one `var STAGE_PATH = '...';` line")
    return code


def chalice_api_stage(project_dir: Path, stage: str) -> str:
    """The API Gateway stage name the Chalice config gives ``stage`` (Chalice's default: api)."""
    config_path = project_dir / ".chalice" / "config.json"
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    stage_config = config.get("stages", {}).get(stage, {})
    return str(stage_config.get("api_gateway_stage") or config.get("api_gateway_stage") or "api")


def runner_metrics_sink(settings: Settings) -> str:
    """Where the runners' metrics go: CloudWatch's API, unless metrics are off altogether."""
    return "off" if settings.metrics_sink == "off" else RUNNER_METRICS_SINK


class SlipwayStack(Stack):
    """One stage of Slipway. The construct id must be the stage: Chalice takes its stage from it."""

    def __init__(
        self,
        scope: Construct,
        *,
        config: DeployConfig,
        project_dir: Path,
        models: Sequence[type[Model]] | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(
            scope,
            config.stage,
            stack_name=config.stack_name,
            description=f"Slipway container-job service, stage {config.stage}",
            **kwargs,  # type: ignore[arg-type]
        )
        self.config = config
        self.settings = config.settings
        self.project_dir = project_dir
        self._check_secrets_stay_secret()
        warning = public_api_warning(config)  # raises for a public stage nobody asked for
        if warning is not None:
            print(warning, file=sys.stderr)
            Annotations.of(self).add_warning(warning)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY

        if models is None:
            from chalicelib.adapters.models import ALL_MODELS

            models = ALL_MODELS
        self.table_specs = table_specs(list(models), self.settings)
        self.tables = {spec.model_name: self._table(spec, removal) for spec in self.table_specs}
        self.queues = self._queues(removal)
        self.buckets = [self._bucket(name, removal) for name in bucket_names(self.settings)]

        self.api_role = iam.Role(
            self,
            "ApiFunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Slipway {config.stage}: the Chalice app's Lambda functions",
        )
        self.runner_role = iam.Role(
            self,
            "RunnerRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"Slipway {config.stage}: the Docker hosts that run `python -m runner`",
        )
        self.runner_profile = iam.InstanceProfile(self, "RunnerInstanceProfile", role=self.runner_role)

        self.api_stage = chalice_api_stage(project_dir, config.stage)
        self.emulator = (
            local_emulator.EmulatorTarget(config.options.local_emulator, config.stage, self.api_stage)
            if config.options.local_emulator
            else None
        )
        self.chalice = self._chalice_app()
        self.resources = {
            child.node.id: child for child in self.chalice.sam_template.node.children if isinstance(child, CfnResource)
        }
        self.rest_api = self.resources.get("RestAPI")
        self.websocket_api = self.resources.get("WebsocketAPI")
        if self.emulator is not None:
            local_emulator.adapt(self.chalice.sam_template, self.emulator, self.rest_api, self.websocket_api)
        self.front_door_secret = (
            secretsmanager.Secret(
                self,
                "FrontDoorSecret",
                description=f"Slipway {config.stage}: the header CloudFront sends, which the API checks",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    exclude_punctuation=True, password_length=48
                ),
            )
            if config.front_door_only
            else None
        )
        self._use_api_role()
        self._wire_replay_function()
        self._wire_notifications_source()
        self._wire_front_door_secret()
        self._grant_api()
        self._grant_runner()
        self.monitoring = self._monitoring()
        self.distribution = self._front_door()
        self._throttle()
        self.alarm_topic = self._alarms()
        self._outputs()

    # -- data ------------------------------------------------------------------------------

    def _table(self, spec: TableSpec, removal: RemovalPolicy) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            f"Table{spec.model_name}",
            table_name=spec.table_name,
            partition_key=_attribute(spec.partition_key),
            sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=spec.point_in_time_recovery
            ),
            time_to_live_attribute=spec.ttl_attribute,
            removal_policy=removal,
        )
        for index in spec.global_indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key) if index.sort_key else None,
                projection_type=_projection(index),
                non_key_attributes=list(index.non_key_attributes) or None,
            )
        for index in spec.local_indexes:
            if index.sort_key is None:
                raise ValueError(f"{spec.model_name}: local index {index.name} needs a range key")
            table.add_local_secondary_index(
                index_name=index.name,
                sort_key=_attribute(index.sort_key),
                projection_type=_projection(index),
                non_key_attributes=list(index.non_key_attributes) or None,
            )
        return table

    def _queues(self, removal: RemovalPolicy) -> dict[str, sqs.Queue]:
        queues: dict[str, sqs.Queue] = {}
        prefix = f"{self.settings.stage}-"
        for spec in queue_specs(self.settings):
            dead_letter = None
            if spec.dead_letter:
                dead_letter = sqs.DeadLetterQueue(
                    queue=queues[spec.dead_letter], max_receive_count=spec.max_receive_count
                )
            queues[spec.name] = sqs.Queue(
                self,
                f"Queue{_camel(spec.name.removeprefix(prefix))}",
                queue_name=spec.name,
                visibility_timeout=Duration.seconds(spec.visibility_timeout),
                retention_period=Duration.seconds(spec.retention_seconds),
                dead_letter_queue=dead_letter,
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                removal_policy=removal,
            )
        return queues

    def _bucket(self, name: str, removal: RemovalPolicy) -> s3.Bucket:
        prefix = f"{self.settings.stage}-"
        return s3.Bucket(
            self,
            f"Bucket{_camel(name.removeprefix(prefix))}",
            bucket_name=name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-execution-logs",
                    enabled=True,
                    expiration=Duration.days(self.config.log_expiry_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal,
        )

    # -- the Chalice app -------------------------------------------------------------------

    def lambda_environment(self) -> dict[str, str]:
        env = settings_environment(self.settings)
        if self.config.options.domain_name and not self.settings.public_url:
            env["SLIPWAY_PUBLIC_URL"] = f"https://{self.config.options.domain_name}"
        if not self.settings.trusted_forwarded_hosts:
            # The front door's own host (its domain is not known before the distribution exists,
            # and naming it here would make the functions depend on the distribution).
            env["SLIPWAY_TRUSTED_FORWARDED_HOSTS"] = "*.cloudfront.net"
        if self.emulator is not None:
            env = {**self.emulator.lambda_environment(), **env}
        return env

    def _chalice_app(self) -> Chalice:
        stage_config = {
            "api_gateway_stage": self.api_stage,
            # CloudFront is the front door: an edge-optimized API would put a second one behind it.
            "api_gateway_endpoint_type": "REGIONAL",
            "autogen_policy": False,
            "manage_iam_role": False,
            "iam_role_arn": PLACEHOLDER_ROLE_ARN,
            "environment_variables": self.lambda_environment(),
        }
        if self.settings.gzip_min_bytes >= 0:
            # API Gateway gzips answers of at least this size for clients that accept it.
            stage_config["minimum_compression_size"] = self.settings.gzip_min_bytes
        return Chalice(self, "ChaliceApp", source_dir=str(self.project_dir), stage_config=stage_config)

    @property
    def functions(self) -> list[CfnResource]:
        return [r for r in self.resources.values() if r.cfn_resource_type == "AWS::Serverless::Function"]

    def _use_api_role(self) -> None:
        if not self.functions:
            raise RuntimeError("chalice package produced no Lambda function")
        for function in self.functions:
            function.add_property_override("Role", self.api_role.role_arn)

    def _wire_notifications_source(self) -> None:
        """The Chalice SQS handler's event source reads the queue made here: by reference (so
        CloudFormation makes the queue first) and with partial batch responses, which
        ``chalicelib.services.notifications.handle_batch`` returns (``batchItemFailures``)."""
        function = self.resources.get(NOTIFICATIONS_FUNCTION)
        if function is None:  # an app without the handler (the deployment tests' small app)
            return
        prefix = f"Events.{NOTIFICATIONS_EVENT_SOURCE}.Properties"
        function.add_property_override(f"{prefix}.Queue", self.notifications_queue.queue_arn)
        function.add_property_override(f"{prefix}.FunctionResponseTypes", ["ReportBatchItemFailures"])

    def _check_secrets_stay_secret(self) -> None:
        """The SMTP password would sit in the template and the functions' environment: refused,
        the operator names a Secrets Manager secret instead (read by the functions at use)."""
        if self.settings.smtp_password:
            raise ValueError(
                "smtp_password would be written into the template and the Lambda environment: "
                "put it in Secrets Manager and set smtp_password_secret to its ARN (or use mail_transport=ses)"
            )

    def _front_door_value(self) -> str:
        """A dynamic reference to the front door's secret: resolved by CloudFormation at deploy,
        so the value is in neither the template nor any output."""
        assert self.front_door_secret is not None
        return self.front_door_secret.secret_value.unsafe_unwrap()

    def _wire_front_door_secret(self) -> None:
        if self.front_door_secret is None:
            return
        for function in self.functions:
            function.add_property_override(
                "Environment.Variables.SLIPWAY_AUTH_FRONT_DOOR_SECRET", self._front_door_value()
            )

    # -- IAM -------------------------------------------------------------------------------

    def _table_arns(self) -> list[str]:
        return [table.table_arn for table in self.tables.values()]

    def _index_arns(self) -> list[str]:
        arns = []
        for spec in self.table_specs:
            if spec.global_indexes or spec.local_indexes:
                arns.append(f"{self.tables[spec.model_name].table_arn}/index/*")
        return arns

    def _control_queue_arn(self) -> str:
        prefix = self.settings.control_queue("")
        return f"arn:{Aws.PARTITION}:sqs:{Aws.REGION}:{Aws.ACCOUNT_ID}:{prefix}*"

    @property
    def job_queue(self) -> sqs.Queue:
        return self.queues[self.settings.job_queue]

    @property
    def job_queue_arns(self) -> list[str]:
        """Every pool's job queue (the default pool's is ``job_queue``)."""
        return [self.queues[name].queue_arn for name in job_queue_names(self.settings)]

    @property
    def notifications_queue(self) -> sqs.Queue:
        return self.queues[self.settings.notifications_queue]

    @property
    def notifications_dead_letter_queue(self) -> sqs.Queue:
        return self.queues[self.settings.notifications_dead_letter_queue]

    def _grant(self, role: iam.Role, actions: Sequence[str], resources: Sequence[str]) -> None:
        if resources:
            role.add_to_policy(iam.PolicyStatement(actions=sorted(actions), resources=list(resources)))

    def _grant_api(self) -> None:
        role = self.api_role
        self._grant(role, TABLE_ACTIONS_API + TABLE_ACTIONS_API_EXTRA, self._table_arns())
        self._grant(role, ("dynamodb:Query",), self._index_arns())
        if "IdempotencyModel" in self.tables:
            self._grant(role, IDEMPOTENCY_TABLE_ACTIONS_API, [self.tables["IdempotencyModel"].table_arn])
        self._grant(role, JOB_QUEUE_ACTIONS_API, self.job_queue_arns)
        self._grant(role, DEAD_LETTER_ACTIONS_API, [self.queues[self.settings.job_dead_letter_queue].queue_arn])
        self._grant(role, CONTROL_QUEUE_ACTIONS_API, [self._control_queue_arn()])
        self._grant(role, NOTIFICATIONS_QUEUE_ACTIONS_API, [self.notifications_queue.queue_arn])
        self._grant(role, NOTIFICATIONS_DLQ_ACTIONS_API, [self.notifications_dead_letter_queue.queue_arn])
        self._grant(role, IDEMPOTENCY_TABLE_ACTIONS_API, [self.tables["DeliveryIdempotencyModel"].table_arn])
        if self.settings.metrics_sink == "cloudwatch":
            # Functions told to call PutMetricData rather than write EMF lines may.
            self._grant_metric_data(role)
        if self.settings.mail_transport == "ses":
            identities = f"arn:{Aws.PARTITION}:ses:{Aws.REGION}:{Aws.ACCOUNT_ID}:identity/*"
            self._grant(role, SES_ACTIONS, [identities])
        self._grant(role, BUCKET_OBJECT_ACTIONS_API, [b.arn_for_objects("*") for b in self.buckets])
        self._grant(role, BUCKET_ACTIONS_API, [b.bucket_arn for b in self.buckets])
        log_groups = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/lambda/{self.stack_name}-*"
        self._grant(role, LOG_ACTIONS, [log_groups, f"{log_groups}:log-stream:*"])
        if self.websocket_api is not None:
            # POST (send), GET (look up) and DELETE (close) on the stage's @connections.
            connections = (
                f"arn:{Aws.PARTITION}:execute-api:{Aws.REGION}:{Aws.ACCOUNT_ID}:"
                f"{self.websocket_api.ref}/{self.api_stage}/*/@connections/*"
            )
            self._grant(role, WEBSOCKET_ACTIONS, [connections])
        if self.settings.smtp_password_secret:
            self._grant(role, ("secretsmanager:GetSecretValue",), [self.settings.smtp_password_secret])
        replay = self._replay_function()
        if replay is not None:
            # The $connect handler invokes it asynchronously for a finished execution's log.
            self._grant(role, ("lambda:InvokeFunction",), [replay.get_att("Arn").to_string()])

    def _ws_connections_arn(self) -> str:
        assert self.websocket_api is not None
        return (
            f"arn:{Aws.PARTITION}:execute-api:{Aws.REGION}:{Aws.ACCOUNT_ID}:"
            f"{self.websocket_api.ref}/{self.api_stage}/*/@connections/*"
        )

    def _replay_function(self) -> CfnResource | None:
        """The app's ``ws_replay`` Lambda (Chalice names its resource after the function)."""
        return next((r for r in self.functions if r.node.id.lower().replace("_", "") == "wsreplay"), None)

    def _wire_replay_function(self) -> None:
        replay = self._replay_function()
        if replay is None:
            return
        for function in self.functions:
            if function is not replay:
                function.add_property_override("Environment.Variables.SLIPWAY_WS_REPLAY_FUNCTION", replay.ref)

    def _grant_metric_data(self, role: iam.Role) -> None:
        """``PutMetricData``, in the service's namespace only (``cloudwatch:namespace``)."""
        role.add_to_policy(
            iam.PolicyStatement(
                actions=list(METRIC_DATA_ACTIONS),
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": self.settings.metrics_namespace}},
            )
        )

    def _grant_runner(self) -> None:
        role = self.runner_role
        if runner_metrics_sink(self.settings) == "cloudwatch":
            self._grant_metric_data(role)
        # One role for every host: a runner polls its own pool's queue, and hands messages back to it.
        self._grant(role, JOB_QUEUE_ACTIONS_RUNNER, self.job_queue_arns)
        self._grant(role, CONTROL_QUEUE_ACTIONS_RUNNER, [self._control_queue_arn()])
        self._grant(role, NOTIFICATIONS_QUEUE_ACTIONS_RUNNER, [self.notifications_queue.queue_arn])
        self._grant(role, TABLE_ACTIONS_RUNNER, self._table_arns())
        self._grant(role, SLOT_TABLE_ACTIONS_RUNNER, [self.tables["SlotModel"].table_arn])
        self._grant(role, ("dynamodb:Query",), self._index_arns())
        self._grant(role, BUCKET_OBJECT_ACTIONS_RUNNER, [b.arn_for_objects("*") for b in self.buckets])
        if self.websocket_api is not None:
            # The runner posts log batches to the viewers and closes them at the end.
            self._grant(role, WEBSOCKET_ACTIONS, [self._ws_connections_arn()])
        for service, actions in SECRET_REF_ACTIONS.items():
            # The secrets jobs may reference, and only those (chalicelib/domain/secret_refs.py).
            arns = [self._secret_ref_arn(p) for p in self.settings.env_secret_ref_patterns if f":{service}:" in p]
            self._grant(role, actions, arns)

        registry_secrets = self._registry_secret_arns()
        if registry_secrets:
            # Private registries' credentials, read at pull time (runner/registry_auth.py).
            self._grant(role, ("secretsmanager:GetSecretValue",), registry_secrets)
        self._grant(role, ECR_TOKEN_ACTIONS, ["*"])
        self._grant(role, ECR_PULL_ACTIONS, self._ecr_repository_arns())

    def _ecr_repository_arns(self) -> list[str]:
        """The ECR repositories the runners may pull from: ``-c ecr_repositories`` (ARNs, or
        names and name patterns in the stack's account and region), any one when empty."""
        entries = [entry.strip() for entry in self.config.options.ecr_repositories.split(",") if entry.strip()]
        if not entries:
            # Any region and account: another account's repository says itself whom it lets pull.
            return [f"arn:{Aws.PARTITION}:ecr:*:*:repository/*"]
        prefix = f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:{Aws.ACCOUNT_ID}:repository/"
        return [entry if entry.startswith("arn:") else prefix + entry for entry in entries]

    def _registry_secret_arns(self) -> list[str]:
        """The secrets of ``registry_secrets``: an ARN as given, a name as the ARNs it may have
        (Secrets Manager adds a random suffix to a secret's name)."""
        raw = self.settings.registry_secrets.strip()
        secrets = json.loads(raw).values() if raw else []
        prefix = f"arn:{Aws.PARTITION}:secretsmanager:{Aws.REGION}:{Aws.ACCOUNT_ID}:secret:"
        return [secret if secret.startswith("arn:") else f"{prefix}{secret}-??????" for secret in secrets]

    def _secret_ref_arn(self, pattern: str) -> str:
        """An ``env_secret_ref_patterns`` entry as an IAM resource: wildcard partition and account
        become this stack's. A wildcard region stays one: the runner reads a secret in the region
        its ARN names, as the pattern lets a job reference it there."""
        parts = pattern.split(":", 5)
        if len(parts) < 6:
            raise ValueError(f"env_secret_ref_patterns: {pattern!r} is not an ARN pattern")
        for index, value in ((1, Aws.PARTITION), (4, Aws.ACCOUNT_ID)):
            if parts[index] == "*":
                parts[index] = value
        return ":".join(parts)

    # -- metrics ---------------------------------------------------------------------------

    def _monitoring(self) -> ServiceMonitoring:
        """The dashboard and the alarms on the service's metrics (infra/cdk/monitoring.py)."""
        return ServiceMonitoring(
            self,
            "ServiceMetrics",
            settings=self.settings,
            job_queues=[self.queues[name] for name in job_queue_names(self.settings)],
            dead_letter_queues={
                "Jobs": self.queues[self.settings.job_dead_letter_queue],
                "Notifications": self.notifications_dead_letter_queue,
            },
            dispatcher=self.resources.get(DISPATCHER_FUNCTION),
        )

    # -- the front door --------------------------------------------------------------------

    def _execute_api_domain(self, api: CfnResource) -> str:
        return f"{api.ref}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}"

    def _api_url(self, api: CfnResource, scheme: str, trailing: str = "") -> str:
        """``<scheme>://<api id>.execute-api.<region>.<suffix>/<stage><trailing>``, or the
        emulator's path form of it under ``local_emulator``."""
        if self.emulator is not None:
            return local_emulator.output_url(self.emulator, api, websocket=scheme == "wss", trailing=trailing)
        return f"{scheme}://{self._execute_api_domain(api)}/{self.api_stage}{trailing}"

    def _front_door(self) -> cloudfront.Distribution:
        if self.rest_api is None:
            raise RuntimeError("the Chalice app declares no REST API: nothing to put behind CloudFront")
        options = self.config.options
        secret_headers = {FRONT_DOOR_HEADER: self._front_door_value()} if self.front_door_secret else None
        rest_origin = origins.HttpOrigin(
            self._execute_api_domain(self.rest_api),
            origin_path=f"/{self.api_stage}",
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
            custom_headers=secret_headers,
        )
        forwarded_host = cloudfront.Function(
            self,
            "ForwardedHostFunction",
            code=cloudfront.FunctionCode.from_file(file_path=str(FUNCTIONS_DIR / "forwarded_host.js")),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="Slipway: pass the viewer's Host on as X-Forwarded-Host",
        )
        default_behavior = cloudfront.BehaviorOptions(
            origin=rest_origin,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            function_associations=[
                cloudfront.FunctionAssociation(
                    function=forwarded_host, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                )
            ],
        )
        additional: dict[str, cloudfront.BehaviorOptions] = {}
        if self.websocket_api is not None:
            ws_origin = origins.HttpOrigin(
                self._execute_api_domain(self.websocket_api),
                protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
                # The longest CloudFront allows without a quota increase: quiet sockets live longer.
                read_timeout=Duration.seconds(60),
                keepalive_timeout=Duration.seconds(60),
                custom_headers=secret_headers,
            )
            ws_path = cloudfront.Function(
                self,
                "WsPathFunction",
                code=cloudfront.FunctionCode.from_inline(ws_function_code(f"/{self.api_stage}")),
                runtime=cloudfront.FunctionRuntime.JS_2_0,
                comment="Slipway: /tasks/<t>/jobs/<j>[/executions/<e>]/ws/ to the WebSocket stage",
            )
            ws_behavior = cloudfront.BehaviorOptions(
                origin=ws_origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=ws_path, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
            )
            additional = dict.fromkeys(WS_PATH_PATTERNS, ws_behavior)
        certificate = None
        domain_names = None
        minimum_protocol = None
        if options.domain_name:
            if not options.certificate_arn:
                raise ValueError("domain_name needs certificate_arn (an ACM certificate in us-east-1)")
            certificate = acm.Certificate.from_certificate_arn(self, "FrontDoorCertificate", options.certificate_arn)
            domain_names = [options.domain_name]
            minimum_protocol = cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021
        price_classes = {
            "100": cloudfront.PriceClass.PRICE_CLASS_100,
            "200": cloudfront.PriceClass.PRICE_CLASS_200,
            "all": cloudfront.PriceClass.PRICE_CLASS_ALL,
        }
        distribution = cloudfront.Distribution(
            self,
            "FrontDoor",
            comment=f"Slipway {self.config.stage}: REST and WebSocket APIs",
            default_behavior=default_behavior,
            additional_behaviors=additional or None,
            certificate=certificate,
            domain_names=domain_names,
            minimum_protocol_version=minimum_protocol,
            price_class=price_classes[options.price_class.lower()],
        )
        if options.domain_name and options.hosted_zone_id and options.hosted_zone_name:
            zone = route53.HostedZone.from_hosted_zone_attributes(
                self, "FrontDoorZone", hosted_zone_id=options.hosted_zone_id, zone_name=options.hosted_zone_name
            )
            target = route53.RecordTarget.from_alias(route53_targets.CloudFrontTarget(distribution))
            route53.ARecord(self, "FrontDoorAlias", zone=zone, record_name=options.domain_name, target=target)
            route53.AaaaRecord(self, "FrontDoorAliasV6", zone=zone, record_name=options.domain_name, target=target)
        return distribution

    # -- abuse limits and alarms -----------------------------------------------------------

    def _throttle(self) -> None:
        """Stage-wide throttling of the REST API, and a usage plan that throttles (and, with
        api_daily_quota, meters) each of its keys on its own."""
        if self.rest_api is None:
            return
        options = self.config.options
        self.rest_api.add_property_override(
            "MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": options.api_rate_limit,
                    "ThrottlingBurstLimit": options.api_burst_limit,
                }
            ],
        )
        quota = (
            apigateway.QuotaSettings(limit=options.api_daily_quota, period=apigateway.Period.DAY)
            if options.api_daily_quota > 0
            else None
        )
        plan = apigateway.CfnUsagePlan(
            self,
            "UsagePlan",
            usage_plan_name=f"{self.stack_name}-callers",
            description="Slipway: throttling (and quota) per API key",
            api_stages=[apigateway.CfnUsagePlan.ApiStageProperty(api_id=self.rest_api.ref, stage=self.api_stage)],
            throttle=apigateway.CfnUsagePlan.ThrottleSettingsProperty(
                rate_limit=options.api_rate_limit, burst_limit=options.api_burst_limit
            ),
            quota=apigateway.CfnUsagePlan.QuotaSettingsProperty(limit=quota.limit, period="DAY") if quota else None,
        )
        # The plan names the stage, which SAM makes from the API (``<api id><stage>Stage``): it
        # must wait for that resource, not only for the API.
        plan.add_override("DependsOn", [f"{self.rest_api.node.id}{self.api_stage}Stage"])
        self.usage_plan = plan
        for name in self.settings.gateway_usage_plan_keys:
            key = apigateway.CfnApiKey(self, f"ApiKey{_camel(name)}", name=f"{self.stack_name}-{name}", enabled=True)
            apigateway.CfnUsagePlanKey(
                self, f"UsagePlanKey{_camel(name)}", key_id=key.ref, key_type="API_KEY", usage_plan_id=plan.ref
            )

    def _alarms(self) -> sns.Topic:
        """An alarm on each dead-letter queue (anything in it) and on each function's errors."""
        topic = sns.Topic(self, "AlarmTopic", display_name=f"Slipway {self.config.stage} alarms")
        if self.config.options.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(self.config.options.alarm_email))
        action = cloudwatch_actions.SnsAction(topic)
        # The service-metrics alarms (infra/cdk/monitoring.py) tell the same topic.
        for alarm in self.monitoring.alarms:
            alarm.add_alarm_action(action)
        dead_letters = {
            "JobDeadLetters": self.settings.job_dead_letter_queue,
            "NotificationDeadLetters": self.settings.notifications_dead_letter_queue,
        }
        for alarm_id, name in dead_letters.items():
            alarm = cloudwatch.Alarm(
                self,
                f"{alarm_id}Alarm",
                alarm_description=f"Slipway {self.config.stage}: messages wait in {name}",
                metric=self.queues[name].metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
        for function in self.functions:
            metric = cloudwatch.Metric(
                namespace="AWS/Lambda",
                metric_name="Errors",
                dimensions_map={"FunctionName": function.ref},
                period=Duration.minutes(5),
                statistic="Sum",
            )
            alarm = cloudwatch.Alarm(
                self,
                f"{function.node.id}ErrorsAlarm",
                alarm_description=f"Slipway {self.config.stage}: errors of the Lambda function {function.node.id}",
                metric=metric,
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
        return topic

    # -- outputs ---------------------------------------------------------------------------

    def runner_environment(self) -> dict[str, str]:
        """What a runner host needs in its environment (besides credentials from its role)."""
        env = settings_environment(self.settings)
        # Runners check no caller: the API's credentials stay out of their environment and outputs.
        env = {key: value for key, value in env.items() if not key.startswith(RUNNER_EXCLUDED_PREFIXES)}
        env["AWS_DEFAULT_REGION"] = Aws.REGION
        env["SLIPWAY_METRICS_SINK"] = runner_metrics_sink(self.settings)
        if self.websocket_api is not None and not self.settings.ws_management_url:
            env["SLIPWAY_WS_MANAGEMENT_URL"] = self._api_url(self.websocket_api, "https")
        return env

    def _outputs(self) -> None:
        if self.rest_api is None:
            return
        front = self.config.options.domain_name or self.distribution.distribution_domain_name
        CfnOutput(
            self,
            "ApiUrl",
            value=self._api_url(self.rest_api, "https", "/"),
            description="The REST API, straight on API Gateway",
        )
        CfnOutput(self, "FrontDoorUrl", value=f"https://{front}/", description="The REST API behind CloudFront")
        CfnOutput(self, "DistributionId", value=self.distribution.distribution_id)
        if self.websocket_api is not None:
            CfnOutput(
                self,
                "WebSocketUrl",
                value=self._api_url(self.websocket_api, "wss"),
                description="The WebSocket API, straight on API Gateway (ids in the query string)",
            )
            CfnOutput(
                self,
                "FrontDoorWebSocketUrl",
                value=f"wss://{front}/tasks/{{taskId}}/jobs/{{jobId}}/ws/",
                description="The WebSocket of a job behind CloudFront (.../executions/{executionId}/ws/ for one run)",
            )
        env = " ".join(f"{key}={value}" for key, value in self.runner_environment().items())
        CfnOutput(self, "RunnerEnvironment", value=env, description="Environment of `python -m runner` on a host")
        CfnOutput(self, "RunnerRoleArn", value=self.runner_role.role_arn)
        CfnOutput(self, "RunnerInstanceProfileName", value=self.runner_profile.instance_profile_name)
        CfnOutput(self, "RunnerInstanceProfileArn", value=self.runner_profile.instance_profile_arn)
        CfnOutput(self, "JobQueueUrl", value=self.job_queue.queue_url)
        CfnOutput(self, "NotificationsDeadLetterQueueUrl", value=self.notifications_dead_letter_queue.queue_url)
        CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn)
        if self.front_door_secret is not None:
            CfnOutput(
                self,
                "FrontDoorSecretArn",
                value=self.front_door_secret.secret_arn,
                description="The secret CloudFront sends; the execute-api endpoints refuse requests without it",
            )
        CfnOutput(self, "LogBucketName", value=self.buckets[0].bucket_name if self.buckets else "")
