"""chalicelib.domain.payload: the job body as documented in job-payload.md and api.md."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain.errors import ValidationError
from chalicelib.domain.payload import (
    MAX_BODY_DEPTH,
    JobSpec,
    parse_body,
    parse_job,
    refuse_oversized,
    stored_bytes,
    validate_task_id,
)

# The body of the "Enqueue Job" example in api.md.
API_EXAMPLE = {
    "image": "task1:latest",
    "command": "ls -lah",
    "envs": {"SMTP_SERVER": "my-smtp-server"},
    "metadata": {"username": "heynemann"},
    "retries": 3,
}

# Every key of job-payload.md (and the extensions JobSpec accepts), each with a valid value.
FULL_BODY = {
    "image": "registry.example.com/team/app@sha256:" + "a" * 64,
    "command": "bash -c 'echo \"x\" && exit 3'",
    "envs": {"SMTP_SERVER": "my-smtp-server", "DB_PASSWORD": "hunter2"},
    "metadata": {"username": "heynemann", "nested": {"n": [1, 2]}},
    "retries": 2,
    "expiration": 1_900_000_000,
    "timeout": 60,
    "cron": "*/5 * * * *",
    "timezone": "America/Sao_Paulo",
    "concurrencyPolicy": "forbid",
    "startingDeadlineSeconds": 30,
    "retryBackoff": {"minMs": 500, "factor": 1.5, "maxMs": 60_000},
    "notify": {"succeeds": ["ops@example.com"], "fails": ["a@b.c", "d@e.f"], "finishes": []},
    "webhooks": {
        "succeeds": [{"url": "https://hooks.example.com/ok", "headers": {"X-Token": "t"}, "retries": 3}],
        "fails": [{"url": "http://hooks.example.com/ko"}],
    },
}


def body(**changes):
    """A minimal valid body with ``changes`` applied (a value of ``...`` removes the key)."""
    data = {"image": "busybox", "command": "true"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not ...}


def rejected(data, field):
    """The ValidationError parse_job raises for ``data``, checked to name ``field``."""
    with pytest.raises(ValidationError) as info:
        parse_job(data)
    error = info.value
    assert error.status_code == 400
    assert error.details["field"] == field
    assert field in error.message, error.message
    assert error.to_dict() == {"error": error.message, "field": field}
    return error


# -- accepted bodies ---------------------------------------------------------------------------


def test_the_api_example_is_accepted_with_defaults_for_the_rest():
    spec = parse_job(API_EXAMPLE)

    assert spec == JobSpec(
        image="task1:latest",
        command="ls -lah",
        envs={"SMTP_SERVER": "my-smtp-server"},
        metadata={"username": "heynemann"},
        retries=3,
        timeout=None,
        expiration=None,
        startAt=None,
        startIn=None,
        cron=None,
        timezone=None,
        concurrencyPolicy="allow",
        startingDeadlineSeconds=None,
        retryBackoff=None,
        notify={"succeeds": [], "fails": [], "finishes": []},
        webhooks={"succeeds": [], "fails": [], "finishes": [], "starts": []},
    )
    assert spec.argv == ["ls", "-lah"]


def test_only_image_and_command_are_required():
    spec = parse_job({"image": "busybox", "command": "true"})

    assert (spec.image, spec.command, spec.envs, spec.metadata, spec.retries) == ("busybox", "true", {}, {}, 0)


def test_a_body_with_every_key_is_accepted_and_kept():
    spec = parse_job(FULL_BODY)

    assert spec.image == FULL_BODY["image"]
    assert spec.command == FULL_BODY["command"]
    assert spec.envs == FULL_BODY["envs"]
    assert spec.metadata == FULL_BODY["metadata"]
    assert (spec.retries, spec.expiration, spec.timeout) == (2, 1_900_000_000, 60)
    assert (spec.cron, spec.timezone, spec.startAt, spec.startIn) == ("*/5 * * * *", "America/Sao_Paulo", None, None)
    assert (spec.concurrencyPolicy, spec.startingDeadlineSeconds) == ("forbid", 30)
    assert spec.retryBackoff == {"minMs": 500, "factor": 1.5, "maxMs": 60_000}
    assert spec.notify == {"succeeds": ["ops@example.com"], "fails": ["a@b.c", "d@e.f"], "finishes": []}
    assert spec.webhooks == {
        "succeeds": [{"url": "https://hooks.example.com/ok", "headers": {"X-Token": "t"}, "retries": 3}],
        # Only url is required: headers default to {} and retries to 0.
        "fails": [{"url": "http://hooks.example.com/ko", "headers": {}, "retries": 0}],
        "finishes": [],
        "starts": [],
    }


def test_null_optional_keys_are_taken_as_absent():
    keys = ("envs", "metadata", "retries", "timeout", "expiration", "startAt", "startIn", "cron", "timezone")
    nulls = {key: None for key in keys} | {"startingDeadlineSeconds": None, "retryBackoff": None}
    nulls |= {"notify": None, "webhooks": None}

    assert parse_job(body(**nulls)) == parse_job(body())


def test_to_dict_and_from_dict_round_trip():
    spec = parse_job(FULL_BODY)

    assert JobSpec.from_dict(spec.to_dict()) == spec
    assert JobSpec.from_dict(spec.to_dict() | {"notAField": 1}) == spec
    assert spec.to_dict()["concurrencyPolicy"] == "forbid"


@pytest.mark.parametrize(
    "image",
    [
        "busybox",
        "task1:latest",
        "registry.example.com/team/app@sha256:" + "0123456789abcdef" * 4,
        "localhost:5000/org/app:1.2.3",
        "library/ubuntu_22.04",
        "[::1]:5000/app",
    ],
)
def test_image_references_are_accepted(image):
    assert parse_job(body(image=image)).image == image


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("""bash -c 'echo "x" && exit 3'""", ["bash", "-c", 'echo "x" && exit 3']),
        ("ls -lah", ["ls", "-lah"]),
        ("  sleep    10  ", ["sleep", "10"]),
        (r"echo a\ b", ["echo", "a b"]),
        ('''sh -c "echo 'single' \\"double\\""''', ["sh", "-c", "echo 'single' \"double\""]),
        ("echo $HOME; rm -rf /", ["echo", "$HOME;", "rm", "-rf", "/"]),
    ],
)
def test_the_command_is_split_as_a_shell_would(command, argv):
    spec = parse_job(body(command=command))

    assert spec.command == command  # stored verbatim
    assert spec.argv == argv


@pytest.mark.parametrize("policy", ["allow", "forbid", "replace"])
def test_each_concurrency_policy_is_accepted(policy):
    assert parse_job(body(concurrencyPolicy=policy)).concurrencyPolicy == policy


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ({"startAt": 0}, (0, None, None)),
        ({"startAt": 1_547_737_982}, (1_547_737_982, None, None)),
        ({"startIn": "2h30m50s"}, (None, "2h30m50s", None)),
        ({"cron": "0 0 29 2 *"}, (None, None, "0 0 29 2 *")),
        ({"cron": "*/5 * * * *", "timezone": "Europe/Berlin"}, (None, None, "*/5 * * * *")),
    ],
)
def test_one_schedule_key_is_accepted(schedule, expected):
    spec = parse_job(body(**schedule))

    assert (spec.startAt, spec.startIn, spec.cron) == expected


def test_envs_values_may_be_empty_strings():
    assert parse_job(body(envs={"EMPTY": ""})).envs == {"EMPTY": ""}


def test_the_starts_webhook_event_is_accepted():
    spec = parse_job(body(webhooks={"starts": [{"url": "https://x.example/s"}]}))

    assert spec.webhooks["starts"] == [{"url": "https://x.example/s", "headers": {}, "retries": 0}]


# -- rejected bodies ---------------------------------------------------------------------------


def test_missing_image_is_rejected():
    error = rejected(body(image=...), "image")

    assert error.message == "image is required"


def test_missing_command_is_rejected():
    error = rejected(body(command=...), "command")

    assert error.message == "command is required"


@pytest.mark.parametrize("command", ["", "   ", "\t\n"])
def test_an_empty_command_is_rejected(command):
    error = rejected(body(command=command), "command")

    assert "empty" in error.message


def test_an_empty_image_is_rejected():
    assert "empty" in rejected(body(image=""), "image").message


@pytest.mark.parametrize("command", ["echo 'x", 'echo "x', "echo \\"])
def test_unbalanced_quotes_in_the_command_are_rejected(command):
    error = rejected(body(command=command), "command")

    assert "split" in error.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"image": 123}, "image"),
        ({"image": ["busybox"]}, "image"),
        ({"command": 5}, "command"),
        ({"command": ["ls", "-l"]}, "command"),
        ({"envs": ["A=1"]}, "envs"),
        ({"envs": []}, "envs"),
        ({"envs": "A=1"}, "envs"),
        ({"envs": {"A": 1}}, "envs"),
        ({"envs": {"A": None}}, "envs"),
        ({"envs": {"A": True}}, "envs"),
        ({"envs": {"A=B": "1"}}, "envs"),
        ({"envs": {"": "1"}}, "envs"),
        ({"retries": "3"}, "retries"),
        ({"retries": -1}, "retries"),
        ({"retries": True}, "retries"),
        ({"retries": 1.5}, "retries"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": -5}, "timeout"),
        ({"timeout": "10"}, "timeout"),
        ({"timeout": False}, "timeout"),
        ({"expiration": "tomorrow"}, "expiration"),
        ({"expiration": -1}, "expiration"),
        ({"metadata": ["a", "b"]}, "metadata"),
        ({"metadata": []}, "metadata"),
        ({"metadata": "user=me"}, "metadata"),
        ({"metadata": 0}, "metadata"),
        ({"startAt": "x"}, "startAt"),
        ({"startAt": -1}, "startAt"),
        ({"startAt": 1.5}, "startAt"),
        ({"startAt": True}, "startAt"),
        ({"startIn": 300}, "startIn"),
        ({"cron": 5}, "cron"),
        ({"timezone": 3}, "timezone"),
        ({"startingDeadlineSeconds": "30"}, "startingDeadlineSeconds"),
        ({"startingDeadlineSeconds": -1}, "startingDeadlineSeconds"),
        ({"notify": ["a@b.c"]}, "notify"),
        ({"notify": []}, "notify"),
        ({"webhooks": [{"url": "http://x"}]}, "webhooks"),
        ({"webhooks": []}, "webhooks"),
        # URLs the http(s) pattern lets through that no client could post to.
        ({"webhooks": {"fails": [{"url": "http://[x/"}]}}, "webhooks"),
        ({"webhooks": {"fails": [{"url": "https://h:99999/"}]}}, "webhooks"),
        ({"retryBackoff": [1000]}, "retryBackoff"),
    ],
)
def test_a_value_of_the_wrong_type_is_rejected(changes, field):
    rejected(body(**changes), field)


@pytest.mark.parametrize(
    "image",
    [
        "bad image",
        "-leading-dash",
        "busybox\n",
        "busy$box",
        "/abs",
        # What Docker refuses is refused at submission, not found out by a runner:
        "Library/Ubuntu_22.04",
        "app:",
        "app:-tag",
        "app@sha256:abc",
        "a//b",
        "a" * 256,
    ],
)
def test_a_malformed_image_reference_is_rejected(image):
    assert "not a valid image reference" in rejected(body(image=image), "image").message


def test_unknown_keys_are_rejected_naming_them():
    error = rejected(body(start_at=1, zzz=2, foo=3), "foo")

    assert error.message == "unknown keys in the job body: foo, start_at, zzz"


@pytest.mark.parametrize(
    ("schedule", "second"),
    [
        ({"startAt": 1, "startIn": "5m"}, "startIn"),
        ({"startAt": 1, "cron": "* * * * *"}, "cron"),
        ({"startIn": "5m", "cron": "* * * * *"}, "cron"),
        ({"startAt": 1, "startIn": "5m", "cron": "* * * * *"}, "startIn"),
    ],
)
def test_more_than_one_schedule_key_is_rejected(schedule, second):
    error = rejected(body(**schedule), second)

    assert "mutually exclusive" in error.message
    for key in schedule:
        assert key in error.message


def test_a_null_schedule_key_does_not_count_as_given():
    assert parse_job(body(startAt=None, cron="* * * * *")).cron == "* * * * *"


@pytest.mark.parametrize(
    "cron",
    [
        "* * *",
        "61 * * * *",
        "60 * * * *",
        "* 24 * * *",
        "0 0 0 * *",
        "0 0 * 13 *",
        "0 0 * * 8",
        "*/0 * * * *",
        "* * * * * *",  # six fields (seconds) are not the documented 5-field cron
        "@daily",
        "",
        "not a cron at all",
    ],
)
def test_a_bad_cron_is_rejected(cron):
    rejected(body(cron=cron), "cron")


@pytest.mark.parametrize("cron", ["0 0 31 2 *", "0 0 30 2 *"])
def test_a_cron_that_never_fires_is_rejected(cron):
    assert "never fires" in rejected(body(cron=cron), "cron").message


@pytest.mark.parametrize("start_in", ["5x", "", "m5", "5", "1h 30m", "-5m", "1.5h", "2h1d"])
def test_a_bad_start_in_is_rejected(start_in):
    error = rejected(body(startIn=start_in), "startIn")

    assert repr(start_in) in error.message


def test_a_start_in_beyond_year_9999_is_rejected():
    assert "9999" in rejected(body(startIn="99999999999d"), "startIn").message
    assert "9999" in rejected(body(startIn="3000000d"), "startIn").message


def test_start_at_is_bounded_by_the_last_representable_instant():
    assert parse_job(body(startAt=253_402_300_799)).startAt == 253_402_300_799

    assert "9999" in rejected(body(startAt=253_402_300_800), "startAt").message
    rejected(body(startAt=10**20), "startAt")


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../etc/passwd", "/etc/localtime", "zone.tab", "utc"])
def test_a_bad_timezone_is_rejected(zone):
    error = rejected(body(cron="0 9 * * *", timezone=zone), "timezone")

    assert "IANA" in error.message


@pytest.mark.parametrize("policy", ["sometimes", "Allow", "", 1, ["allow"]])
def test_a_bad_concurrency_policy_is_rejected(policy):
    rejected(body(concurrencyPolicy=policy), "concurrencyPolicy")


@pytest.mark.parametrize(
    "notify",
    [
        {"fails": ["not-an-email"]},
        {"fails": ["a@b@c"]},
        {"fails": ["a b@c.d"]},
        {"fails": ["ops@example.com\n"]},
        {"fails": ["@example.com"]},
        {"succeeds": [5]},
        {"succeeds": "ops@example.com"},
        {"start": ["ops@example.com"]},
    ],
)
def test_a_bad_notify_is_rejected(notify):
    rejected(body(notify=notify), "notify")


@pytest.mark.parametrize(
    "webhooks",
    [
        {"fails": [{}]},
        {"fails": [{"headers": {"A": "b"}}]},
        {"fails": [{"url": None}]},
        {"fails": [{"url": "ftp://example.com/hook"}]},
        {"fails": [{"url": "example.com/hook"}]},
        {"fails": [{"url": "javascript:alert(1)"}]},
        {"fails": [{"url": 42}]},
        {"fails": ["https://example.com/hook"]},
        {"fails": [{"url": "https://example.com/hook", "retries": -1}]},
        {"fails": [{"url": "https://example.com/hook", "retries": "3"}]},
        {"fails": [{"url": "https://example.com/hook", "retries": True}]},
        {"fails": [{"url": "https://example.com/hook", "retries": 1.5}]},
        {"fails": [{"url": "https://example.com/hook", "headers": ["X-A: b"]}]},
        {"fails": [{"url": "https://example.com/hook", "headers": []}]},
        {"fails": [{"url": "https://example.com/hook", "headers": {"X-Count": 1}}]},
        {"fails": {"url": "https://example.com/hook"}},
        {"ends": [{"url": "https://example.com/hook"}]},
    ],
)
def test_a_bad_webhook_is_rejected(webhooks):
    rejected(body(webhooks=webhooks), "webhooks")


@pytest.mark.parametrize(
    "backoff",
    [
        {"min": 1000},
        {"minMs": 1000, "jitter": 0.1},
        {"minMs": -1},
        {"factor": "2"},
        {"maxMs": True},
        {"minMs": None},
        {"minMs": float("nan")},
        {"maxMs": float("inf")},
        "fast",
    ],
)
def test_a_bad_retry_backoff_is_rejected(backoff):
    rejected(body(retryBackoff=backoff), "retryBackoff")


def test_the_first_problem_found_is_reported():
    # image is checked before command, both before the optional keys.
    assert rejected({"envs": []}, "image").message == "image is required"
    assert rejected({"image": "busybox", "retries": -1}, "command").message == "command is required"


# -- parse_body --------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, b"", ""])
def test_an_empty_body_is_rejected(raw):
    with pytest.raises(ValidationError, match="it was empty") as info:
        parse_body(raw, 1024)
    assert info.value.status_code == 400


@pytest.mark.parametrize(
    "raw",
    [b"{", b"{'image': 'x'}", b"   ", b"image=busybox&command=ls", b'{"a": "\xff"}', "[" * 100_000],
)
def test_a_body_that_is_not_json_is_rejected(raw):
    with pytest.raises(ValidationError, match="not valid JSON"):
        parse_body(raw, 1024 * 1024)


@pytest.mark.parametrize("raw", [b"[]", b'[{"image": "busybox"}]', b"3", b'"text"', b"null", b"true"])
def test_a_json_value_that_is_not_an_object_is_rejected(raw):
    with pytest.raises(ValidationError, match=r"must be a JSON object$"):
        parse_body(raw, 1024)


def test_an_oversized_body_is_rejected_before_it_is_parsed():
    raw = json.dumps({"image": "busybox", "command": "x" * 100}).encode()

    assert parse_body(raw, len(raw)) == {"image": "busybox", "command": "x" * 100}
    with pytest.raises(ValidationError, match=f"larger than {len(raw) - 1} bytes"):
        parse_body(raw, len(raw) - 1)
    with pytest.raises(ValidationError, match="larger than 10 bytes"):
        parse_body(b"{" * 11, 10)  # too large wins over malformed


@pytest.mark.parametrize("raw", [json.dumps(API_EXAMPLE), json.dumps(API_EXAMPLE).encode()])
def test_a_json_object_is_returned_from_bytes_or_text(raw):
    assert parse_body(raw, 1024) == API_EXAMPLE


def test_parse_body_then_parse_job_accepts_the_documented_example():
    spec = parse_job(parse_body(json.dumps(API_EXAMPLE).encode(), 256 * 1024))

    assert spec.retries == 3
    assert spec.envs == {"SMTP_SERVER": "my-smtp-server"}


# -- validate_task_id --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "task_id", ["test-wrkng", "send-welcome-mail", "a", "7", "A1._:@+=~-z", "x" * 200, "hello_world"]
)
def test_a_good_task_id_is_returned(task_id):
    assert validate_task_id(task_id) == task_id


@pytest.mark.parametrize(
    "task_id",
    ["", "-leading", ".hidden", "_under", "a b", "a/b", "a?b", "x" * 201, "abc\n", "tâche", None],
)
def test_a_bad_task_id_is_rejected(task_id):
    with pytest.raises(ValidationError) as info:
        validate_task_id(task_id)
    assert info.value.details["field"] == "taskId"
    assert "task id" in info.value.message


# -- strict JSON (issue: NaN, Infinity, depth, surrogates, stored size) -------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"x": NaN}', "NaN is not a JSON value"),
        (b'{"x": Infinity}', "Infinity is not a JSON value"),
        (b'{"x": [-Infinity]}', "-Infinity is not a JSON value"),
        (b'{"x": 1e400}', "beyond what a double can hold"),
        (b'{"x": -1E+999}', "beyond what a double can hold"),
    ],
)
def test_numbers_json_does_not_have_are_refused(raw, message):
    with pytest.raises(ValidationError, match=message):
        parse_body(raw, 10_000)


def test_a_lone_surrogate_is_refused_in_values_and_keys():
    for raw in (b'{"x": "a\\ud800b"}', b'{"\\udfff": 1}'):
        with pytest.raises(ValidationError, match="lone UTF-16 surrogate"):
            parse_body(raw, 10_000)
    # A pair is a character, not a lone half.
    assert parse_body(b'{"x": "\\ud83e\\udd80"}', 10_000) == {"x": "🦀"}


def test_nesting_is_refused_beyond_the_limit_without_recursing():
    def nested(depth: int) -> bytes:
        return ('{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)).encode()

    assert parse_body(nested(MAX_BODY_DEPTH), 10**6)
    with pytest.raises(ValidationError, match=f"deeper than {MAX_BODY_DEPTH} levels"):
        parse_body(nested(MAX_BODY_DEPTH + 1), 10**6)
    with pytest.raises(ValidationError):
        parse_body(b"[" * 100_000 + b"]" * 100_000, 10**6)


def test_the_stored_size_counts_escaped_characters():
    spec = parse_job({"image": "i", "command": "true", "metadata": {"text": "漢" * 1000}})

    assert stored_bytes(spec) > 6000  # \\u6f22 per character
    refuse_oversized(spec, 10_000)
    with pytest.raises(ValidationError, match="bytes once stored"):
        refuse_oversized(spec, 5_000)
