"""References to secrets in env vars: the schema accepts them, the service screens them, and
the runner turns them into the container's values (registering them with the log filter)."""

from __future__ import annotations

import pytest

from chalicelib.adapters.secrets import SecretUnavailable
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.job_limits import refuse_too_many_deliveries
from chalicelib.domain.payload import parse_job
from chalicelib.domain.redaction import SecretValues
from chalicelib.domain.secret_refs import parse_ref, references, refuse_unusable_refs
from chalicelib.settings import Settings
from runner.secret_refs import SecretNotResolved, container_env

SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slipway/db-AbCdEf"
PARAMETER_ARN = "arn:aws:ssm:eu-west-1:123456789012:parameter/slipway/team/token"
PATTERNS = Settings().env_secret_ref_patterns


def test_the_job_body_takes_references_and_keeps_them_as_they_are() -> None:
    spec = parse_job({"image": "i", "command": "c", "envs": {"A": "1", "DB_PASSWORD": {"secretRef": SECRET_ARN}}})

    assert spec.envs == {"A": "1", "DB_PASSWORD": {"secretRef": SECRET_ARN}}
    assert references(spec.envs) == {"DB_PASSWORD": SECRET_ARN}


def test_arns_of_secrets_and_parameters_are_told_apart() -> None:
    secret, parameter = parse_ref(SECRET_ARN), parse_ref(PARAMETER_ARN)

    assert secret is not None and (secret.service, secret.region) == ("secretsmanager", "eu-west-1")
    assert parameter is not None and parameter.service == "ssm"
    assert parameter.parameter_name == "/slipway/team/token"
    assert parse_ref("arn:aws:s3:::bucket") is None


def test_only_the_secrets_set_aside_for_jobs_may_be_referenced() -> None:
    refuse_unusable_refs({"A": {"secretRef": SECRET_ARN}, "B": {"secretRef": PARAMETER_ARN}, "C": "x"}, PATTERNS)
    for arn in (
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf",
        "arn:aws:ssm:eu-west-1:123456789012:parameter/other",
        "no-arn",
    ):
        with pytest.raises(ValidationError) as refused:
            refuse_unusable_refs({"A": {"secretRef": arn}}, PATTERNS)
        assert refused.value.to_dict()["field"] == "envs"


def test_the_patterns_keep_their_case_when_read_from_the_environment() -> None:
    settings = Settings.from_env({"SLIPWAY_ENV_SECRET_REF_PATTERNS": "arn:*:secretsmanager:*:*:secret:Team/*"})

    assert settings.env_secret_ref_patterns == ("arn:*:secretsmanager:*:*:secret:Team/*",)


def test_the_container_gets_the_values_and_the_log_filter_learns_them() -> None:
    registry = SecretValues()
    read = {SECRET_ARN: "from-secrets-manager", PARAMETER_ARN: "from-ssm"}.__getitem__
    envs = {"DB_PASSWORD": {"secretRef": SECRET_ARN}, "TOKEN": {"secretRef": PARAMETER_ARN}, "REGION": "eu-west-1"}

    env = container_env(envs, visible=("region",), read=read, secrets=registry)

    assert env == {"DB_PASSWORD": "from-secrets-manager", "TOKEN": "from-ssm", "REGION": "eu-west-1"}
    assert set(registry.snapshot()) == {"from-secrets-manager", "from-ssm"}  # the visible one is not a secret


def test_a_secret_that_cannot_be_read_is_a_fault_of_the_job_not_of_the_host() -> None:
    def unavailable(arn: str) -> str:
        raise SecretUnavailable(f"secret {arn} could not be read: AccessDeniedException")

    with pytest.raises(SecretNotResolved) as raised:
        container_env({"DB_PASSWORD": {"secretRef": SECRET_ARN}}, read=unavailable, secrets=SecretValues())

    assert str(raised.value) == f"env DB_PASSWORD: secret {SECRET_ARN} could not be read: AccessDeniedException"
    assert raised.value.host_fault is False


def test_deliveries_over_the_caps_are_refused() -> None:
    hooks = {"starts": [{"url": "http://a"}], "finishes": [{"url": "http://b"}, {"url": "http://c"}]}

    refuse_too_many_deliveries(hooks, {"fails": ["a@x.example"]}, max_webhooks=3, max_recipients=1)
    with pytest.raises(ValidationError, match="at most 2 webhooks, not 3"):
        refuse_too_many_deliveries(hooks, {}, max_webhooks=2, max_recipients=1)
    with pytest.raises(ValidationError, match="at most 1 e-mail recipients, not 2"):
        refuse_too_many_deliveries({}, {"fails": ["a@x.example"], "succeeds": ["b@x.example"]}, 3, 1)
