"""chalicelib.settings: Settings.from_env and the resource names derived from the stage."""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib.settings import ENV_PREFIX, Settings, get_settings


def test_an_empty_environment_gives_the_defaults():
    settings = Settings.from_env({})

    assert settings == Settings()
    assert (settings.stage, settings.region, settings.public_url) == ("dev", "us-east-1", "")
    assert (settings.tasks_per_page, settings.executions_per_page, settings.hard_timeout_seconds) == (10, 20, 1800)
    assert settings.secret_env_words == ("password", "key", "secret", "client_id", "token", "pass")
    assert settings.visible_env_names == ()
    assert settings.max_request_body_bytes == 256 * 1024


def test_ints_are_parsed():
    settings = Settings.from_env(
        {"SLIPWAY_TASKS_PER_PAGE": "25", "SLIPWAY_HARD_TIMEOUT_SECONDS": " 60 ", "SLIPWAY_RUNNER_CONCURRENCY": "-1"}
    )

    assert settings.tasks_per_page == 25
    assert settings.hard_timeout_seconds == 60
    assert settings.runner_concurrency == -1
    assert type(settings.tasks_per_page) is int


def test_floats_are_parsed():
    settings = Settings.from_env({"SLIPWAY_DISPATCH_INTERVAL_SECONDS": "0.25"})

    assert settings.dispatch_interval_seconds == 0.25


def test_a_malformed_int_is_an_error():
    with pytest.raises(ValueError, match="invalid literal for int"):
        Settings.from_env({"SLIPWAY_TASKS_PER_PAGE": "ten"})


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("password,key", ("password", "key")),
        (" Token , PASSWORD ,, api_key ,", ("token", "password", "api_key")),
        ("single", ("single",)),
        ("", ()),
        (" , ,", ()),
    ],
)
def test_a_tuple_of_words_is_parsed_lower_case_without_blanks(raw, words):
    assert Settings.from_env({"SLIPWAY_SECRET_ENV_WORDS": raw}).secret_env_words == words


def test_strings_are_taken_verbatim():
    settings = Settings.from_env({"SLIPWAY_PUBLIC_URL": "https://jobs.example.com/", "SLIPWAY_RUNNER_HOST": "box-1"})

    assert settings.public_url == "https://jobs.example.com/"
    assert settings.runner_host == "box-1"


def test_resource_names_derive_from_the_stage():
    settings = Settings.from_env({"SLIPWAY_STAGE": "prod"})

    assert settings.stage == "prod"
    assert settings.tasks_table == "prod-slipway-tasks"
    assert settings.jobs_table == "prod-slipway-jobs"
    assert settings.executions_table == "prod-slipway-executions"
    assert settings.counters_table == "prod-slipway-counters"
    assert settings.job_queue == "prod-slipway-jobs"
    assert settings.job_dead_letter_queue == "prod-slipway-jobs-dlq"
    assert settings.logs_bucket == "prod-slipway-logs"
    assert settings.control_queue("runner-1") == "prod-slipway-control-runner-1"


def test_default_stage_resource_names():
    settings = Settings()

    assert (settings.tasks_table, settings.logs_bucket) == ("dev-slipway-tasks", "dev-slipway-logs")


def test_control_queue_names_are_sanitised_and_bounded():
    settings = Settings(stage="t1")

    assert settings.control_queue("ip-10-0-0-1.ec2.internal") == "t1-slipway-control-ip-10-0-0-1-ec2-internal"
    assert settings.control_queue("my_host:2375") == "t1-slipway-control-my_host-2375"
    assert settings.control_queue("h" * 100) == "t1-slipway-control-" + "h" * 40


def test_region_comes_from_aws_region():
    assert Settings.from_env({"AWS_REGION": "sa-east-1"}).region == "sa-east-1"


def test_region_falls_back_to_aws_default_region():
    assert Settings.from_env({"AWS_DEFAULT_REGION": "eu-central-1"}).region == "eu-central-1"


def test_aws_region_wins_over_aws_default_region():
    env = {"AWS_REGION": "sa-east-1", "AWS_DEFAULT_REGION": "eu-central-1"}

    assert Settings.from_env(env).region == "sa-east-1"


def test_slipway_region_wins_over_aws_region():
    env = {"SLIPWAY_REGION": "ap-south-1", "AWS_REGION": "sa-east-1"}

    assert Settings.from_env(env).region == "ap-south-1"


