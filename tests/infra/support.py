"""Shared by the deployment tests: where things are, the synthesized stages, and the
environment the CDK tools run in (offline, with no AWS credentials)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CDK_DIR = ROOT / "infra" / "cdk"
REGION = "us-east-1"
# Context of the synthesized stage: a stage of its own, two settings that differ from the defaults,
# and a secured API: a key (by its digest), the front door as the only way in, one usage-plan key.
STAGE = "ci"
API_KEY_DIGEST = "sha256:" + "ab" * 32
CONTEXT = {
    "stage": STAGE,
    "runner_concurrency": "8",
    "log_expiry_days": "45",
    "auth_api_keys": API_KEY_DIGEST,
    "front_door_only": "true",
    "gateway_usage_plan_keys": "producta",
    "alarm_email": "ops@example.com",
}
WS_STAGE = "wstest"
WS_API_STAGE = "v1"
WS_DOMAIN = "jobs.example.com"
# The ws stack's runners may pull from two ECR repositories only (``ecr_repositories``).
WS_ECR_REPOSITORY = "arn:aws:ecr:eu-west-1:123456789012:repository/base-images"


@dataclass(frozen=True)
class Synthesis:
    template: dict[str, Any]
    template_path: Path
    seconds: float
    stage: str
    # What the synthesis printed (stdout and stderr).
    output: str = ""

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {key: value for key, value in self.template["Resources"].items() if value["Type"] == kind}


def _node_major() -> str:
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout
    return version.strip().lstrip("v").split(".")[0]


def tool_env(home: Path) -> dict[str, str]:
    """An environment for the CDK CLI and the CDK app: offline, with no AWS credentials."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SLIPWAY_", "CDK_"))}
    env.update(
        {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(home / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
            "CDK_DISABLE_VERSION_CHECK": "1",
            "CDK_DISABLE_CLI_TELEMETRY": "true",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": _node_major(),
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return env


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{shlex.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result
