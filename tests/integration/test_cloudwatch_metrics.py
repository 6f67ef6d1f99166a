"""The runner's metrics reach CloudWatch (the ``cloudwatch`` sink: PutMetricData), read back from
the local emulator's CloudWatch with GetMetricStatistics, GetMetricData and ListMetrics.

- In this process, against the session stack's emulator: the runner's flusher and the telemetry
  with the real adapter, names, units, dimensions and sums as the EMF documents have them, a
  metric with more distinct values than one call takes, and CloudWatch down for a flush (the
  values kept, sent whole at the next one).
- On a stack of its own, whose runner has ``SLIPWAY_METRICS_SINK=cloudwatch`` and reaches the
  emulator's CloudWatch through a link the test can cut: real jobs in Docker, their figures in
  CloudWatch; a run while CloudWatch is unreachable ends as it should, and its figures arrive
  once the link is back, once each.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from chalicelib.adapters import aws, cloudwatch_metrics, metrics
from chalicelib.domain import metrics as catalogue
from chalicelib.services import telemetry
from chalicelib.settings import get_settings
from infra.local.harness import StackProcess
from runner.metrics_flush import MetricsFlusher
from tests.conftest import LOG_DIR, Api
from tests.integration.faulty_link import FaultyLink

NAMESPACE = "Slipway"


def cloudwatch_of(endpoint: str) -> Any:
    """A client of the emulator's CloudWatch, apart from the process's shared ones."""
    return boto3.session.Session().client("cloudwatch", region_name="us-east-1", endpoint_url=endpoint)


def statistics(
    client: Any, metric: catalogue.Metric, service: str, dimension_value: str | None = None
) -> dict[str, float]:
    """SampleCount, Sum, Minimum and Maximum of ``metric`` over the last hour, with its unit."""
    dimensions = [{"Name": "service", "Value": service}]
    if dimension_value is not None and metric.dimension is not None:
        dimensions.append({"Name": metric.dimension, "Value": dimension_value})
    now = datetime.now(UTC)
    answer = client.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=metric.name,
        Dimensions=dimensions,
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5),
        Period=3600,
        Statistics=["SampleCount", "Sum", "Minimum", "Maximum"],
    )
    points = answer["Datapoints"]
    if not points:
        return {"SampleCount": 0.0, "Sum": 0.0}
    assert len(points) <= 2, points  # an hour's period: one or two buckets
    found: dict[str, Any] = {
        "SampleCount": sum(p["SampleCount"] for p in points),
        "Sum": sum(p["Sum"] for p in points),
        "Minimum": min(p["Minimum"] for p in points),
        "Maximum": max(p["Maximum"] for p in points),
    }
    assert {p["Unit"] for p in points} == {metric.unit.value}, points
    return found


def listed(client: Any, service: str) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    answer = client.list_metrics(Namespace=NAMESPACE, Dimensions=[{"Name": "service", "Value": service}])
    return {(m["MetricName"], frozenset((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in answer["Metrics"]}


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.25)


# -- in this process: the flusher and the real adapter ------------------------------------------


@pytest.fixture
def cloudwatch_sink(stack: StackProcess) -> Iterator[str]:
    """This process's metrics go to the session emulator's CloudWatch, under a ``service`` of the
    test's own; answers that service."""
    metrics.flush()  # what this process buffered before goes where it was going
    service = f"test-{uuid.uuid4().hex[:10]}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SLIPWAY_METRICS_SINK", "cloudwatch")
        patch.setenv("SLIPWAY_METRICS_SERVICE", service)
        get_settings.cache_clear()
        cloudwatch_metrics.forget_backlog()
        yield service
        cloudwatch_metrics.forget_backlog()
    get_settings.cache_clear()
    aws.forget_clients()


def _execution(delay: float, exit_code: int | None) -> Any:
    """What telemetry reads of an execution (its times and exit code)."""
    created = datetime(2026, 1, 1, tzinfo=UTC)
    return SimpleNamespace(
        created_at=created, scheduled_for=None, started_at=created + timedelta(seconds=delay), exit_code=exit_code
    )


def test_the_clients_protocol_is_one_the_emulator_reads() -> None:
    # botocore prefers JSON to CBOR for CloudWatch; the emulator's virtualenv has no CBOR decoder,
    # and a CBOR PutMetricData there is answered 200 with nothing stored (measured).
    protocol = cloudwatch_of("http://127.0.0.1:9").meta.service_model.resolved_protocol
    assert protocol in ("json", "query"), protocol


