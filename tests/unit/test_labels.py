"""Container labels: written for an execution, read back, and Docker's time format."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.adapters.models import ExecutionModel
from chalicelib.settings import Settings
from runner import labels
from runner.docker_engine import parse_docker_time


def test_labels_name_the_stage_host_and_execution_and_read_back() -> None:
    settings = Settings(stage="s1", runner_host="h1")
    execution = ExecutionModel("job-1", "exec-1", task_id="task-1")

    written = labels.for_execution(settings, execution)

    assert written == {
        "slipway.stage": "s1",
        "slipway.host": "h1",
        "slipway.task": "task-1",
        "slipway.job": "job-1",
        "slipway.execution": "exec-1",
    }
    assert labels.of_this_host(settings).items() <= written.items()
    assert labels.of_stage(settings) == {"slipway.stage": "s1"}
    assert labels.owner(settings, written) == labels.Owner("task-1", "job-1", "exec-1", "h1")
    assert labels.owner(settings, {"slipway.stage": "s1"}) is None
    assert labels.container_name(settings, "exec-1") == "slipway-exec-1"


def test_docker_times_keep_microseconds_and_the_zero_time_means_never() -> None:
    assert parse_docker_time("2026-11-22T18:43:16.123456789Z") == datetime(2026, 11, 22, 18, 43, 16, 123456, UTC)
    assert parse_docker_time("2026-11-22T18:43:16Z") == datetime(2026, 11, 22, 18, 43, 16, tzinfo=UTC)
    assert parse_docker_time("0001-01-01T00:00:00Z") is None
    assert parse_docker_time("") is None
