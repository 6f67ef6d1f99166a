"""Env vars that reference secrets: ``{"secretRef": "<ARN>"}`` of a Secrets Manager secret or an
SSM parameter, on the local emulator. Only the reference is stored and shown; the runner reads
the value when it makes the container; a secret that cannot be read fails the run, saying which."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import boto3
import pytest

from chalicelib.adapters import job_repository
from infra.local.harness import StackProcess
from tests.conftest import LOG_DIR, Api

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def secrets(stack: StackProcess) -> Any:
    return boto3.client("secretsmanager", endpoint_url=stack.aws_endpoint, region_name="us-east-1")


@pytest.fixture(scope="module")
def ssm(stack: StackProcess) -> Any:
    return boto3.client("ssm", endpoint_url=stack.aws_endpoint, region_name="us-east-1")


def _holds(name: str, value: str) -> str:
    """A shell test true only when env var ``name`` holds ``value`` (compared by digest, so the
    value is in no command)."""
    digest = hashlib.md5(value.encode()).hexdigest()
    return f'test "$(printf %s "${name}" | md5sum | cut -c1-32)" = {digest}'


def test_a_secrets_manager_secret_and_an_ssm_parameter_reach_the_container_only(
    api: Api, secrets: Any, ssm: Any, task_id: str
) -> None:
    value, parameter_value = "db-" + uuid.uuid4().hex, "param " + uuid.uuid4().hex
    arn = secrets.create_secret(Name=f"slipway/{task_id}/db", SecretString=value)["ARN"]
    parameter = f"/slipway/{task_id}/token"
    ssm.put_parameter(Name=parameter, Value=parameter_value, Type="SecureString")
    parameter_arn = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter{parameter}"
    envs = {"DB_PASSWORD": {"secretRef": arn}, "TOKEN": {"secretRef": parameter_arn}}
    command = f"bash -c '{_holds('DB_PASSWORD', value)} && {_holds('TOKEN', parameter_value)}'"

    answer = api.enqueue(task_id, command, envs=envs)
    execution = api.wait_finished(answer["executionUrl"])

    assert execution["status"] == "done", execution
    job = api.get(answer["jobUrl"]).json()["job"]
    assert job["metadata"]["envs"] == {"DB_PASSWORD": f"secretRef:{arn}", "TOKEN": f"secretRef:{parameter_arn}"}
    stored = job_repository.get_job(task_id, answer["jobId"])
    assert stored is not None
    assert dict(stored.spec)["envs"] == envs  # the reference, never the value
    for text in (api.get(answer["jobUrl"]).text, api.get(answer["executionUrl"]).text, json.dumps(stored.spec)):
        assert value not in text and parameter_value not in text
    assert value not in (LOG_DIR / "stack.log").read_text()


def test_a_secret_in_another_region_reaches_the_container(api: Api, stack: StackProcess, task_id: str) -> None:
    elsewhere = boto3.client("secretsmanager", endpoint_url=stack.aws_endpoint, region_name="eu-west-1")
    value = "far-" + uuid.uuid4().hex
    arn = elsewhere.create_secret(Name=f"slipway/{task_id}/far", SecretString=value)["ARN"]
    assert ":eu-west-1:" in arn  # the service's region is us-east-1

    answer = api.enqueue(task_id, f"bash -c '{_holds('FAR', value)}'", envs={"FAR": {"secretRef": arn}})
    execution = api.wait_finished(answer["executionUrl"])

    assert execution["status"] == "done", execution


def test_a_missing_secret_fails_the_execution_with_a_clear_error(api: Api, task_id: str) -> None:
    arn = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:slipway/{task_id}/gone-AbCdEf"

    answer = api.enqueue(task_id, "echo never", envs={"DB_PASSWORD": {"secretRef": arn}})
    execution = api.wait_finished(answer["executionUrl"])

    assert execution["status"] == "failed"
    assert execution["error"] == f"env DB_PASSWORD: secret {arn} could not be read: ResourceNotFoundException"
    assert execution["log"] == "" and execution["exitCode"] is None
    # The runner goes on: the next job runs.
    after = api.enqueue(task_id, "echo fine")
    assert api.wait_finished(after["executionUrl"])["status"] == "done"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("not-an-arn", "is not the ARN of a Secrets Manager secret or an SSM parameter"),
        (f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db-AbCdEf", "is not among the secrets jobs may use"),
        (f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/other/x", "is not among the secrets jobs may use"),
    ],
)
def test_a_reference_outside_the_allowed_secrets_is_a_400(api: Api, task_id: str, ref: str, message: str) -> None:
    body = {"image": "slipway-test/busybox:latest", "command": "true", "envs": {"S": {"secretRef": ref}}}

    response = api.post(f"/tasks/{task_id}/", json=body)

    assert response.status_code == 400
    assert response.json()["field"] == "envs" and message in response.json()["error"]
    assert api.get(f"/tasks/{task_id}/").status_code == 404


@pytest.mark.parametrize(
    "value",
    [{"secretRef": ""}, {"secretRef": 1}, {"secretRef": "arn:x", "extra": 1}, {"value": "x"}, ["x"]],
    ids=["empty", "number", "extra-key", "other-key", "list"],
)
def test_an_env_value_must_be_a_string_or_a_reference(api: Api, task_id: str, value: object) -> None:
    body = {"image": "slipway-test/busybox:latest", "command": "true", "envs": {"S": value}}

    response = api.post(f"/tasks/{task_id}/", json=body)

    assert response.status_code == 400
    assert response.json()["field"] == "envs"