def test_an_empty_aws_region_is_ignored():
    assert Settings.from_env({"AWS_REGION": ""}).region == "us-east-1"
    assert Settings.from_env({"AWS_REGION": "", "AWS_DEFAULT_REGION": "eu-west-1"}).region == "eu-west-1"


def test_unrelated_and_wrongly_cased_variables_are_ignored():
    env = {"slipway_stage": "lower", "STAGE": "bare", "SLIPWAY_NOT_A_FIELD": "x", "SLIPWAYSTAGE": "glued"}

    assert Settings.from_env(env).stage == "dev"


def test_every_field_has_a_type_from_env_can_parse():
    # A field of another type (bool, say) would silently receive the raw string.
    handled = {"int", "float", "str", "bool", "tuple[str, ...]"}

    assert {f.type for f in dataclasses.fields(Settings)} <= handled


def test_every_field_round_trips_through_the_environment():
    changed = {}
    for f in dataclasses.fields(Settings):
        if f.name == "webhook_blocked_networks":
            changed[f.name] = ("10.0.0.0/8", "fc00::/7")
        elif f.name == "pools":  # parsed at construction, like the networks
            changed[f.name] = '[{"name": "p"}]'
        elif f.name == "api_authorizer":
            changed[f.name] = "iam"
        elif f.name == "auth_basic_users":
            changed[f.name] = "user:value-of-password"
        elif f.name == "auth_scoped_keys":
            changed[f.name] = '[{"name": "team", "key": "k", "tasks": "team-.*", "verbs": ["read"]}]'
        elif f.name in ("sandbox_memory", "sandbox_max_memory"):  # sizes, checked at construction
            changed[f.name] = "64Mi"
        elif f.name in ("sandbox_log_max_size", "sandbox_tmpfs_size"):
            changed[f.name] = "7m"
        elif f.name == "metadata_probe":
            changed[f.name] = "warn"
        elif f.name == "metrics_sink":
            changed[f.name] = "cloudwatch"
        elif f.type == "bool":
            changed[f.name] = True
        elif f.type == "int":
            changed[f.name] = 7
        elif f.type == "float":
            changed[f.name] = 0.5
        elif f.type == "tuple[str, ...]":
            changed[f.name] = ("alpha", "beta")
        else:
            changed[f.name] = f"value-of-{f.name}"
    expected = Settings(**changed)
    env = {ENV_PREFIX + name.upper(): _as_env(value) for name, value in changed.items()}

    assert Settings.from_env(env) == expected


def _as_env(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_without_an_argument_from_env_reads_the_process_environment(monkeypatch):
    monkeypatch.setenv("SLIPWAY_STAGE", "from-os")
    monkeypatch.setenv("SLIPWAY_TASKS_PER_PAGE", "3")

    settings = Settings.from_env()

    assert (settings.stage, settings.tasks_per_page) == ("from-os", 3)


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().stage = "other"


def test_get_settings_is_read_once():
    assert get_settings() is get_settings()


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("SLIPWAY_POOLS", "not json", "pools is not JSON"),
        ("SLIPWAY_API_AUTHORIZER", "lambda", "SLIPWAY_API_AUTHORIZER must be"),
        ("SLIPWAY_AUTH_BASIC_USERS", "alice", "user:password"),
        ("SLIPWAY_AUTH_API_KEYS", "sha256:abc", "64 hex digits"),
        ("SLIPWAY_WEBHOOK_BLOCKED_NETWORKS", "10.0.0.0/33", "not a network"),
        ("SLIPWAY_METRICS_SINK", "emf", "SLIPWAY_METRICS_SINK must be one of emf-stdout, cloudwatch, off"),
        ("SLIPWAY_METRICS_BACKLOG_VALUES", "-1", "SLIPWAY_METRICS_BACKLOG_VALUES must be at least 0"),
    ],
)
def test_texts_that_need_parsing_are_refused_when_the_settings_are_made(name, raw, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env({name: raw})


def test_parsed_values_are_computed_once_per_settings():
    settings = Settings(pools='[{"name": "a", "match": "a"}, {"name": "b"}]', auth_api_keys="k1,k2")

    assert [pool.name for pool in settings.pool_list] == ["a", "b"]
    assert settings.pool_list is settings.pool_list
    assert settings.credentials.api_keys == ("k1", "k2")
    assert settings.gateway_authorizer.kind == ""
