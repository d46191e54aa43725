"""Dashboard ``payment-<env>`` and the alarms of the payment API, Collect, Refund and the hold sweeper.

The conventions every alarm follows (names, topic, missing data, runbook) are in ``payment_stack.alarms``; the
webhook route's and the event publisher's alarms are in ``payment_stack.payment.event_monitoring``.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from payment_stack.alarms import (
    BOOKING,
    PAYMENT,
    PERIOD,
    Alarms,
    MonitoringThresholds,
    allow_alarms_to_publish,
    create_alarm_topic,
    graph,
    payment_alarm_topic_name,
    service_metric,
)

# The values of the ``operation`` dimension Collect and Refund publish (``PaymentTask.name`` in the runtime code,
# which this package never imports; a unit test keeps the two in step).
OPERATIONS = ("collect", "refund")
API_GATEWAY_NAMESPACE = "AWS/ApiGateway"
# The hold sweeper runs every few minutes (at least daily): its failures are summed over several runs.
HOLD_SWEEPER_PERIOD = Duration.minutes(15)
# The ``reason`` the sweeper publishes ``HoldsReleased`` with.
ABANDONED = "abandoned"

# Keys of ``PaymentMonitoring.alarms`` (also the alarms' construct ids).
FAILED_PAYMENT_RATE = {operation: f"FailedPaymentRate{operation.title()}" for operation in OPERATIONS}
INVALID_PAYMENT_REQUESTS = {operation: f"InvalidPaymentRequest{operation.title()}" for operation in OPERATIONS}
API_5XX = "Api5xx"
API_LATENCY_P99 = "ApiLatencyP99"
PROVIDER_ERRORS = "ProviderError"
HOLD_SWEEPER_ERRORS = "HoldSweeperErrors"
# The function keys of the ``<Function>Errors`` and ``<Function>Throttles`` alarms.
API_FUNCTION = "ApiFunction"
HOLD_SWEEPER = "HoldSweeper"


def function_alarm_keys(function_key: str) -> tuple[str, str]:
    """The ``alarms`` keys of one function's Errors and Throttles alarms, e.g. ``("CollectErrors", ...)``."""
    return f"{function_key}Errors", f"{function_key}Throttles"


