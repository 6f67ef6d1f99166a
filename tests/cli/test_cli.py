"""The ``slipway`` CLI as a user runs it: a subprocess against the real local stack (API over
HTTP and WebSocket, the dispatcher, a runner on the real Docker Engine)."""

from __future__ import annotations

import shutil
import sys
import time
import tomllib
from pathlib import Path

from infra.local.harness import StackProcess
from slipway_cli import exit_codes
from tests.cli.support import ROOT, follow, slipway, slipway_json
from tests.conftest import TEST_IMAGE, Api, parse_iso
from tests.integration.stored_runs import store_finished_runs

PRINTS_SLOWLY = "sleep 2; for i in 1 2 3 4 5; do echo out-$i; echo err-$i >&2; sleep 1; done; exit 3"


def test_run_follow_shows_lines_while_the_container_runs_and_exits_with_its_code(
    stack: StackProcess, api: Api, task_id: str
) -> None:
    # The container waits 2 s before its first line, so the CLI is connected by then even on a
    # loaded machine; then one line a second on each stream, and exit 3.
    followed = follow(stack.base_url, "run", "--task", task_id, TEST_IMAGE, "sh", "-c", PRINTS_SLOWLY, "-f")

    assert followed.returncode == 3, followed.stderr.texts
    assert followed.stdout.texts == [f"out-{i}" for i in range(1, 6)]
    assert [t for t in followed.stderr.texts if t.startswith("err-")] == [f"err-{i}" for i in range(1, 6)]
    assert any("execution failed, exit code 3" in t for t in followed.stderr.texts)
    # Live, not at the end: out-1 was shown seconds before the container exited, and the lines
    # came spread over the ~4 s the container printed them in, not as one batch.
    [job] = api.get(f"/tasks/{task_id}/").json()["jobs"]
    [execution] = api.get(job["url"]).json()["job"]["executions"]
    finished = parse_iso(execution["finishedAt"]).timestamp()
    assert followed.stdout.at("out-1") < finished - 2.0
    assert followed.stdout.at("out-5") - followed.stdout.at("out-1") > 2.5


def test_run_follow_of_a_timed_out_run_exits_124(stack: StackProcess, task_id: str) -> None:
    followed = follow(stack.base_url, "run", "-t", task_id, "--timeout", "2", TEST_IMAGE, "sleep", "30", "-f")

    assert followed.returncode == exit_codes.TIMED_OUT == 124
    assert any("execution timedout" in t for t in followed.stderr.texts)


def test_run_follow_of_an_image_that_cannot_be_pulled_exits_125(stack: StackProcess, task_id: str) -> None:
    image = "127.0.0.1:9/slipway-test/absent:latest"  # a registry on a closed port: refused at once
    followed = follow(stack.base_url, "run", "-t", task_id, image, "true", "-f")

    assert followed.returncode == exit_codes.INFRASTRUCTURE == 125
    assert any("execution failed" in t for t in followed.stderr.texts)


def test_run_with_env_without_follow_then_logs(stack: StackProcess, api: Api, task_id: str) -> None:
    enqueued = slipway_json(
        stack.base_url, "run", "-t", task_id, "-e", "WHO=cli", TEST_IMAGE, "sh", "-c", "echo hi $WHO; echo oops >&2"
    )

    assert enqueued["taskId"] == task_id and enqueued["executionUrl"]
    api.wait_finished(enqueued["executionUrl"])
    shown = slipway(stack.base_url, "logs", enqueued["executionUrl"])
    assert (shown.returncode, shown.stdout, shown.stderr) == (0, "hi cli\n", "oops\n")
    latest = slipway(stack.base_url, "logs", f"{task_id}/{enqueued['jobId']}")
    assert latest.stdout == "hi cli\n"


def test_logs_follow_waits_for_a_run_that_has_not_started(stack: StackProcess, task_id: str) -> None:
    enqueued = slipway_json(stack.base_url, "run", "-t", task_id, "--start-in", "4s", TEST_IMAGE, "echo", "later")
    assert enqueued["executionId"] is None

    started = time.monotonic()
    followed = follow(stack.base_url, "logs", "-f", enqueued["jobUrl"])

    assert followed.returncode == 0, followed.stderr.texts
    assert followed.stdout.texts == ["later"]
    # Due within the dispatcher's look-ahead, its execution is made at once but ``scheduled``, which
    # the job does not list until a runner claims it: the CLI waits for the job's first run.
    assert any("waiting for the job's first run (due" in t for t in followed.stderr.texts), followed.stderr.texts
    assert time.monotonic() - started > 2.0


