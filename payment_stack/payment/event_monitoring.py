"""Alarms and dashboard rows of the Stripe webhook route and the payment event publisher (``Payment-<env>``).

Same conventions as ``payment_stack.alarms``: alarms named ``payment-<env>-<key>`` on the payment alarm topic,
notifying on ALARM and on OK, missing data not breaching. The custom metrics are the ones the runtime publishes with
Powertools (EMF, namespace ``ServerlessAirline``, dimension ``service=payment`` only).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from payment_stack.alarms import (
    DEAD_LETTER_PERIOD,
    PAYMENT,
    PERIOD,
    Alarms,
    MonitoringThresholds,
    graph,
    service_metric,
)

# Keys of ``PaymentEventMonitoring.alarms`` (also the alarms' construct ids).
DISPUTE_OPENED = "DisputeOpened"
REFUND_FAILED = "RefundFailed"
HOLD_EXPIRED_FOR_BOOKING = "HoldExpiredForBooking"
WEBHOOK_SIGNATURE_REJECTED = "WebhookSignatureRejected"
EVENT_PUBLISHER_ERRORS = "EventPublisherErrors"
EVENT_PUBLISHER_ITERATOR_AGE = "EventPublisherIteratorAge"
EVENT_DEAD_LETTER_QUEUE_DEPTH = "EventDeadLetterQueueDepth"
# Metric names the runtime publishes, a contract with lambdas/payment_api (which this package never imports): the
# event publisher's, for transitions that need a human ...
DISPUTE_OPENED_METRIC = "DisputeOpened"
REFUND_FAILED_METRIC = "RefundFailed"
HOLD_EXPIRED_FOR_BOOKING_METRIC = "HoldExpiredForBooking"
PAYMENT_EVENT_PUBLISHED_METRIC = "PaymentEventPublished"
# ... and the API function's, for the webhook route.
WEBHOOK_SIGNATURE_REJECTED_METRIC = "WebhookSignatureRejected"
WEBHOOK_EVENT_APPLIED_METRIC = "WebhookEventApplied"
WEBHOOK_EVENT_IGNORED_METRIC = "WebhookEventIgnored"
WEBHOOK_REJECTED_METRIC = "WebhookRejected"
# Each of these is money a human must look at (a dispute to answer, a refund the customer did not get, a hold that
# lapsed before its booking was charged), and every failed publication or dead letter is an event subscribers never
# saw: alarm on the first.
FIRST_ONE = 0
# The oldest record the publisher has not yet got through, at most this old: beyond, subscribers lag by minutes
# (a failing record blocks its shard while it is retried).
ITERATOR_AGE_THRESHOLD_MS = Duration.minutes(5).to_milliseconds()


class PaymentEventMonitoring(Construct):
    """The alarms of the webhook route and the event publisher, and their rows on the payment dashboard.

    In: ``env_name`` (names the alarms), ``alarm_topic`` (the payment alarm topic, whose policy already lets
    ``payment-<env>-*`` alarms publish), ``publisher`` (the event publisher function), ``dead_letter_queue`` (its
    event source mapping's on-failure queue), ``dashboard`` (the payment dashboard the rows are added to) and
    ``thresholds`` (``webhook_signature_rejections``).

    Creates, each named ``payment-<env_name>-<key>``:

    - ``DisputeOpened``, ``RefundFailed``, ``HoldExpiredForBooking``: the publisher's ServerlessAirline metrics of
      the same names (``service=payment``), summed over 5 minutes, on the first one;
    - ``WebhookSignatureRejected``: the API's ``WebhookSignatureRejected`` (``service=payment``) above
      ``thresholds.webhook_signature_rejections`` in 5 minutes;
    - ``EventPublisherErrors``: the publisher's Lambda ``Errors``, on the first in 5 minutes;
    - ``EventPublisherIteratorAge``: the maximum of its Lambda ``IteratorAge`` over 5 minutes above 5 minutes;
    - ``EventDeadLetterQueueDepth``: maximum ``ApproximateNumberOfMessagesVisible`` of the dead-letter queue over 1
      minute, on the first message.

    Exposes ``alarms`` (key -> ``cloudwatch.Alarm``, keys above).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        alarm_topic: sns.ITopic,
        publisher: lambda_.IFunction,
        dead_letter_queue: sqs.IQueue,
        dashboard: cloudwatch.Dashboard,
        thresholds: MonitoringThresholds | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._thresholds = thresholds or MonitoringThresholds()
        self._alarms = Alarms(self, alarm_topic, env_name=env_name, component=PAYMENT)
        events_graph = self._payment_event_alarms()
        webhooks_graph = self._webhook_alarm()
        publisher_graph = self._publisher_alarms(publisher, dead_letter_queue)
        self.alarms: dict[str, cloudwatch.Alarm] = self._alarms.by_key

        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Payment event and webhook alarms", alarms=self._alarms.by_name, width=24, height=3
            )
        )
        dashboard.add_widgets(webhooks_graph, events_graph, publisher_graph)

    def _payment_event_alarms(self) -> cloudwatch.GraphWidget:
        """What the payment events say: disputes, failed refunds and lapsed holds, each on the first one."""
        disputes = service_metric(DISPUTE_OPENED_METRIC)
        self._alarms.add(
            DISPUTE_OPENED,
            disputes,
            FIRST_ONE,
            "A customer disputed a payment (chargeback): the evidence is due to Stripe within days",
        )
        refunds_failed = service_metric(REFUND_FAILED_METRIC)
        self._alarms.add(
            REFUND_FAILED,
            refunds_failed,
            FIRST_ONE,
            "A refund failed at the card network: the customer has not got the money back",
        )
        holds_expired = service_metric(HOLD_EXPIRED_FOR_BOOKING_METRIC)
        self._alarms.add(
            HOLD_EXPIRED_FOR_BOOKING,
            holds_expired,
            FIRST_ONE,
            "A hold of a booking expired before it was captured: the booking's money was never collected",
        )
        return graph(
            "Payment events",
            [service_metric(PAYMENT_EVENT_PUBLISHED_METRIC), disputes, refunds_failed, holds_expired],
        )

    def _webhook_alarm(self) -> cloudwatch.GraphWidget:
        """The webhook route: calls refused for their Stripe signature."""
        thresholds = self._thresholds
        signature_rejected = service_metric(WEBHOOK_SIGNATURE_REJECTED_METRIC)
        self._alarms.add(
            WEBHOOK_SIGNATURE_REJECTED,
            signature_rejected,
            thresholds.webhook_signature_rejections,
            f"More than {thresholds.webhook_signature_rejections:g} Stripe webhook calls refused for their signature "
            "in 5 minutes: the stored webhook secret no longer matches Stripe's, or someone forges events",
        )
        return graph(
            "Stripe webhooks",
            [
                service_metric(WEBHOOK_EVENT_APPLIED_METRIC),
                service_metric(WEBHOOK_EVENT_IGNORED_METRIC),
                service_metric(WEBHOOK_REJECTED_METRIC),
                signature_rejected,
            ],
        )

    def _publisher_alarms(self, publisher: lambda_.IFunction, dead_letter_queue: sqs.IQueue) -> cloudwatch.GraphWidget:
        """The event publisher: its errors, how far it lags behind the ledger, and its dead letters."""
        publisher_errors = publisher.metric_errors(period=PERIOD, statistic=cloudwatch.Stats.SUM)
        self._alarms.add(
            EVENT_PUBLISHER_ERRORS,
            publisher_errors,
            FIRST_ONE,
            "The payment event publisher failed: ledger changes wait on the stream, retried",
        )
        iterator_age = publisher.metric("IteratorAge", period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM)
        iterator_age_alarm = self._alarms.add(
            EVENT_PUBLISHER_ITERATOR_AGE,
            iterator_age,
            ITERATOR_AGE_THRESHOLD_MS,
            "The payment event publisher is more than 5 minutes behind the ledger: subscribers get payment events late",
        )
        dead_letters = dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=DEAD_LETTER_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
        )
        self._alarms.add(
            EVENT_DEAD_LETTER_QUEUE_DEPTH,
            dead_letters,
            FIRST_ONE,
            "Ledger changes were never published as payment events: their stream records wait in the dead-letter "
            "queue for a human to republish",
        )
        # Counts on the left, the iterator age (milliseconds) on the right axis.
        return cloudwatch.GraphWidget(
            title="Event publisher",
            left=[publisher_errors.with_(label="Errors"), dead_letters.with_(label="Dead letters")],
            right=[iterator_age.with_(label="Iterator age max (ms)")],
            right_annotations=[iterator_age_alarm.to_annotation()],
            width=8,
            height=6,
        )
