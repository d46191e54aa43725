"""Per-environment CloudWatch dashboards and alarms of the payment service and the booking workflow.

``PaymentMonitoring`` watches the payment API and the Collect and Refund functions (``Payment-<env>``);
``BookingMonitoring`` watches the booking saga and its dead-letter queue (``Booking-<env>``). Every alarm notifies
an SNS topic both when it fires and when it recovers, and treats missing data as not breaching: a quiet branch
environment never alarms. What each alarm means and what to do about it: README, "Operations: dashboards, alarms and
runbook".

The custom metrics are the ones the functions publish with Powertools (EMF, namespace ``ServerlessAirline``): every
metric carries the dimension ``service=payment`` (``POWERTOOLS_SERVICE_NAME``), Collect's and Refund's also
``operation=collect|refund`` (``lambdas/shared/payment_task.py``), and the hold sweeper's ``HoldsReleased`` also
``reason`` (``abandoned``; its ``HoldReleaseFailed`` has ``service`` only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from payment_stack.payment_function import METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME

# The values of the ``operation`` dimension Collect and Refund publish (``PaymentTask.name`` in the runtime code,
# which this package never imports; a unit test keeps the two in step).
OPERATIONS = ("collect", "refund")
API_GATEWAY_NAMESPACE = "AWS/ApiGateway"
# Every alarm but the dead-letter queue's looks at 5-minute sums (or percentiles).
PERIOD = Duration.minutes(5)
# A message in the dead-letter queue is money or a seat a human has to sort out: looked at every minute.
DEAD_LETTER_PERIOD = Duration.minutes(1)
# The hold sweeper runs every few minutes (at least daily): its failures are summed over several runs.
HOLD_SWEEPER_PERIOD = Duration.minutes(15)
# The ``reason`` the sweeper publishes ``HoldsReleased`` with.
ABANDONED = "abandoned"
RUNBOOK = 'README.md, "Operations: dashboards, alarms and runbook"'
# Alarm names start with "<component>-<env>-"; the topic policies let exactly these alarms publish.
PAYMENT = "payment"
BOOKING = "booking"
CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"
# What CloudWatch needs on the KMS key of an encrypted topic to publish to it (AWS's documented key policy).
ALARM_TOPIC_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")
# Nothing stays encrypted under a key made only for an alarm topic (SNS keeps no messages): it may always go, soon.
_ALARM_TOPIC_KEY_PENDING_WINDOW = Duration.days(7)

# Keys of ``PaymentMonitoring.alarms`` (also the alarms' construct ids).
FAILED_PAYMENT_RATE = {operation: f"FailedPaymentRate{operation.title()}" for operation in OPERATIONS}
INVALID_PAYMENT_REQUESTS = {operation: f"InvalidPaymentRequest{operation.title()}" for operation in OPERATIONS}
API_5XX = "Api5xx"
API_LATENCY_P99 = "ApiLatencyP99"
PROVIDER_ERRORS = "ProviderError"
HOLD_SWEEPER_ERRORS = "HoldSweeperErrors"
# Keys of ``BookingMonitoring.alarms``.
EXECUTIONS_FAILED = "ExecutionsFailed"
EXECUTIONS_TIMED_OUT = "ExecutionsTimedOut"
DEAD_LETTER_QUEUE_DEPTH = "DeadLetterQueueDepth"


def function_alarm_keys(function_key: str) -> tuple[str, str]:
    """The ``alarms`` keys of one function's Errors and Throttles alarms, e.g. ``("CollectErrors", ...)``."""
    return f"{function_key}Errors", f"{function_key}Throttles"


def alarm_name(component: str, env_name: str, key: str) -> str:
    """The CloudWatch name of alarm ``key`` of ``component`` (``payment`` or ``booking``) in ``env_name``."""
    return f"{component}-{env_name}-{key}"


def payment_alarm_topic_name(env_name: str) -> str:
    """The name of the topic ``PaymentMonitoring`` creates for ``env_name`` when it is given none."""
    return f"payment-alarms-{env_name}"