def test_flushed_values_reach_cloudwatch_as_the_emf_documents_name_them(
    stack: StackProcess, cloudwatch_sink: str
) -> None:
    service = cloudwatch_sink
    flusher = MetricsFlusher("host-a", 60, lambda: 3)
    delays = [i / 100 for i in range(1, 401)]  # 400 distinct values: three calls for DispatchDelay
    for delay in delays:
        telemetry.execution_started(_execution(delay, 0))
    telemetry.execution_finished(_execution(1, 0), "done")
    telemetry.execution_finished(_execution(1, 3), "failed")
    telemetry.execution_finished(_execution(1, None), "failed")  # no exit code: infrastructure
    now = time.time()
    telemetry.message_received(now - 2.5, 0, 0, now)
    telemetry.webhook_failed()

    sent = flusher.flush()

    assert sent == 400 + 400 + 3 + 1 + 1 + 1 + 1  # starts, delays, ends, infra, queue age, webhook, slots
    client = cloudwatch_of(stack.aws_endpoint)
    plain = frozenset({("service", service)})
    assert listed(client, service) == {
        ("ExecutionsStarted", plain),
        ("DispatchDelay", plain),
        ("ExecutionsFinished", plain | {("Status", "done")}),
        ("ExecutionsFinished", plain | {("Status", "failed")}),
        ("ExecutionsFailedByInfrastructure", plain),
        ("QueueAge", plain),
        ("WebhookFailures", plain),
        ("RunnerSlotsInUse", plain | {("Host", "host-a")}),
    }
    assert statistics(client, catalogue.EXECUTIONS_STARTED, service)["Sum"] == 400
    delay = statistics(client, catalogue.DISPATCH_DELAY, service)
    assert (delay["SampleCount"], delay["Minimum"], delay["Maximum"]) == (400, 0.01, 4.0)
    assert delay["Sum"] == pytest.approx(sum(delays))
    assert statistics(client, catalogue.EXECUTIONS_FINISHED, service, "done")["Sum"] == 1
    assert statistics(client, catalogue.EXECUTIONS_FINISHED, service, "failed")["Sum"] == 2
    assert statistics(client, catalogue.EXECUTIONS_INFRA_FAILED, service)["Sum"] == 1
    assert statistics(client, catalogue.QUEUE_AGE, service)["Sum"] == pytest.approx(2.5, abs=0.01)
    assert statistics(client, catalogue.WEBHOOK_FAILURES, service)["Sum"] == 1
    assert statistics(client, catalogue.RUNNER_SLOTS_IN_USE, service, "host-a")["Maximum"] == 3
    # The distribution is whole (Values/Counts), so the dashboard's percentiles are CloudWatch's.
    [p50] = _metric_data(client, catalogue.DISPATCH_DELAY, service, "p50")
    assert p50 == pytest.approx(2.0, abs=0.02)
    assert flusher.flush() == 1, "flushed: only the slots in use go out the next time"


def _metric_data(client: Any, metric: catalogue.Metric, service: str, stat: str) -> list[float]:
    now = datetime.now(UTC)
    query = {
        "Id": "m",
        "MetricStat": {
            "Metric": {
                "Namespace": NAMESPACE,
                "MetricName": metric.name,
                "Dimensions": [{"Name": "service", "Value": service}],
            },
            "Period": 3600 * 24,
            "Stat": stat,
        },
    }
    answer = client.get_metric_data(
        MetricDataQueries=[query], StartTime=now - timedelta(hours=12), EndTime=now + timedelta(hours=12)
    )
    return [float(v) for v in answer["MetricDataResults"][0]["Values"]]


