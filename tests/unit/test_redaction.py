"""chalicelib.domain.redaction: env values whose name contains a secret word are shown as ***."""

from __future__ import annotations

import io
import logging

import pytest

from chalicelib.domain.redaction import (
    MASK,
    RedactingFilter,
    SecretValues,
    is_secret_name,
    mask_url_credentials,
    redact_envs,
    redact_text,
    redact_webhooks,
    show_envs,
)
from chalicelib.settings import Settings, current_secret_env_words

DEFAULT_WORDS = Settings.__dataclass_fields__["secret_env_words"].default


def test_the_default_words_are_the_documented_ones():
    assert DEFAULT_WORDS == ("password", "key", "secret", "client_id", "token", "pass")
    assert MASK == "***"


@pytest.mark.parametrize(
    "name",
    [
        "DB_PASSWORD",
        "password",
        "Password",
        "apiKey",
        "API_KEY",
        "KEY",
        "MY_SECRET",
        "secret_token",
        "AWS_SECRET_ACCESS_KEY",
        "CLIENT_ID",
        "client_id",
        "Oauth_Client_Id",
    ],
)
def test_a_name_containing_a_default_word_is_secret_whatever_its_case(name):
    assert is_secret_name(name, DEFAULT_WORDS)


@pytest.mark.parametrize("name", ["SMTP_SERVER", "PATH", "USERNAME", "CLIENT", "CLIENTID", "K_E_Y"])
def test_a_name_without_a_default_word_is_not_secret(name):
    assert not is_secret_name(name, DEFAULT_WORDS)


def test_matching_is_by_substring_so_longer_words_containing_one_match_too():
    # "key" inside "monkey"/"keyboard": a known over-match of substring matching (safe side).
    assert is_secret_name("MONKEY_COUNT", DEFAULT_WORDS)
    assert is_secret_name("KEYBOARD_LAYOUT", DEFAULT_WORDS)


def test_redact_envs_masks_only_secret_values_and_keeps_order():
    envs = {
        "SMTP_SERVER": "my-smtp-server",
        "DB_PASSWORD": "hunter2",
        "apiKey": "k-123",
        "MY_SECRET": "s",
        "CLIENT_ID": "c",
        "EMPTY_SECRET": "",
        "LOG_LEVEL": "debug",
    }

    redacted = redact_envs(envs, DEFAULT_WORDS)

    assert redacted == {
        "SMTP_SERVER": "my-smtp-server",
        "DB_PASSWORD": MASK,
        "apiKey": MASK,
        "MY_SECRET": MASK,
        "CLIENT_ID": MASK,
        "EMPTY_SECRET": MASK,
        "LOG_LEVEL": "debug",
    }
    assert list(redacted) == list(envs)


def test_redact_envs_leaves_its_argument_unchanged():
    envs = {"DB_PASSWORD": "hunter2"}

    redact_envs(envs, DEFAULT_WORDS)

    assert envs == {"DB_PASSWORD": "hunter2"}


def test_redact_envs_of_nothing_is_nothing():
    assert redact_envs({}, DEFAULT_WORDS) == {}


def test_custom_words_replace_the_defaults():
    words = Settings.from_env({"SLIPWAY_SECRET_ENV_WORDS": "Token, CERT"}).secret_env_words

    assert words == ("token", "cert")
    assert redact_envs({"GITHUB_TOKEN": "t", "TLS_CERT": "c", "DB_PASSWORD": "p"}, words) == {
        "GITHUB_TOKEN": MASK,
        "TLS_CERT": MASK,
        "DB_PASSWORD": "p",
    }


def test_words_may_be_any_iterable_even_a_one_shot_generator():
    words = (word for word in ("password", "key"))

    assert redact_envs({"A_KEY": "1", "B_PASSWORD": "2", "C": "3"}, words) == {
        "A_KEY": MASK,
        "B_PASSWORD": MASK,
        "C": "3",
    }


def test_no_words_mask_nothing():
    assert redact_envs({"DB_PASSWORD": "hunter2"}, ()) == {"DB_PASSWORD": "hunter2"}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("DB_PASSWORD=hunter2 started", "DB_PASSWORD=*** started"),
        ('envs {"API_KEY": "abc", "PLAIN": "x"}', 'envs {"API_KEY": "***", "PLAIN": "x"}'),
        ("{'my_secret': 'abc'}", "{'my_secret': '***'}"),
        ("client_id: 1234, region: eu", "client_id: ***, region: eu"),
        ("HOST=db PORT=5432", "HOST=db PORT=5432"),
        ("no assignment here", "no assignment here"),
    ],
)
def test_redact_text_masks_secret_assignments_in_a_line(line: str, expected: str) -> None:
    assert redact_text(line, DEFAULT_WORDS) == expected