def booking_alarm_topic_name(env_name: str) -> str:
    """The name of the topic ``BookingMonitoring`` creates for ``env_name`` when it is given none."""
    return f"booking-alarms-{env_name}"


def import_payment_alarm_topic(scope: Construct, construct_id: str, *, env_name: str) -> sns.ITopic:
    """``payment-alarms-<env>`` (created by ``PaymentMonitoring`` in ``Payment-<env>``), found by name.

    For another stack of the same account and region, e.g. ``Booking-<env>``, so that one environment has one alarm
    topic without a cross-stack reference (that stack must be deployed after ``Payment-<env>``).
    """
    arn = Stack.of(scope).format_arn(service="sns", resource=payment_alarm_topic_name(env_name))
    return sns.Topic.from_topic_arn(scope, construct_id, arn)


@dataclass(frozen=True, kw_only=True)
class MonitoringThresholds:
    """When the alarms fire. Every count is per 5 minutes unless said otherwise; an alarm fires ABOVE its threshold.

    Defaults suit a low-traffic airline environment; production may want tighter or looser values (pass
    ``MonitoringThresholds(...)`` with only the fields to change).
    """

    # FailedPayment / (FailedPayment + SuccessfulPayment) of one operation, in percent. Every failed attempt counts
    # (declines, conflicts, the payment API being unavailable, each Step Functions retry again), so a few percent is
    # normal; above 5 % something is wrong with Stripe, the API or the callers.
    failed_payment_rate_percent: float = 5.0
    # ... but only once at least this many payments of that operation were attempted in the 5 minutes: one failure
    # out of two attempts is not an incident.
    failed_payment_min_payments: int = 10
    # InvalidPaymentRequest of one operation. The workflow validates chargeId before any payment step, so these mean
    # a caller (the Booking service) sends bad state, or the payment API refused the request (400/413/415).
    invalid_payment_requests: float = 5
    # AWS/ApiGateway 5XXError of stage Prod: the API's own 5xx (502 provider_error, 503, 504) and API Gateway's.
    api_5xx_errors: float = 5
    # p99 of AWS/ApiGateway Latency (ms, whole request) of stage Prod. Stripe usually answers well under a second;
    # the function gives up after 12 s.
    api_p99_latency_ms: float = 5000
    # ... for this many consecutive 5-minute periods (one slow request at low traffic is the whole p99).
    api_latency_evaluation_periods: int = 3
    # The payment API's ProviderError metric: payment errors answered with 5xx or 429 (Stripe failed, timed out or
    # rate-limited; the Stripe key missing or rejected; the idempotency table down).
    provider_errors: float = 5
    # Lambda Errors of the API function. Its handler turns every exception into an HTTP answer, so a Lambda error is
    # a crash, a timeout or an out-of-memory: alarm on the first.
    api_function_errors: float = 0
    # Lambda Errors of Collect and of Refund. Their typed payment errors (declined, conflict, unavailable) ARE Lambda
    # errors (that is how Step Functions sees them), so this overlaps FailedPayment; it catches crashes too.
    task_function_errors: float = 5
    # Lambda Throttles of each of the three functions: none expected (no reserved concurrency is set).
    lambda_throttles: float = 0
    # Lambda Errors of the hold sweeper plus the holds it could not release (HoldReleaseFailed), over 15 minutes:
    # either leaves abandoned holds blocking customers' money, so alarm on the first.
    hold_sweeper_failures: float = 0
    # AWS/States ExecutionsFailed of the booking state machine. Every booking that ends in "Booking Failed" (a
    # sold-out flight, a declined card, ...) is a failed execution, so raise this where such failures are routine.
    failed_executions: float = 0
    # AWS/States ExecutionsTimedOut of the booking state machine.
    timed_out_executions: float = 0
    # Maximum ApproximateNumberOfMessagesVisible of the dead-letter queue over 1 minute: any message needs a human.
    dead_letter_messages: float = 0
    # WebhookSignatureRejected of the payment API: webhook calls refused for a bad or missing Stripe signature or a
    # stale timestamp. A few are an attacker probing the public route or a secret mid-rotation; many mean the stored
    # webhook secret no longer matches Stripe's (every genuine event is refused) or a forgery attempt.
    webhook_signature_rejections: float = 10

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"MonitoringThresholds.{field.name} must be a number >= 0, got {value!r}")
        if self.failed_payment_rate_percent > 100:  # noqa: PLR2004 - a percentage
            raise ValueError("MonitoringThresholds.failed_payment_rate_percent must be at most 100")
        for name in ("failed_payment_min_payments", "api_latency_evaluation_periods"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"MonitoringThresholds.{name} must be a positive integer, got {value!r}")


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

    Exposes ``alarms`` (key -> ``cloudwatch.Alarm``, keys above), ``alarm_topic`` and ``dashboard``.
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
        thresholds = thresholds or MonitoringThresholds()
        stage = stage_name or _deployment_stage_name(api)
        self.alarm_topic: sns.ITopic = alarm_topic or _alarm_topic(
            self, payment_alarm_topic_name(env_name), f"Payment alarms ({env_name})", encryption_key=encryption_key
        )
        # A topic made here also takes the booking alarms of the same environment (``import_payment_alarm_topic``).
        _allow_alarms_to_publish(
            self.alarm_topic, env_name=env_name, components=(PAYMENT,) if alarm_topic else (PAYMENT, BOOKING)
        )
        alarms = Alarms(self, self.alarm_topic, env_name=env_name, component=PAYMENT)

        # --- payments (Collect and Refund, per operation) ------------------------------------------------------------
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
            alarms.add(
                FAILED_PAYMENT_RATE[operation],
                rate,
                thresholds.failed_payment_rate_percent,
                f"More than {thresholds.failed_payment_rate_percent:g}% of {operation} payments failed in 5 minutes "
                f"(at least {thresholds.failed_payment_min_payments} attempted)",
            )
            invalid = service_metric("InvalidPaymentRequest", operation=operation)
            invalid_metrics.append(invalid.with_(label=f"InvalidPaymentRequest {operation}"))
            alarms.add(
                INVALID_PAYMENT_REQUESTS[operation],
                invalid,
                thresholds.invalid_payment_requests,
                f"More than {thresholds.invalid_payment_requests:g} invalid {operation} requests in 5 minutes: "
                "a caller sends bad booking state or the payment API refuses the requests",
            )

        # --- the API -------------------------------------------------------------------------------------------------
        api_5xx = _api_metric(api, stage, "5XXError", "Sum")
        api_latency = _api_metric(api, stage, "Latency", "p99")
        alarms.add(
            API_5XX,
            api_5xx,
            thresholds.api_5xx_errors,
            f"More than {thresholds.api_5xx_errors:g} 5xx answers of the payment API (stage {stage}) in 5 minutes",
        )
        alarms.add(
            API_LATENCY_P99,
            api_latency,
            thresholds.api_p99_latency_ms,
            f"p99 latency of the payment API (stage {stage}) above {thresholds.api_p99_latency_ms:g} ms for "
            f"{thresholds.api_latency_evaluation_periods} consecutive 5-minute periods",
            evaluation_periods=thresholds.api_latency_evaluation_periods,
        )
        provider_errors = service_metric("ProviderError")
        alarms.add(
            PROVIDER_ERRORS,
            provider_errors,
            thresholds.provider_errors,
            f"More than {thresholds.provider_errors:g} payment API errors answered 5xx/429 in 5 minutes (Stripe "
            "failing, timing out or rate limiting; Stripe key or idempotency table unavailable)",
        )

        # --- the functions -------------------------------------------------------------------------------------------
        functions = {"ApiFunction": api_function, "Collect": collect, "Refund": refund}
        for key, function in functions.items():
            errors_key, throttles_key = function_alarm_keys(key)
            error_threshold = (
                thresholds.api_function_errors if key == "ApiFunction" else thresholds.task_function_errors
            )
            alarms.add(
                errors_key,
                function.metric_errors(period=PERIOD, statistic=cloudwatch.Stats.SUM),
                error_threshold,
                f"More than {error_threshold:g} errors of the {key} function in 5 minutes",
            )
            alarms.add(
                throttles_key,
                function.metric_throttles(period=PERIOD, statistic=cloudwatch.Stats.SUM),
                thresholds.lambda_throttles,
                f"More than {thresholds.lambda_throttles:g} throttled invocations of the {key} function in 5 minutes",
            )

        # --- the hold sweeper ----------------------------------------------------------------------------------------
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
        alarms.add(
            HOLD_SWEEPER_ERRORS,
            sweeper_failures,
            thresholds.hold_sweeper_failures,
            f"More than {thresholds.hold_sweeper_failures:g} failed hold sweeper runs or holds it could not release "
            "in 15 minutes: abandoned holds keep customers' money blocked",
        )
        self.alarms: dict[str, cloudwatch.Alarm] = alarms.by_key

        def per_function(metric: str, statistic: str) -> list[cloudwatch.IMetric]:
            return [
                function.metric(metric, period=PERIOD, statistic=statistic, label=key)
                for key, function in {**functions, "HoldSweeper": hold_sweeper}.items()
            ]

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"payment-{env_name}",
            default_interval=Duration.hours(3),
            widgets=[
                [
                    _header(f"Payment service ({env_name})", "Payment API, Collect, Refund and the hold sweeper"),
                    cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms.by_name, width=16, height=6),
                ],
                [
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
                ],
                [
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
                        annotations=[self.alarms[API_LATENCY_P99].to_annotation()],
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
                ],
                [
                    graph("Lambda errors", per_function("Errors", cloudwatch.Stats.SUM)),
                    graph("Lambda throttles", per_function("Throttles", cloudwatch.Stats.SUM)),
                    graph("Lambda duration p99 (ms)", per_function("Duration", cloudwatch.Stats.percentile(99))),
                ],
                [
                    graph(
                        "Holds released",
                        [
                            service_metric("HoldsReleased", reason=ABANDONED).with_(label="HoldsReleased abandoned"),
                            release_failed,
                        ],
                    ),
                ],
            ],
        )