def test_a_flush_that_cannot_reach_cloudwatch_keeps_its_values_for_the_next(
    stack: StackProcess, cloudwatch_sink: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = cloudwatch_sink
    with FaultyLink(stack.aws_endpoint) as link:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", link.url)
        aws.forget_clients()
        flusher = MetricsFlusher("host-b", 60, lambda: 1)
        link.cut()
        for _ in range(5):
            telemetry.execution_started(_execution(0.5, 0))
        telemetry.execution_finished(_execution(1, 0), "done")

        started = time.monotonic()
        assert flusher.flush() == 0
        seconds = time.monotonic() - started
        assert cloudwatch_metrics.waiting() == 5 + 5 + 1 + 1  # starts, delays, end, slots
        client = cloudwatch_of(stack.aws_endpoint)
        assert listed(client, service) == set()

        link.restore()
        telemetry.execution_started(_execution(0.25, 0))
        assert flusher.flush() == 12 + 3  # the kept values, then the new start, delay and slots

    assert cloudwatch_metrics.waiting() == 0
    assert statistics(client, catalogue.EXECUTIONS_STARTED, service)["Sum"] == 6
    assert statistics(client, catalogue.DISPATCH_DELAY, service)["SampleCount"] == 6
    assert statistics(client, catalogue.EXECUTIONS_FINISHED, service, "done")["Sum"] == 1
    assert statistics(client, catalogue.RUNNER_SLOTS_IN_USE, service, "host-b")["SampleCount"] == 2
    print(f"\na flush with CloudWatch unreachable gave up after {seconds * 1000:.0f} ms")
    assert seconds < 5


# -- a real runner on a stack of its own ----------------------------------------------------------


@dataclass
class Metered:
    api: Api
    stack: StackProcess
    link: FaultyLink
    service: str
    host: str

    def cloudwatch(self) -> Any:
        return cloudwatch_of(self.stack.aws_endpoint)

    def sum(self, metric: catalogue.Metric, dimension_value: str | None = None) -> float:
        return statistics(self.cloudwatch(), metric, self.service, dimension_value)["Sum"]


@pytest.fixture(scope="module")
def metered() -> Iterator[Metered]:
    suffix = uuid.uuid4().hex[:8]
    service, host = f"e2e-{suffix}", f"metered-{suffix}"
    stack = StackProcess(log_path=LOG_DIR / "cloudwatch-metrics-stack.log")
    # The runner reaches CloudWatch through the link, everything else of the emulator directly.
    link = FaultyLink(stack.aws_endpoint).start()
    stack.runner_envs = [
        {
            "SLIPWAY_METRICS_SINK": "cloudwatch",
            "SLIPWAY_METRICS_FLUSH_SECONDS": "1",
            "SLIPWAY_METRICS_SERVICE": service,
            "SLIPWAY_RUNNER_HOST": host,
            "AWS_ENDPOINT_URL_CLOUDWATCH": link.url,
        }
    ]
    stack.start()
    try:
        yield Metered(Api(stack.base_url), stack, link, service, host)
    finally:
        stack.stop()
        link.stop()


def test_a_runners_figures_reach_cloudwatch(metered: Metered, task_id: str) -> None:
    api = metered.api
    ok = api.enqueue(task_id, "echo fine")
    failing = api.enqueue(task_id, "sh -c 'exit 4'")
    missing = api.enqueue(task_id, "true", image="slipway-test/no-such-image:latest")
    ends = [api.wait_finished(e["executionUrl"], timeout=60)["status"] for e in (ok, failing, missing)]
    assert ends == ["done", "failed", "failed"]

    wait_until(
        lambda: metered.sum(catalogue.EXECUTIONS_FINISHED, "failed") >= 2,
        timeout=15,
        what="the runner's ends in CloudWatch",
    )
    client = metered.cloudwatch()
    assert metered.sum(catalogue.EXECUTIONS_FINISHED, "done") == 1
    assert metered.sum(catalogue.EXECUTIONS_FINISHED, "failed") == 2
    # The missing image: a failure of the infrastructure, and no container started.
    assert metered.sum(catalogue.EXECUTIONS_INFRA_FAILED) == 1
    assert metered.sum(catalogue.EXECUTIONS_STARTED) == 2
    delay = statistics(client, catalogue.DISPATCH_DELAY, metered.service)
    assert delay["SampleCount"] == 2 and 0 <= delay["Minimum"] <= delay["Maximum"] < 30
    assert statistics(client, catalogue.QUEUE_AGE, metered.service)["SampleCount"] == 3
    slots = statistics(client, catalogue.RUNNER_SLOTS_IN_USE, metered.service, metered.host)
    assert slots["SampleCount"] >= 1 and slots["Minimum"] >= 0
    # Every metric under the service dimension, with at most its own dimension beside it.
    dimension_names: dict[str, set[frozenset[str]]] = {}
    for name, dimensions in listed(client, metered.service):
        dimension_names.setdefault(name, set()).add(frozenset(n for n, _ in dimensions))
    assert dimension_names == {
        "ExecutionsStarted": {frozenset({"service"})},
        "ExecutionsFinished": {frozenset({"service", "Status"})},
        "ExecutionsFailedByInfrastructure": {frozenset({"service"})},
        "DispatchDelay": {frozenset({"service"})},
        "QueueAge": {frozenset({"service"})},
        "RunnerSlotsInUse": {frozenset({"service", "Host"})},
    }


def test_a_run_while_cloudwatch_is_unreachable_is_unharmed_and_its_figures_arrive_later(
    metered: Metered, task_id: str
) -> None:
    api = metered.api
    before = {
        "started": metered.sum(catalogue.EXECUTIONS_STARTED),
        "done": metered.sum(catalogue.EXECUTIONS_FINISHED, "done"),
    }
    log = metered.stack.log_path
    assert log is not None
    log_size = log.stat().st_size
    metered.link.cut()
    try:
        enqueued = api.enqueue(task_id, "echo still-fine")
        execution = api.wait_finished(enqueued["executionUrl"], timeout=60)
        assert (execution["status"], execution["exitCode"], execution["log"]) == ("done", 0, "still-fine\n")
        # A few flushes fail meanwhile: the runner says so, and nothing new reached CloudWatch.
        wait_until(
            lambda: "kept for the next flush" in log.read_bytes()[log_size:].decode(errors="replace"),
            timeout=10,
            what="a failed flush logged by the runner",
        )
        time.sleep(2)
        assert metered.sum(catalogue.EXECUTIONS_STARTED) == before["started"]
    finally:
        metered.link.restore()

    wait_until(
        lambda: metered.sum(catalogue.EXECUTIONS_FINISHED, "done") >= before["done"] + 1,
        timeout=15,
        what="the kept figures in CloudWatch",
    )
    time.sleep(2)  # another flush or two: nothing is sent twice
    assert metered.sum(catalogue.EXECUTIONS_STARTED) == before["started"] + 1
    assert metered.sum(catalogue.EXECUTIONS_FINISHED, "done") == before["done"] + 1