class PaymentMonitoring(Construct):
    """Dashboard ``payment-<env_name>`` and the alarms of the payment API, Collect, Refund and the hold sweeper.

    In: ``env_name`` (names the dashboard and the default topic), ``api`` (the payment REST API) and ``stage_name``
    (its stage; by default the deployment stage of a ``RestApi``), ``api_function``, ``collect``, ``refund`` and
    ``hold_sweeper`` (the four functions), ``alarm_topic`` (where notifications go; by default a new SSL-only topic
    ``payment-alarms-<env_name>``, which the booking alarms of the same environment may publish to as well),
    ``encryption_key`` (the KMS key of a topic created here; by default a key of its own; its policy gets the
    statement that lets CloudWatch use it) and ``thresholds``.

    Creates, each named ``payment-<env_name>-<key>`` and notifying the topic on ALARM and on OK, with missing data
    not breaching:

    - ``FailedPaymentRateCollect`` / ``...Refund``: metric math ``failed / (failed + successful)`` in percent over
      ServerlessAirline ``FailedPayment`` and ``SuccessfulPayment`` (``service=payment``, ``operation``), 0 while
      fewer than ``failed_payment_min_payments`` payments were attempted;
    - ``InvalidPaymentRequestCollect`` / ``...Refund``: sum of ``InvalidPaymentRequest`` per operation;
    - ``Api5xx`` and ``ApiLatencyP99``: AWS/ApiGateway ``5XXError`` (sum) and ``Latency`` (p99) of ``ApiName`` +
      ``Stage``;
    - ``ProviderError``: the API's ServerlessAirline ``ProviderError`` (``service=payment``);
    - ``<Function>Errors`` and ``<Function>Throttles`` for ``ApiFunction``, ``Collect`` and ``Refund``;
    - ``HoldSweeperErrors``: metric math, the sweeper's Lambda ``Errors`` plus ServerlessAirline ``HoldReleaseFailed``
      (``service=payment``), summed over 15 minutes.

    A topic this construct uses gets a policy statement that lets exactly these alarms (by name) publish to it.

    Exposes ``alarms`` (key -> ``cloudwatch.Alarm``, keys above; ``function_alarm_keys`` gives a function's two),
    ``alarm_topic`` and ``dashboard`` (``PaymentEventMonitoring`` adds its rows to it).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        api: apigw.IRestApi,
        api_function: lambda_.IFunction,
        collect: lambda_.IFunction,
        refund: lambda_.IFunction,
        hold_sweeper: lambda_.IFunction,
        stage_name: str | None = None,
        alarm_topic: sns.ITopic | None = None,
        encryption_key: kms.IKey | None = None,
        thresholds: MonitoringThresholds | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._thresholds = thresholds or MonitoringThresholds()
        stage = stage_name or _deployment_stage_name(api)
        self.alarm_topic: sns.ITopic = alarm_topic or create_alarm_topic(
            self, payment_alarm_topic_name(env_name), f"Payment alarms ({env_name})", encryption_key=encryption_key
        )
        # A topic made here also takes the booking alarms of the same environment (``import_payment_alarm_topic``).
        allow_alarms_to_publish(
            self.alarm_topic, env_name=env_name, components=(PAYMENT,) if alarm_topic else (PAYMENT, BOOKING)
        )
        self._alarms = Alarms(self, self.alarm_topic, env_name=env_name, component=PAYMENT)

        # Each group of alarms gives the dashboard row that graphs what they watch.
        payments_row = self._payment_alarms()
        api_row = self._api_alarms(api, stage)
        functions = {API_FUNCTION: api_function, "Collect": collect, "Refund": refund}
        self._function_alarms(functions)
        hold_sweeper_row = self._hold_sweeper_alarm(hold_sweeper)
        self.alarms: dict[str, cloudwatch.Alarm] = self._alarms.by_key

        self.dashboard = self._alarms.dashboard(
            "Payment service",
            "Payment API, Collect, Refund and the hold sweeper",
            [payments_row, api_row, _lambda_row({**functions, HOLD_SWEEPER: hold_sweeper}), hold_sweeper_row],
        )

    def _payment_alarms(self) -> list[cloudwatch.IWidget]:
        """Collect and Refund, per operation: the failed-payment rate and the invalid requests."""
        thresholds = self._thresholds
        payment_metrics: list[cloudwatch.IMetric] = []
        rate_metrics: list[cloudwatch.IMetric] = []
        invalid_metrics: list[cloudwatch.IMetric] = []
        for operation in OPERATIONS:
            failed = service_metric("FailedPayment", operation=operation)
            successful = service_metric("SuccessfulPayment", operation=operation)
            payment_metrics += [
                successful.with_(label=f"SuccessfulPayment {operation}"),
                failed.with_(label=f"FailedPayment {operation}"),
            ]
            rate = failed_payment_rate(
                failed, successful, operation=operation, min_payments=thresholds.failed_payment_min_payments
            )
            rate_metrics.append(rate)
            self._alarms.add(
                FAILED_PAYMENT_RATE[operation],
                rate,
                thresholds.failed_payment_rate_percent,
                f"More than {thresholds.failed_payment_rate_percent:g}% of {operation} payments failed in 5 minutes "
                f"(at least {thresholds.failed_payment_min_payments} attempted)",
            )
            invalid = service_metric("InvalidPaymentRequest", operation=operation)
            invalid_metrics.append(invalid.with_(label=f"InvalidPaymentRequest {operation}"))
            self._alarms.add(
                INVALID_PAYMENT_REQUESTS[operation],
                invalid,
                thresholds.invalid_payment_requests,
                f"More than {thresholds.invalid_payment_requests:g} invalid {operation} requests in 5 minutes: "
                "a caller sends bad booking state or the payment API refuses the requests",
            )
        return [
            graph("Payments (Collect / Refund)", payment_metrics),
            graph(
                "Failed payment rate (%)",
                rate_metrics,
                annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=thresholds.failed_payment_rate_percent, label="alarm threshold"
                    )
                ],
            ),
            graph("InvalidPaymentRequest", invalid_metrics),
        ]

    def _api_alarms(self, api: apigw.IRestApi, stage: str) -> list[cloudwatch.IWidget]:
        """The stage's 5xx answers and p99 latency, and the API's own count of Stripe failures."""
        thresholds = self._thresholds
        api_5xx = _api_metric(api, stage, "5XXError", "Sum")
        api_latency = _api_metric(api, stage, "Latency", "p99")
        self._alarms.add(
            API_5XX,
            api_5xx,
            thresholds.api_5xx_errors,
            f"More than {thresholds.api_5xx_errors:g} 5xx answers of the payment API (stage {stage}) in 5 minutes",
        )
        latency_alarm = self._alarms.add(
            API_LATENCY_P99,
            api_latency,
            thresholds.api_p99_latency_ms,
            f"p99 latency of the payment API (stage {stage}) above {thresholds.api_p99_latency_ms:g} ms for "
            f"{thresholds.api_latency_evaluation_periods} consecutive 5-minute periods",
            evaluation_periods=thresholds.api_latency_evaluation_periods,
        )
        provider_errors = service_metric("ProviderError")
        self._alarms.add(
            PROVIDER_ERRORS,
            provider_errors,
            thresholds.provider_errors,
            f"More than {thresholds.provider_errors:g} payment API errors answered 5xx/429 in 5 minutes (Stripe "
            "failing, timing out or rate limiting; Stripe key or idempotency table unavailable)",
        )
        return [
            graph(
                "API requests and errors",
                [
                    _api_metric(api, stage, "Count", "Sum").with_(label="Requests"),
                    _api_metric(api, stage, "4XXError", "Sum").with_(label="4xx"),
                    api_5xx.with_(label="5xx"),
                ],
            ),
            graph(
                "API latency (ms)",
                [
                    _api_metric(api, stage, "Latency", "p50").with_(label="Latency p50"),
                    api_latency.with_(label="Latency p99"),
                    _api_metric(api, stage, "IntegrationLatency", "p99").with_(label="Integration latency p99"),
                ],
                annotations=[latency_alarm.to_annotation()],
            ),
            graph(
                "Stripe (payment API metrics)",
                [
                    provider_errors,
                    service_metric("ChargeDeclined"),
                    service_metric("UnexpectedError"),
                    service_metric("RejectedRequest"),
                ],
            ),
        ]

    def _function_alarms(self, functions: Mapping[str, lambda_.IFunction]) -> None:
        """Errors and throttles of the API function, Collect and Refund."""
        thresholds = self._thresholds
        for key, function in functions.items():
            errors_key, throttles_key = function_alarm_keys(key)
            error_threshold = thresholds.api_function_errors if key == API_FUNCTION else thresholds.task_function_errors
            self._alarms.add(
                errors_key,
                function.metric_errors(period=PERIOD, statistic=cloudwatch.Stats.SUM),
                error_threshold,
                f"More than {error_threshold:g} errors of the {key} function in 5 minutes",
            )
            self._alarms.add(
                throttles_key,
                function.metric_throttles(period=PERIOD, statistic=cloudwatch.Stats.SUM),
                thresholds.lambda_throttles,
                f"More than {thresholds.lambda_throttles:g} throttled invocations of the {key} function in 5 minutes",
            )

    def _hold_sweeper_alarm(self, hold_sweeper: lambda_.IFunction) -> list[cloudwatch.IWidget]:
        """The sweeper's failed runs plus the holds it could not release, over 15 minutes."""
        thresholds = self._thresholds
        release_failed = service_metric("HoldReleaseFailed")
        sweeper_errors = hold_sweeper.metric_errors(period=HOLD_SWEEPER_PERIOD, statistic=cloudwatch.Stats.SUM)
        sweeper_failures = cloudwatch.MathExpression(
            # A period without a run has no datapoint of either metric: counted as 0, not as missing data.
            expression="FILL(sweeper_errors, 0) + FILL(release_failed, 0)",
            using_metrics={
                "sweeper_errors": sweeper_errors,
                "release_failed": release_failed.with_(period=HOLD_SWEEPER_PERIOD),
            },
            period=HOLD_SWEEPER_PERIOD,
            label="Sweeper errors + holds not released",
        )
        self._alarms.add(
            HOLD_SWEEPER_ERRORS,
            sweeper_failures,
            thresholds.hold_sweeper_failures,
            f"More than {thresholds.hold_sweeper_failures:g} failed hold sweeper runs or holds it could not release "
            "in 15 minutes: abandoned holds keep customers' money blocked",
        )
        return [
            graph(
                "Holds released",
                [
                    service_metric("HoldsReleased", reason=ABANDONED).with_(label="HoldsReleased abandoned"),
                    release_failed,
                ],
            ),
        ]


