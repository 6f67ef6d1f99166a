"""The one place where the template departs from AWS's: a deployment onto the local emulator.

Used only with the deploy option ``local_emulator`` (``-c local_emulator=<the emulator's
endpoint>``, as ``python -m infra.local.deployed`` deploys); without it nothing here runs and
the template is exactly the AWS one. MiniStack (``infra/local/aws_emulator.py``) runs the rest
of the template as it is (tables, queues, bucket, IAM, the SAM functions, the REST API, the
EventBridge schedule, the SQS event source, the WebSocket API). What changes, and why:

1. **The WebSocket stage deploys itself.** MiniStack does not provision
   ``AWS::ApiGatewayV2::Deployment``; the stage gets ``AutoDeploy`` instead, which API Gateway
   offers for the same effect (the routes are live once created).
2. **The APIs get fixed ids** (MiniStack's ``ms-custom-id`` tag). The emulator serves them on
   its own host and port, under ``/_aws/execute-api/<api id>/<stage>/``, a prefix the functions
   cannot see in their events, so they must be told their public URL (``SLIPWAY_PUBLIC_URL``).
   In a template the REST API depends on its function, so the function cannot take the API's id
   by reference (a cycle); a fixed id breaks it.
3. **Webhooks may reach this machine**, as with ``bin/serve``: the functions block only
   ``LOCAL_WEBHOOK_BLOCKED_NETWORKS`` (unless ``webhook_blocked_networks`` is given).
4. **URLs are the emulator's.** The functions' ``SLIPWAY_PUBLIC_URL`` and
   ``SLIPWAY_WS_MANAGEMENT_URL`` and the outputs ``ApiUrl``, ``WebSocketUrl`` and the
   ``SLIPWAY_WS_MANAGEMENT_URL`` of ``RunnerEnvironment`` use that path form. The outputs are
   built from the APIs' references, so they name what the emulator really made.

The CloudFront front door is left in the template (MiniStack creates it, but serves nothing
through it): call ``ApiUrl`` and ``WebSocketUrl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from aws_cdk import CfnResource, Fn
from constructs import Construct

from chalicelib.settings import LOCAL_WEBHOOK_BLOCKED_NETWORKS

# MiniStack's tag that pins the id of a REST or HTTP/WebSocket API it creates.
CUSTOM_ID_TAG = "ms-custom-id"
# Chalice's logical ids of the WebSocket API's deployment and stage.
WS_DEPLOYMENT = "WebsocketAPIDeployment"
WS_STAGE = "WebsocketAPIStage"


@dataclass(frozen=True)
class EmulatorTarget:
    """Where the emulator serves the stage ``stage`` of the APIs of deployment stage ``name``."""

    endpoint: str
    name: str
    api_stage: str

    def __post_init__(self) -> None:
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
            raise ValueError(f"local_emulator must be the emulator's endpoint, http://host:port: {self.endpoint!r}")

    @property
    def rest_api_id(self) -> str:
        return f"{self.name}-rest"

    @property
    def websocket_api_id(self) -> str:
        return f"{self.name}-ws"

    def base_url(self, api_id: str, *, websocket: bool = False) -> str:
        """``<endpoint>/_aws/execute-api/<api id>/<stage>`` (``ws://`` for a WebSocket client)."""
        endpoint = self.endpoint.rstrip("/")
        if websocket:
            endpoint = endpoint.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{endpoint}/_aws/execute-api/{api_id}/{self.api_stage}"

    def lambda_environment(self) -> dict[str, str]:
        """What the functions are told about where they are served, and the local screen of
        webhook targets, as ``bin/serve`` has it (settings given explicitly win)."""
        return {
            "SLIPWAY_PUBLIC_URL": self.base_url(self.rest_api_id),
            "SLIPWAY_WS_MANAGEMENT_URL": self.base_url(self.websocket_api_id),
            "SLIPWAY_WEBHOOK_BLOCKED_NETWORKS": ",".join(LOCAL_WEBHOOK_BLOCKED_NETWORKS),
        }


def adapt(
    scope: Construct, target: EmulatorTarget, rest_api: CfnResource | None, websocket_api: CfnResource | None
) -> None:
    """Points 1 and 2 of the module's docstring, on the resources ``chalice package`` made."""
    if rest_api is not None:
        # An AWS::Serverless::Api: its Tags go to the stage unless propagated to the RestApi too.
        rest_api.add_property_override(f"Tags.{CUSTOM_ID_TAG}", target.rest_api_id)
        rest_api.add_property_override("PropagateTags", True)
    if websocket_api is None:
        return
    websocket_api.add_property_override(f"Tags.{CUSTOM_ID_TAG}", target.websocket_api_id)
    stage = scope.node.find_child(WS_STAGE)
    assert isinstance(stage, CfnResource)
    stage.add_property_deletion_override("DeploymentId")
    stage.add_property_override("AutoDeploy", True)
    # The routes must exist before the stage publishes them, as they had to before the deployment.
    for child in scope.node.children:
        if isinstance(child, CfnResource) and child.cfn_resource_type == "AWS::ApiGatewayV2::Route":
            stage.add_resource_dependency(child)
    if not scope.node.try_remove_child(WS_DEPLOYMENT):
        raise RuntimeError(f"chalice package made no {WS_DEPLOYMENT}: see infra/cdk/local_emulator.py")


def output_url(target: EmulatorTarget, api: CfnResource, *, websocket: bool = False, trailing: str = "") -> str:
    """An output's URL of ``api`` on the emulator, from the API's reference (its real id)."""
    base = target.base_url("\0", websocket=websocket)
    before, after = base.split("\0")
    return Fn.join("", [before, api.ref, after + trailing])
