"""Where a deployment's settings come from (infra/cdk/config.py) and how models become tables."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.settings import Settings
from infra.cdk.config import DeployOptions, apply_to_environ, load_config, settings_environment
from infra.tables import IndexSpec, KeyAttribute, table_spec


def _context(values: dict[str, object]) -> Callable[[str], object]:
    return values.get


def test_context_wins_over_environment_which_wins_over_defaults() -> None:
    env = {"SLIPWAY_STAGE": "staging", "SLIPWAY_RUNNER_CONCURRENCY": "6", "SLIPWAY_LOG_EXPIRY_DAYS": "10"}
    config = load_config(_context({"stage": "prod", "log_expiry_days": 90}), env)
    assert config.stage == "prod"
    assert config.stack_name == "slipway-prod"
    assert config.settings.runner_concurrency == 6
    assert config.log_expiry_days == 90
    assert config.settings.hard_timeout_seconds == Settings().hard_timeout_seconds
    assert load_config(_context({}), {}).stage == Settings().stage
    assert load_config(_context({}), {}).log_expiry_days == DeployOptions().log_expiry_days


def test_lists_from_context_become_settings_tuples() -> None:
    config = load_config(_context({"secret_env_words": ["token", "Password"]}), {})
    assert config.settings.secret_env_words == ("token", "password")


def test_data_is_retained_for_prod_unless_told_otherwise() -> None:
    assert load_config(_context({"stage": "prod"}), {}).retain_data is True
    assert load_config(_context({"stage": "dev"}), {}).retain_data is False
    assert load_config(_context({"stage": "dev", "retain_data": "true"}), {}).retain_data is True
    assert load_config(_context({"stage": "prod", "retain_data": False}), {}).retain_data is False


def test_settings_environment_holds_the_stage_and_what_differs_from_defaults() -> None:
    settings = Settings(stage="prod", runner_concurrency=9, runner_host="some-host", region="eu-west-1")
    assert settings_environment(settings) == {"SLIPWAY_STAGE": "prod", "SLIPWAY_RUNNER_CONCURRENCY": "9"}
    # And it reads back as the same settings.
    again = Settings.from_env(settings_environment(settings))
    assert (again.stage, again.runner_concurrency) == ("prod", 9)


def test_apply_to_environ_exports_the_settings() -> None:
    environ: dict[str, str] = {"OTHER": "x"}
    apply_to_environ(Settings(stage="blue", tasks_per_page=25), environ)
    assert environ == {"OTHER": "x", "SLIPWAY_STAGE": "blue", "SLIPWAY_TASKS_PER_PAGE": "25"}


class _ByDue(GlobalSecondaryIndex["_Scheduled"]):
    class Meta:
        index_name = "by-due"
        projection = KeysOnlyProjection()

    shard = UnicodeAttribute(hash_key=True)
    due = NumberAttribute(range_key=True)


class _Scheduled(Model):
    class Meta:
        table_name = "x-slipway-scheduled"

    owner = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True, attr_name="sequence")
    shard = UnicodeAttribute(null=True)
    due = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    by_due = _ByDue()


def test_table_spec_reads_keys_indexes_and_ttl_from_the_model() -> None:
    spec = table_spec(_Scheduled)
    assert spec.table_name == "x-slipway-scheduled"
    assert spec.partition_key == KeyAttribute("owner", "S")
    # The DynamoDB name of an attribute, not its Python name.
    assert spec.sort_key == KeyAttribute("sequence", "N")
    assert spec.global_indexes == (
        IndexSpec("by-due", KeyAttribute("shard", "S"), KeyAttribute("due", "N"), "KEYS_ONLY"),
    )
    assert spec.local_indexes == ()
    assert spec.ttl_attribute == "expires_at"


def test_a_provisioned_model_is_refused() -> None:
    class Provisioned(Model):
        class Meta:
            table_name = "x-provisioned"
            billing_mode = "PROVISIONED"

        key = UnicodeAttribute(hash_key=True)

    with pytest.raises(ValueError, match="PAY_PER_REQUEST"):
        table_spec(Provisioned)
