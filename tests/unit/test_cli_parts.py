"""The slipway CLI's pure parts: configuration, targets, exit codes, the command line's words,
the live lines' printing and the executions' selection."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest

from slipway_cli import exit_codes
from slipway_cli.client import Client
from slipway_cli.commands.history import covered, summary_line
from slipway_cli.commands.listing import select_executions
from slipway_cli.commands.run import command_text, parse_env, task_for_image
from slipway_cli.config import DEFAULT_URL, Config, ConfigError, resolve
from slipway_cli.follow import Follower, waiting_words
from slipway_cli.output import stderr_console
from slipway_cli.targets import Target, TargetError, parse_target

PROFILES = """
[default]
url = "http://default.example:10000"

[staging]
url = "https://staging.example/api/"
api_key = "k-staging"
"""


@pytest.fixture
def profiles(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(PROFILES)
    return {"SLIPWAY_CONFIG": str(path)}


def test_flags_beat_the_environment_which_beats_the_profile(profiles: dict[str, str]) -> None:
    assert resolve(environ=profiles) == Config("http://default.example:10000")
    assert resolve(profile="staging", environ=profiles) == Config("https://staging.example/api", "k-staging")
    environ = {**profiles, "SLIPWAY_PROFILE": "staging", "SLIPWAY_URL": "http://env:1"}
    assert resolve(environ=environ) == Config("http://env:1", "k-staging")
    assert resolve(url="http://flag:2", api_key="k-flag", environ=environ) == Config("http://flag:2", "k-flag")


def test_without_a_file_the_local_stack_is_used(tmp_path: Path) -> None:
    assert resolve(environ={"XDG_CONFIG_HOME": str(tmp_path)}) == Config(DEFAULT_URL)


def test_an_unknown_profile_or_a_broken_file_is_an_error(profiles: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no profile 'prod'.*default, staging"):
        resolve(profile="prod", environ=profiles)
    broken = tmp_path / "broken.toml"
    broken.write_text("[default\nurl=")
    with pytest.raises(ConfigError, match="cannot read"):
        resolve(environ={"SLIPWAY_CONFIG": str(broken)})


def test_the_api_key_travels_as_the_header_the_api_reads() -> None:
    assert Client(Config("http://x", "secret")).session.headers["X-Api-Key"] == "secret"
    assert "X-Api-Key" not in Client(Config("http://x")).session.headers
    assert Client(Config("https://x/api")).ws_url("/tasks/t/jobs/j/executions/e/ws/") == (
        "wss://x/api/tasks/t/jobs/j/executions/e/ws/"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", Target("hello")),
        ("hello/j1", Target("hello", "j1")),
        ("hello/j1/e1", Target("hello", "j1", "e1")),
        ("/tasks/hello/job/j1", Target("hello", "j1")),
        (
            "http://localhost:10000/tasks/hello/jobs/j1/executions/e1/",
            Target("hello", "j1", "e1", "http://localhost:10000"),
        ),
        ("https://x.example/prod/tasks/hello/jobs/j1", Target("hello", "j1", None, "https://x.example/prod")),
        ("http://h/tasks/hello/jobs/j1/stream/executions/e1/", Target("hello", "j1", "e1", "http://h")),
    ],
)
def test_targets_are_read_from_ids_paths_and_urls(text: str, expected: Target) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["", "a/b/c/d", "a//b", "http://h/nothing/here", "/elsewhere/x"])
def test_what_is_no_target_is_refused(text: str) -> None:
    with pytest.raises(TargetError):
        parse_target(text)


def test_a_target_knows_its_path() -> None:
    assert Target("t", "j", "e").path() == "/tasks/t/jobs/j/executions/e/"
    with pytest.raises(TargetError, match="names a task"):
        Target("t").job_path()


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        ("done", 0, 0),
        ("failed", 3, 3),
        ("failed", None, exit_codes.INFRASTRUCTURE),
        ("timedout", None, exit_codes.TIMED_OUT),
        ("stopped", 137, exit_codes.STOPPED),
        ("expired", None, exit_codes.INFRASTRUCTURE),
    ],
)
def test_exit_codes(status: str, code: int | None, expected: int) -> None:
    assert exit_codes.for_outcome(status, code) == expected


def test_the_cli_error_code_is_clicks() -> None:
    assert click.ClickException("x").exit_code == exit_codes.ERROR


def test_the_words_of_a_run_command() -> None:
    assert task_for_image("registry:5000/team/busybox:1.36") == "busybox"
    assert task_for_image("alpine@sha256:" + "a" * 64) == "alpine"
    assert command_text(("echo hi",)) == "echo hi"
    assert command_text(("sh", "-c", "echo a; exit 3")) == "sh -c 'echo a; exit 3'"
    assert parse_env(("A=1", "B=x=y", "C=")) == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(click.BadParameter):
        parse_env(("NOVALUE",))


def test_lines_go_to_their_stream_once_each() -> None:
    out, err = io.StringIO(), io.StringIO()
    follower = Follower(Client(Config("http://x")), Target("t", "j", "e"), stderr_console(), out=out, err=err)
    follower.print_lines([{"seq": 1, "stream": "stdout", "text": "a"}, {"seq": 2, "stream": "stderr", "text": "b"}])
    # A reconnect replays what was shown: only the new line is printed.
    follower.print_lines([{"seq": 1, "stream": "stdout", "text": "a"}, {"seq": 3, "stream": "stdout", "text": "c"}])
    assert (out.getvalue(), err.getvalue()) == ("a\nc\n", "b\n")


def test_what_a_waiting_run_waits_for() -> None:
    assert waiting_words({"status": "enqueued"}) == "enqueued: waiting for a runner…"
    assert waiting_words({"status": "pulling"}) == "pulling: pulling the image and creating the container…"
    later = {"status": "enqueued", "scheduledFor": "2999-01-02T03:04:05.000000"}
    assert waiting_words(later) == "enqueued: scheduled for 2999-01-02 03:04:05 UTC…"


def test_executions_are_selected_by_status_and_age_newest_first() -> None:
    def execution(eid: str, status: str, created: str) -> dict[str, str]:
        return {"executionId": eid, "status": status, "createdAt": created}

    jobs = [
        {"taskId": "t", "jobId": "j1", "executions": [execution("a", "failed", "2026-01-02T00:00:00.000000")]},
        {
            "taskId": "t",
            "jobId": "j2",
            "executions": [
                execution("b", "done", "2026-01-03T00:00:00.000000"),
                execution("c", "failed", "2026-01-01T00:00:00.000000"),
            ],
        },
    ]
    assert [e["executionId"] for e in select_executions(jobs, set(), None)] == ["b", "a", "c"]
    since = datetime(2026, 1, 1, 12, tzinfo=UTC)
    chosen = select_executions(jobs, {"failed"}, since)
    assert [(e["executionId"], e["jobId"]) for e in chosen] == [("a", "j1")]


def test_a_history_says_what_it_covers_and_its_summary_in_words() -> None:
    summary = {"runs": 3, "byStatus": {"done": 2, "failed": 1}, "timed": 3, "durationP50": 1.5, "durationP90": 75.0}

    assert covered({"summary": summary, "executionCount": 10}) == "the newest 3 of 10 runs"
    assert covered({"summary": summary, "executionCount": 3}) == "all 3 runs"
    assert summary_line(summary) == "done 2, failed 1; duration p50 1.5s, p90 1m 15s"
    untimed = {"runs": 1, "byStatus": {"enqueued": 1}, "timed": 0, "durationP50": None, "durationP90": None}
    assert summary_line(untimed) == "enqueued 1"
    assert summary_line({**untimed, "runs": 0, "byStatus": {}}) == "no runs"