def test_logs_follow_of_a_cron_waits_for_its_first_run_instead_of_failing(stack: StackProcess, task_id: str) -> None:
    enqueued = slipway_json(stack.base_url, "run", "-t", task_id, "--cron", "0 3 * * *", TEST_IMAGE, "true")

    waiting = follow(stack.base_url, "logs", "-f", f"{task_id}/{enqueued['jobId']}", kill_after=4)

    assert waiting.returncode == -9  # still waiting when killed: no error, no exit
    assert any("waiting for the job's first run (due" in t for t in waiting.stderr.texts), waiting.stderr.texts
    slipway(stack.base_url, "stop", enqueued["jobUrl"])


def test_ls_get_search_retry_and_stop(stack: StackProcess, api: Api, task_id: str) -> None:
    url = stack.base_url
    ok = slipway_json(url, "run", "-t", task_id, TEST_IMAGE, "true")
    bad = slipway_json(url, "run", "-t", task_id, TEST_IMAGE, "sh", "-c", "exit 7")
    api.wait_finished(ok["executionUrl"])
    api.wait_finished(bad["executionUrl"])

    assert task_id in {t["taskId"] for t in slipway_json(url, "ls")}
    jobs = slipway_json(url, "ls", "jobs", "--task", task_id)
    assert {j["jobId"] for j in jobs} == {ok["jobId"], bad["jobId"]}
    failed = slipway_json(url, "ls", "executions", "--task", task_id, "--status", "failed", "--since", "1h")
    assert [(e["executionId"], e["exitCode"]) for e in failed] == [(bad["executionId"], 7)]
    assert slipway_json(url, "ls", "executions", "--task", task_id, "--since", "1h", "--limit", "1")[0][
        "executionId"
    ] in {
        ok["executionId"],
        bad["executionId"],
    }
    table = slipway(url, "ls", "executions", "--task", task_id)
    assert table.returncode == 0 and bad["executionId"] in table.stdout and "failed" in table.stdout

    job = slipway_json(url, "get", f"{task_id}/{bad['jobId']}")
    assert job["job"]["jobId"] == bad["jobId"] and job["job"]["executions"][0]["exitCode"] == 7
    execution = slipway(url, "get", bad["executionUrl"])
    assert execution.returncode == 0 and "exit code" in execution.stdout and "7" in execution.stdout
    assert task_id in {t["taskId"] for t in slipway_json(url, "search", task_id)}

    retried = slipway_json(url, "retry", bad["jobUrl"])
    assert api.wait_finished(retried["executionUrl"])["exitCode"] == 7

    sleeper = slipway_json(url, "run", "-t", task_id, TEST_IMAGE, "sleep", "60")
    api.wait_for(sleeper["executionUrl"], lambda b: b["execution"]["status"] == "running", timeout=60)
    stopped = slipway(url, "stop", sleeper["executionUrl"])
    assert stopped.returncode == 0 and "stop requested" in stopped.stdout
    assert api.wait_finished(sleeper["executionUrl"])["status"] == "stopped"


def test_history_shows_a_jobs_newest_runs_oldest_first_with_their_summary(stack: StackProcess, task_id: str) -> None:
    job_id, runs = store_finished_runs(task_id, 25)
    job = f"{task_id}/{job_id}"

    answer = slipway_json(stack.base_url, "history", job)
    assert [run["executionId"] for run in answer["executions"]] == [run.execution_id for run in runs]
    assert answer["summary"]["runs"] == 25 and answer["executionCount"] == 25

    shown = slipway(stack.base_url, "history", f"{stack.base_url}/tasks/{task_id}/jobs/{job_id}/", "-n", "5")
    assert shown.returncode == 0, shown.stderr
    assert "the newest 5 of 25 runs" in shown.stdout
    lines = shown.stdout.splitlines()
    newest = [run.execution_id for run in runs[-5:]]
    # Oldest first: each of the five ids on its row, in that order.
    assert [next(i for i, line in enumerate(lines) if e in line) for e in newest] == sorted(
        next(i for i, line in enumerate(lines) if e in line) for e in newest
    )
    done, failed = (sum(run.status == status for run in runs[-5:]) for status in ("done", "failed"))
    assert f"done {done}, failed {failed}; duration p50 " in shown.stdout

    missing = slipway(stack.base_url, "history", f"{task_id}/0b6c1a52-6d0f-4f3e-9a55-5c8a2f0e7d11")
    assert missing.returncode == exit_codes.ERROR and "404" in missing.stderr
    refused = slipway(stack.base_url, "history", job, "-n", "0")
    assert refused.returncode == exit_codes.USAGE


def test_errors_are_one_line_and_exit_1(stack: StackProcess, task_id: str) -> None:
    missing = slipway(stack.base_url, "get", f"{task_id}/0b6c1a52-6d0f-4f3e-9a55-5c8a2f0e7d11")
    assert missing.returncode == exit_codes.ERROR == 1
    assert "404" in missing.stderr and "does not exist" in missing.stderr
    refused = slipway(stack.base_url, "run", "-t", task_id, "Not/An:Image:", "true")
    assert refused.returncode == 1 and "400" in refused.stderr and "(image)" in refused.stderr
    unreachable = slipway("http://127.0.0.1:9", "ls")
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr


