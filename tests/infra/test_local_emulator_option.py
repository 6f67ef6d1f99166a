"""The deploy option ``local_emulator`` (infra/cdk/local_emulator.py): off, the template is the
AWS one; its URLs are the emulator's path form. The template with it on is deployed and used by
tests/deployed/."""

from __future__ import annotations

import json

import pytest

from chalicelib.settings import LOCAL_WEBHOOK_BLOCKED_NETWORKS
from infra.cdk.local_emulator import CUSTOM_ID_TAG, WS_DEPLOYMENT, EmulatorTarget
from tests.infra.support import Synthesis


def test_without_the_option_the_template_has_nothing_of_the_emulator(synthesized: Synthesis) -> None:
    text = json.dumps(synthesized.template)
    assert CUSTOM_ID_TAG not in text
    assert "_aws/execute-api" not in text
    assert list(synthesized.resources("AWS::ApiGatewayV2::Deployment")) == [WS_DEPLOYMENT]
    (stage,) = synthesized.resources("AWS::ApiGatewayV2::Stage").values()
    assert "AutoDeploy" not in stage["Properties"]
    assert stage["Properties"]["DeploymentId"] == {"Ref": WS_DEPLOYMENT}
    functions = synthesized.resources("AWS::Serverless::Function").values()
    assert not any("SLIPWAY_PUBLIC_URL" in f["Properties"]["Environment"]["Variables"] for f in functions)
    assert not any("SLIPWAY_WEBHOOK_BLOCKED_NETWORKS" in f["Properties"]["Environment"]["Variables"] for f in functions)


def test_the_emulators_urls() -> None:
    target = EmulatorTarget("http://127.0.0.1:4566", "local", "api")
    assert target.base_url(target.rest_api_id) == "http://127.0.0.1:4566/_aws/execute-api/local-rest/api"
    assert target.base_url("x", websocket=True) == "ws://127.0.0.1:4566/_aws/execute-api/x/api"
    assert target.lambda_environment() == {
        "SLIPWAY_PUBLIC_URL": "http://127.0.0.1:4566/_aws/execute-api/local-rest/api",
        "SLIPWAY_WS_MANAGEMENT_URL": "http://127.0.0.1:4566/_aws/execute-api/local-ws/api",
        # Receivers on this machine, as with bin/serve (AWS stages block loopback and private ranges).
        "SLIPWAY_WEBHOOK_BLOCKED_NETWORKS": ",".join(LOCAL_WEBHOOK_BLOCKED_NETWORKS),
    }


@pytest.mark.parametrize("endpoint", ["127.0.0.1:4566", "http://127.0.0.1:4566/api", "ftp://x"])
def test_the_option_must_be_an_endpoint(endpoint: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        EmulatorTarget(endpoint, "local", "api")
