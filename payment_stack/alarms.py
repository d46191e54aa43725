"""What every dashboard and alarm of the service shares: names, thresholds, the alarm topics, the way alarms are made.

``PaymentMonitoring`` and ``PaymentEventMonitoring`` (``payment_stack.payment``) watch ``Payment-<env>``;
``BookingMonitoring`` (``payment_stack.booking``) watches the booking saga and its dead-letter queue
(``Booking-<env>``). Every alarm notifies an SNS topic both when it fires and when it recovers, and treats missing
data as not breaching: a quiet branch environment never alarms. What each alarm means and what to do about it:
README, "Operations: dashboards, alarms and runbook".

The custom metrics are the ones the functions publish with Powertools (EMF, namespace ``ServerlessAirline``): every
metric carries the dimension ``service=payment`` (``POWERTOOLS_SERVICE_NAME``), Collect's and Refund's also
``operation=collect|refund`` (``lambdas/shared/payment_task.py``), and the hold sweeper's ``HoldsReleased`` also
``reason`` (``abandoned``; its ``HoldReleaseFailed`` has ``service`` only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from payment_stack.payment_function import METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME

# Every alarm but the dead-letter queues' looks at 5-minute sums (or percentiles).
PERIOD = Duration.minutes(5)
# A message in a dead-letter queue is money, a seat or an event a human has to sort out: looked at every minute.
DEAD_LETTER_PERIOD = Duration.minutes(1)

# The runbook, in this service's repository: one heading per alarm key, so ``runbook_link`` names each alarm's entry.
RUNBOOK = "docs/operations.md"


def runbook_link(key: str) -> str:
    """Where the runbook says what an alarm means and what to do: its heading is the alarm's key (GitHub's anchor of
    a heading made of letters and digits is the heading in lower case)."""
    return f"{RUNBOOK}#{key.lower()}"


# Alarm names start with "<component>-<env>-"; the topic policies let exactly these alarms publish.
PAYMENT = "payment"
BOOKING = "booking"
CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"
# What CloudWatch needs on the KMS key of an encrypted topic to publish to it (AWS's documented key policy).
ALARM_TOPIC_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")
# Nothing stays encrypted under a key made only for an alarm topic (SNS keeps no messages): it may always go, soon.
_ALARM_TOPIC_KEY_PENDING_WINDOW = Duration.days(7)


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
            alarm_description=f"{self._prefix}: {description}. Runbook: {runbook_link(key)}",
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.by_key[key] = alarm
        self.by_name.append(cloudwatch.Alarm.from_alarm_name(self._scope, f"{key}ByName", name))
        return alarm

    def dashboard(
        self, title: str, subtitle: str, rows: Sequence[Sequence[cloudwatch.IWidget]]
    ) -> cloudwatch.Dashboard:
        """Dashboard ``<component>-<env>`` (construct id ``Dashboard``): a header row, ``title (<env>)`` with
        ``subtitle`` and where the runbook is beside the status of every alarm added so far, then ``rows``."""
        header = cloudwatch.TextWidget(
            markdown=(
                f"# {title} ({self._env_name})\n{subtitle}. What each alarm means and what to do: {RUNBOOK} (one "
                "heading per alarm)."
            ),
            width=8,
            height=6,
        )
        return cloudwatch.Dashboard(
            self._scope,
            "Dashboard",
            dashboard_name=f"{self._component}-{self._env_name}",
            default_interval=Duration.hours(3),
            widgets=[
                [header, cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.by_name, width=16, height=6)],
                *(list(row) for row in rows),
            ],
        )


def create_alarm_topic(
    scope: Construct, topic_name: str, display_name: str, *, encryption_key: kms.IKey | None
) -> sns.Topic:
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


def allow_alarms_to_publish(topic: sns.ITopic, *, env_name: str, components: Sequence[str]) -> None:
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


def graph(
    title: str,
    metrics: Sequence[cloudwatch.IMetric],
    *,
    annotations: Sequence[cloudwatch.HorizontalAnnotation] = (),
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=title, left=list(metrics), left_annotations=list(annotations), width=8, height=6
    )