def test_status_shows_the_farm(stack: StackProcess) -> None:
    farm = slipway_json(stack.base_url, "status")
    assert farm["hosts"] and {"containers", "pools", "queues", "jobs", "tasks"} <= set(farm)
    shown = slipway(stack.base_url, "status")
    assert shown.returncode == 0
    for title in ("hosts", "pools", "queues", "running containers", "scheduled jobs"):
        assert title in shown.stdout
    assert farm["hosts"][0]["id"] in shown.stdout


def test_suspend_resume_and_run_now_with_overrides(stack: StackProcess, api: Api, task_id: str) -> None:
    url = stack.base_url
    cron = slipway_json(
        url,
        "run",
        "-t",
        task_id,
        "--cron",
        "0 3 * * *",
        "--tz",
        "Europe/Berlin",
        "-e",
        "MODE=full",
        TEST_IMAGE,
        "sh",
        "-c",
        "echo mode=$MODE",
    )
    job = f"{task_id}/{cron['jobId']}"

    suspended = slipway_json(url, "suspend", job)
    assert (suspended["suspended"], suspended["nextRunAt"]) == (True, None)
    assert slipway_json(url, "get", job)["job"]["suspended"] is True
    listed = slipway(url, "ls", "jobs", "--task", task_id)
    assert "0 3 * * * (Europe/Berlin) (suspended)" in listed.stdout, listed.stdout

    followed = follow(url, "run-now", job, "-e", "MODE=dry", "-f")
    assert followed.returncode == 0 and followed.stdout.texts == ["mode=dry"]
    commanded = follow(url, "run-now", cron["jobUrl"], "--command", "sh -c 'echo other; exit 5'", "-f")
    assert commanded.returncode == 5 and commanded.stdout.texts == ["other"]

    resumed = slipway_json(url, "resume", job)
    assert resumed["suspended"] is False
    next_run = parse_iso(resumed["nextRunAt"])
    assert next_run.minute == 0 and next_run.hour in (1, 2)  # 03:00 in Berlin, CET or CEST
    # Every env value is masked in answers (SLIPWAY_VISIBLE_ENV_NAMES names those shown).
    assert api.get(cron["jobUrl"]).json()["job"]["metadata"]["envs"] == {"MODE": "***"}


def test_cron_explain_says_the_next_instants_in_words(stack: StackProcess) -> None:
    shown = slipway(
        stack.base_url, "cron", "explain", "0 3 * * 1-5", "--tz", "Europe/Berlin", "--after", "2026-03-26T12:00"
    )

    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == '"0 3 * * 1-5" in Europe/Berlin, the next 5 instants:'
    # Across the switch to summer time (29 March): 03:00 is 02:00 UTC, then 01:00 UTC.
    assert lines[1:] == [
        "  1. Friday 27 March 2026 at 03:00 CET (02:00 UTC), in 14h 00m",
        "  2. Monday 30 March 2026 at 03:00 CEST (01:00 UTC), in 3d 13h",
        "  3. Tuesday 31 March 2026 at 03:00 CEST (01:00 UTC), in 4d 13h",
        "  4. Wednesday 1 April 2026 at 03:00 CEST (01:00 UTC), in 5d 13h",
        "  5. Thursday 2 April 2026 at 03:00 CEST (01:00 UTC), in 6d 13h",
    ]
    as_json = slipway_json(stack.base_url, "cron", "explain", "*/15 * * * *", "-n", "2", "--after", "2026-01-01T00:07")
    assert as_json == [
        {"utc": "2026-01-01T00:15:00+00:00", "local": "2026-01-01T00:15:00+00:00"},
        {"utc": "2026-01-01T00:30:00+00:00", "local": "2026-01-01T00:30:00+00:00"},
    ]
    wrong = slipway(stack.base_url, "cron", "explain", "61 * * * *")
    assert wrong.returncode == exit_codes.USAGE and "not a 5-field cron expression" in wrong.stderr
    zone = slipway(stack.base_url, "cron", "explain", "0 3 * * *", "--tz", "Mars/Olympus")
    assert zone.returncode == exit_codes.USAGE and "not an IANA time zone" in zone.stderr


def test_the_console_script_is_declared_and_installed() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["slipway"] == "slipway_cli.main:main"
    script = Path(sys.executable).with_name("slipway")
    found = script if script.exists() else shutil.which("slipway")
    assert found, "bin/setup.sh installs the project (pip install -e .), which puts slipway beside python"
    import subprocess

    shown = subprocess.run([str(found), "--help"], check=False, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "run-now" in shown.stdout