class BookingMonitoring(Construct):
    """Dashboard ``booking-<env_name>`` and the alarms of the booking saga and its dead-letter queue.

    In: ``env_name`` (names the dashboard and the default topic), ``state_machine``, ``dead_letter_queue``,
    ``alarm_topic`` (where notifications go; by default a new SSL-only topic ``booking-alarms-<env_name>``; use
    ``import_payment_alarm_topic`` for one topic per environment), ``encryption_key`` (the KMS key of a topic created
    here, as for ``PaymentMonitoring``) and ``thresholds``.

    Creates, each named ``booking-<env_name>-<key>`` and notifying the topic on ALARM and on OK, with missing data
    not breaching: ``ExecutionsFailed`` and ``ExecutionsTimedOut`` (AWS/States sums over 5 minutes) and
    ``DeadLetterQueueDepth`` (maximum ApproximateNumberOfMessagesVisible over 1 minute: refunds, cancellations, seat
    releases or notifications that need a human). ``BookingWorkflow.dead_letter_alarm`` watches the same metric
    without actions; this one is the alarm that notifies (the workflow's can go once this construct is wired in).

    Exposes ``alarms`` (key -> ``cloudwatch.Alarm``, keys above), ``alarm_topic`` and ``dashboard``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        state_machine: sfn.IStateMachine,
        dead_letter_queue: sqs.IQueue,
        alarm_topic: sns.ITopic | None = None,
        encryption_key: kms.IKey | None = None,
        thresholds: MonitoringThresholds | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        thresholds = thresholds or MonitoringThresholds()
        self.alarm_topic: sns.ITopic = alarm_topic or _alarm_topic(
            self, booking_alarm_topic_name(env_name), f"Booking alarms ({env_name})", encryption_key=encryption_key
        )
        _allow_alarms_to_publish(self.alarm_topic, env_name=env_name, components=(BOOKING,))
        alarms = Alarms(self, self.alarm_topic, env_name=env_name, component=BOOKING)

        failed = state_machine.metric_failed(period=PERIOD, statistic=cloudwatch.Stats.SUM)
        timed_out = state_machine.metric_timed_out(period=PERIOD, statistic=cloudwatch.Stats.SUM)
        alarms.add(
            EXECUTIONS_FAILED,
            failed,
            thresholds.failed_executions,
            f"More than {thresholds.failed_executions:g} booking executions failed in 5 minutes (including bookings "
            "that ended compensated in 'Booking Failed')",
        )
        alarms.add(
            EXECUTIONS_TIMED_OUT,
            timed_out,
            thresholds.timed_out_executions,
            f"More than {thresholds.timed_out_executions:g} booking executions timed out in 5 minutes",
        )
        dead_letter_depth = dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=DEAD_LETTER_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
        )
        alarms.add(
            DEAD_LETTER_QUEUE_DEPTH,
            dead_letter_depth,
            thresholds.dead_letter_messages,
            "Booking compensation could not finish: a refund, cancellation, seat release or notification waits "
            "in the dead-letter queue for a human",
        )
        self.alarms: dict[str, cloudwatch.Alarm] = alarms.by_key

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"booking-{env_name}",
            default_interval=Duration.hours(3),
            widgets=[
                [
                    _header(f"Booking workflow ({env_name})", "The booking saga and its dead-letter queue"),
                    cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms.by_name, width=16, height=6),
                ],
                [
                    graph(
                        "Executions",
                        [
                            state_machine.metric_started(period=PERIOD, statistic=cloudwatch.Stats.SUM),
                            state_machine.metric_succeeded(period=PERIOD, statistic=cloudwatch.Stats.SUM),
                            failed,
                            timed_out,
                            state_machine.metric_aborted(period=PERIOD, statistic=cloudwatch.Stats.SUM),
                        ],
                    ),
                    graph(
                        "Execution time (ms)",
                        [
                            state_machine.metric_time(period=PERIOD, statistic=cloudwatch.Stats.percentile(50)),
                            state_machine.metric_time(period=PERIOD, statistic=cloudwatch.Stats.percentile(99)),
                        ],
                    ),
                    graph(
                        "Dead-letter queue",
                        [
                            dead_letter_depth,
                            dead_letter_queue.metric_approximate_age_of_oldest_message(
                                period=DEAD_LETTER_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
                            ),
                        ],
                    ),
                ],
            ],
        )


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


class Alarms:
    """Creates alarms the same way (above the threshold, missing data not breaching, topic on ALARM and OK).

    Each alarm is named ``<component>-<env>-<key>`` (readable in notifications, unique per environment). The
    dashboard refers to the alarms by that name, not by a reference to the resource: moto's CloudFormation (local
    mode) does not create alarms, and a ``Fn::GetAtt`` of one would fail the local deployment.
    """

    def __init__(self, scope: Construct, topic: sns.ITopic, *, env_name: str, component: str) -> None:
        self._scope = scope
        self._action = cloudwatch_actions.SnsAction(topic)
        self._prefix = f"{component.title()} ({env_name})"
        self._component = component
        self._env_name = env_name
        self.by_key: dict[str, cloudwatch.Alarm] = {}
        self.by_name: list[cloudwatch.IAlarm] = []

    def add(
        self,
        key: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        *,
        evaluation_periods: int = 1,
    ) -> cloudwatch.Alarm:
        name = alarm_name(self._component, self._env_name, key)
        alarm = cloudwatch.Alarm(
            self._scope,
            key,
            alarm_name=name,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{self._prefix}: {description}. Runbook: {RUNBOOK} ({key}).",
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.by_key[key] = alarm
        self.by_name.append(cloudwatch.Alarm.from_alarm_name(self._scope, f"{key}ByName", name))
        return alarm


def _alarm_topic(scope: Construct, topic_name: str, display_name: str, *, encryption_key: kms.IKey | None) -> sns.Topic:
    """An SSL-only topic encrypted with ``encryption_key`` (or a key of its own) that CloudWatch may publish to.

    CloudWatch alarms cannot publish to a topic encrypted with the AWS managed key (``alias/aws/sns``): a customer
    managed key whose policy lets ``cloudwatch.amazonaws.com`` use it is needed. The statement is added to the key's
    policy here; an imported key's policy cannot be changed from CDK and must allow it already.
    """
    key = encryption_key or kms.Key(
        scope,
        "AlarmTopicKey",
        description=f"Encrypts the SNS topic {topic_name}",
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.DESTROY,
        pending_window=_ALARM_TOPIC_KEY_PENDING_WINDOW,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchAlarmsPublishToEncryptedTopics",
            principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
            actions=list(ALARM_TOPIC_KEY_ACTIONS),
            resources=["*"],
        )
    )
    return sns.Topic(
        scope, "AlarmTopic", topic_name=topic_name, display_name=display_name, enforce_ssl=True, master_key=key
    )


def _allow_alarms_to_publish(topic: sns.ITopic, *, env_name: str, components: Sequence[str]) -> None:
    """Let the alarms of ``components`` in ``env_name`` (by name, in this account and region) publish to ``topic``.

    Needed because the SSL-only topic policy replaces SNS's default one, which let the account's alarms publish. An
    imported topic's policy cannot be changed from CDK (no-op): its owner must allow it (``PaymentMonitoring``'s
    own topic allows the booking alarms of its environment).
    """
    stack = Stack.of(topic)
    alarm_arns = [
        stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=alarm_name(component, env_name, "*"),
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        for component in components
    ]
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="".join(component.title() for component in components) + "AlarmsPublish",
            principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={"ArnLike": {"aws:SourceArn": alarm_arns}, "StringEquals": {"aws:SourceAccount": stack.account}},
        )
    )


def _deployment_stage_name(api: apigw.IRestApi) -> str:
    try:
        # jsii raises RuntimeError for an imported API or one created with deploy=False (no stage).
        stage = api.deployment_stage if isinstance(api, apigw.RestApiBase) else None
    except RuntimeError:
        stage = None
    if stage is None:
        raise ValueError("stage_name is required when api is not a RestApi with a deployment stage")
    return stage.stage_name


def service_metric(metric_name: str, **dimensions: str) -> cloudwatch.Metric:
    """A Powertools metric of the payment service: ``service=payment`` plus ``dimensions`` (``operation``,
    ``reason``), summed over 5 minutes."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"service": POWERTOOLS_SERVICE_NAME, **dimensions},
        statistic=cloudwatch.Stats.SUM,
        period=PERIOD,
    )


def _api_metric(api: apigw.IRestApi, stage: str, metric_name: str, statistic: str) -> cloudwatch.Metric:
    """An API Gateway metric of one stage (dimensions ``ApiName`` and ``Stage``)."""
    return cloudwatch.Metric(
        namespace=API_GATEWAY_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"ApiName": api.rest_api_name, "Stage": stage},
        statistic=statistic,
        period=PERIOD,
    )


def _header(title: str, subtitle: str) -> cloudwatch.TextWidget:
    return cloudwatch.TextWidget(
        markdown=f"# {title}\n{subtitle}. What each alarm means and what to do: {RUNBOOK}.", width=8, height=6
    )


def graph(
    title: str,
    metrics: Sequence[cloudwatch.IMetric],
    *,
    annotations: Sequence[cloudwatch.HorizontalAnnotation] = (),
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=title, left=list(metrics), left_annotations=list(annotations), width=8, height=6
    )
