"""The service's CloudWatch dashboard and alarms (one construct, ``ServiceMonitoring``).

The figures are the ones ``chalicelib/domain/metrics.py`` names, written as EMF by the Lambdas
and sent with ``PutMetricData`` by the runners, under the same namespace, names, units and
dimensions (``service`` from the settings, plus ``Status`` or ``Host``), so each graph and alarm
adds up both sources: the runners' starts, ends, dispatch delay, queue age and slots in use, the
Lambdas' stops, reaped runs and webhook failures. Plus what AWS measures
itself: the dead-letter queues' depth, the job queues' oldest message, the dispatcher Lambda's
errors. Every construct id here starts with ``Metrics`` so it never collides with another alarm
of the stack.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CfnOutput, CfnResource, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.domain import metrics as catalogue
from chalicelib.domain.statuses import FINISHED
from chalicelib.settings import Settings

# The statistics graphed for the durations.
PERCENTILES = ("p50", "p99", "Maximum")


class ServiceMonitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        job_queues: Sequence[sqs.Queue],
        dead_letter_queues: dict[str, sqs.Queue],
        dispatcher: CfnResource | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.period = Duration.seconds(settings.alarm_period_seconds)
        self.alarms: list[cloudwatch.Alarm] = []
        for label, queue in dead_letter_queues.items():
            self._dead_letters_alarm(label, queue)
        self._infrastructure_failures_alarm()
        if dispatcher is not None:
            self._dispatcher_errors_alarm(dispatcher)
        self.dashboard = self._dashboard(job_queues, dead_letter_queues, dispatcher)
        CfnOutput(scope, "MetricsDashboardName", value=self.dashboard.dashboard_name)

    # -- metrics -----------------------------------------------------------------------------

    def _service_metric(
        self, metric: catalogue.Metric, statistic: str, dimension_value: str | None = None, label: str | None = None
    ) -> cloudwatch.Metric:
        dimensions = {"service": self.settings.metrics_service_name}
        if metric.dimension is not None and dimension_value is not None:
            dimensions[metric.dimension] = dimension_value
        return cloudwatch.Metric(
            namespace=self.settings.metrics_namespace,
            metric_name=metric.name,
            dimensions_map=dimensions,
            statistic=statistic,
            period=self.period,
            label=label,
        )

    def _alarm(self, name: str, **props: object) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self, f"MetricsAlarm{name}", alarm_name=f"{self.settings.stage}-slipway-{_kebab(name)}", **props
        )
        self.alarms.append(alarm)
        return alarm

    # -- alarms ------------------------------------------------------------------------------

    def _dead_letters_alarm(self, label: str, queue: sqs.Queue) -> None:
        self._alarm(
            f"{label}DeadLettersNotEmpty",
            alarm_description=f"{queue.queue_name} holds messages: work or notifications that gave up",
            metric=queue.metric_approximate_number_of_messages_visible(period=self.period, statistic="Maximum"),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _infrastructure_failures_alarm(self) -> None:
        self._alarm(
            "InfrastructureFailures",
            alarm_description="Executions failing with no exit code of their own (images, hosts, Docker)",
            metric=self._service_metric(catalogue.EXECUTIONS_INFRA_FAILED, "Sum"),
            threshold=self.settings.alarm_infra_failures,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _dispatcher_errors_alarm(self, dispatcher: CfnResource) -> None:
        self._alarm(
            "DispatcherErrors",
            alarm_description="The dispatcher Lambda failed: scheduled runs and lost messages wait",
            metric=_lambda_errors(dispatcher, self.period),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    # -- dashboard ---------------------------------------------------------------------------

    def _dashboard(
        self,
        job_queues: Sequence[sqs.Queue],
        dead_letter_queues: dict[str, sqs.Queue],
        dispatcher: CfnResource | None,
    ) -> cloudwatch.Dashboard:
        finished = [
            self._service_metric(catalogue.EXECUTIONS_FINISHED, "Sum", status.value, status.value)
            for status in sorted(FINISHED, key=lambda s: s.value)
        ]
        slots = cloudwatch.MathExpression(
            expression=(
                f"SEARCH('{{{self.settings.metrics_namespace},Host,service}} "
                f'MetricName="{catalogue.RUNNER_SLOTS_IN_USE.name}" '
                f"service=\"{self.settings.metrics_service_name}\"', 'Maximum', {int(self.period.to_seconds())})"
            ),
            label="",
            period=self.period,
        )
        rows: list[list[cloudwatch.IWidget]] = [
            [
                cloudwatch.GraphWidget(
                    title="Executions started and finished, by status",
                    left=[self._service_metric(catalogue.EXECUTIONS_STARTED, "Sum", label="started"), *finished],
                    width=12,
                ),
                cloudwatch.GraphWidget(
                    title="Failed by infrastructure · webhook failures",
                    left=[
                        self._service_metric(catalogue.EXECUTIONS_INFRA_FAILED, "Sum", label="infrastructure"),
                        self._service_metric(catalogue.WEBHOOK_FAILURES, "Sum", label="webhooks"),
                    ],
                    width=12,
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Dispatch delay (due → start), seconds",
                    left=[self._service_metric(catalogue.DISPATCH_DELAY, stat, label=stat) for stat in PERCENTILES],
                    width=8,
                ),
                cloudwatch.GraphWidget(
                    title="Queue age at receipt, seconds",
                    left=[self._service_metric(catalogue.QUEUE_AGE, stat, label=stat) for stat in PERCENTILES],
                    right=[
                        queue.metric_approximate_age_of_oldest_message(period=self.period, statistic="Maximum")
                        for queue in job_queues
                    ],
                    width=8,
                ),
                cloudwatch.GraphWidget(title="Runner slots in use, by host", left=[slots], width=8),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Dead letters",
                    width=8,
                    left=[
                        queue.metric_approximate_number_of_messages_visible(
                            period=self.period, statistic="Maximum", label=label
                        )
                        for label, queue in dead_letter_queues.items()
                    ],
                ),
                cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=8),
            ],
        ]
        if dispatcher is not None:
            errors = _lambda_errors(dispatcher, self.period)
            rows[2].insert(1, cloudwatch.GraphWidget(title="Dispatcher errors", left=[errors], width=8))
        name = f"{self.settings.stage}-slipway"
        hours = Duration.hours(3)
        dashboard = cloudwatch.Dashboard(self, "MetricsDashboard", dashboard_name=name, default_interval=hours)
        for row in rows:
            dashboard.add_widgets(*row)
        return dashboard


def _lambda_errors(function: CfnResource, period: Duration) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/Lambda",
        metric_name="Errors",
        dimensions_map={"FunctionName": function.ref},
        statistic="Sum",
        period=period,
    )


def _kebab(name: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))