def failed_payment_rate(
    failed: cloudwatch.IMetric, successful: cloudwatch.IMetric, *, operation: str, min_payments: int
) -> cloudwatch.MathExpression:
    """``100 * failed / (failed + successful)`` over 5 minutes, and 0 while fewer than ``min_payments`` attempts.

    The metric ids are ``failed_<operation>`` and ``successful_<operation>`` (ids must be unique in a dashboard
    graph that shows both operations). ``FILL(..., 0)``: a period with failures only (or successes only) has no
    datapoint for the other metric.
    """
    failed_id, successful_id = failed_payment_rate_ids(operation)
    total = f"(FILL({failed_id}, 0) + FILL({successful_id}, 0))"
    return cloudwatch.MathExpression(
        expression=f"IF({total} >= {min_payments}, 100 * FILL({failed_id}, 0) / {total}, 0)",
        using_metrics={failed_id: failed, successful_id: successful},
        period=PERIOD,
        label=f"{operation} failure rate (%)",
    )


def failed_payment_rate_ids(operation: str) -> tuple[str, str]:
    """The metric-math ids of ``FailedPayment`` and ``SuccessfulPayment`` in the failure rate of ``operation``."""
    return f"failed_{operation}", f"successful_{operation}"


def _lambda_row(functions: Mapping[str, lambda_.IFunction]) -> list[cloudwatch.IWidget]:
    """Errors, throttles and p99 duration of every function, one line per function."""

    def per_function(metric: str, statistic: str) -> list[cloudwatch.IMetric]:
        return [
            function.metric(metric, period=PERIOD, statistic=statistic, label=key)
            for key, function in functions.items()
        ]

    return [
        graph("Lambda errors", per_function("Errors", cloudwatch.Stats.SUM)),
        graph("Lambda throttles", per_function("Throttles", cloudwatch.Stats.SUM)),
        graph("Lambda duration p99 (ms)", per_function("Duration", cloudwatch.Stats.percentile(99))),
    ]


def _deployment_stage_name(api: apigw.IRestApi) -> str:
    try:
        # jsii raises RuntimeError for an imported API or one created with deploy=False (no stage).
        stage = api.deployment_stage if isinstance(api, apigw.RestApiBase) else None
    except RuntimeError:
        stage = None
    if stage is None:
        raise ValueError("stage_name is required when api is not a RestApi with a deployment stage")
    return stage.stage_name


def _api_metric(api: apigw.IRestApi, stage: str, metric_name: str, statistic: str) -> cloudwatch.Metric:
    """An API Gateway metric of one stage (dimensions ``ApiName`` and ``Stage``)."""
    return cloudwatch.Metric(
        namespace=API_GATEWAY_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"ApiName": api.rest_api_name, "Stage": stage},
        statistic=statistic,
        period=PERIOD,
    )