def test_the_log_filter_masks_every_line_a_handler_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    words = ["password"]
    handler.addFilter(RedactingFilter(lambda: words))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("env %s", {"DB_PASSWORD": "hunter2", "USER": "bob"})
        logger.warning("TOKEN=t1")
        words.append("token")  # the filter reads the words each time: a later setting applies
        logger.warning("TOKEN=t2")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().splitlines() == ["env {'DB_PASSWORD': '***', 'USER': 'bob'}", "TOKEN=t1", "TOKEN=***"]


def test_the_words_of_the_filter_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLIPWAY_SECRET_ENV_WORDS", raising=False)
    assert current_secret_env_words() == DEFAULT_WORDS
    monkeypatch.setenv("SLIPWAY_SECRET_ENV_WORDS", "Token")
    assert current_secret_env_words() == ("token",)


def test_webhook_headers_that_look_like_credentials_are_masked() -> None:
    hooks = {
        "fails": [{"url": "http://a", "headers": {"Authorization": "Bearer t", "X-Api-Key": "k", "X-Team": "blue"}}],
        "finishes": [{"url": "http://b", "retries": 2}],
    }

    assert redact_webhooks(hooks, DEFAULT_WORDS) == {
        "fails": [{"url": "http://a", "headers": {"Authorization": MASK, "X-Api-Key": MASK, "X-Team": "blue"}}],
        "finishes": [{"url": "http://b", "retries": 2, "headers": {}}],
    }
    with_password = {"finishes": [{"url": "https://u:pw@hooks.example/x", "headers": {}}]}
    assert redact_webhooks(with_password, DEFAULT_WORDS)["finishes"][0]["url"] == "https://u:***@hooks.example/x"
    assert hooks["fails"][0]["headers"]["Authorization"] == "Bearer t"  # the job keeps the real ones


# -- every value masked unless visible; URLs; values whole; tracebacks ------------------------


def test_every_env_value_is_masked_unless_its_name_is_visible() -> None:
    envs = {"GITHUB_TOKEN": "ghp_1", "DB_PASS": "p", "REGION": "eu", "Region_2": "x", "REF": {"secretRef": "arn:a"}}

    shown = show_envs(envs, ("region",))

    assert shown == {"GITHUB_TOKEN": MASK, "DB_PASS": MASK, "REGION": "eu", "Region_2": MASK, "REF": "secretRef:arn:a"}
    assert show_envs(envs, ()) == {name: MASK for name in envs} | {"REF": "secretRef:arn:a"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("git clone https://bot:ghp_abc@github.com/o/r", "git clone https://bot:***@github.com/o/r"),
        ("curl http://user:p%40ss@10.0.0.1:8080/x", "curl http://user:***@10.0.0.1:8080/x"),
        ("pull https://ghp_token@github.com/o/r.git", "pull https://***@github.com/o/r.git"),
        ("postgres://app:s3cr3t@db:5432/main ok", "postgres://app:***@db:5432/main ok"),
        ("https://example.com/a@b", "https://example.com/a@b"),
        ("mail me@example.com", "mail me@example.com"),
    ],
)
def test_credentials_in_urls_are_masked(text: str, expected: str) -> None:
    assert mask_url_credentials(text) == expected
    assert redact_text(text, ()) == expected


def test_quoted_values_are_masked_whole_and_registered_values_anywhere() -> None:
    line = 'DB_PASSWORD="correct horse battery" user=bob note: opaque-value-123 here'

    assert redact_text(line, DEFAULT_WORDS) == 'DB_PASSWORD="***" user=bob note: opaque-value-123 here'
    assert redact_text(line, DEFAULT_WORDS, ["opaque-value-123"]) == 'DB_PASSWORD="***" user=bob note: *** here'


def test_the_registry_of_secret_values_is_bounded_and_skips_tiny_values() -> None:
    values = SecretValues(capacity=2)

    values.add(["1", "on", "first-value", "second-value", "third-value"])

    assert values.snapshot() == ("second-value", "third-value")


def test_the_log_filter_masks_tracebacks_and_registered_values() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    registry = SecretValues()
    registry.add(["value-of-a-job-env"])
    handler.addFilter(RedactingFilter(lambda: DEFAULT_WORDS, registry))
    logger = logging.getLogger("test.redaction.traceback")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise RuntimeError("connect to https://svc:pw-in-url@db.internal failed; token=value-of-a-job-env")
        except RuntimeError:
            logger.exception("delivery to %s failed", "https://hook:pw-in-hook@example.com/x")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()

    assert "Traceback" in written and "RuntimeError" in written
    for secret in ("pw-in-url", "pw-in-hook", "value-of-a-job-env"):
        assert secret not in written
    assert "https://hook:***@example.com/x" in written and "https://svc:***@db.internal" in written
