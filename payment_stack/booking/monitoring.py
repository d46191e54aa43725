"""Dashboard ``booking-<env>`` and the alarms of the booking saga and its dead-letter queue.

The conventions every alarm follows (names, topic, missing data, runbook) are in ``payment_stack.alarms``.
"""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from payment_stack.alarms import (
    BOOKING,
    DEAD_LETTER_PERIOD,
    PERIOD,
    Alarms,
    MonitoringThresholds,
    allow_alarms_to_publish,
    booking_alarm_topic_name,
    create_alarm_topic,
    graph,
)

# Keys of ``BookingMonitoring.alarms`` (also the alarms' construct ids).
EXECUTIONS_FAILED = "ExecutionsFailed"
EXECUTIONS_TIMED_OUT = "ExecutionsTimedOut"
DEAD_LETTER_QUEUE_DEPTH = "DeadLetterQueueDepth"


class BookingMonitoring(Construct):
    """Dashboard ``booking-<env_name>`` and the alarms of the booking saga and its dead-letter queue.

    In: ``env_name`` (names the dashboard and the default topic), ``state_machine``, ``dead_letter_queue``,
    ``alarm_topic`` (where notifications go; by default a new SSL-only topic ``booking-alarms-<env_name>``; use
    ``import_payment_alarm_topic`` for one topic per environment), ``encryption_key`` (the KMS key of a topic created
    here, as for ``PaymentMonitoring``) and ``thresholds``.

    Creates, each named ``booking-<env_name>-<key>`` and notifying the topic on ALARM and on OK, with missing data
    not breaching: ``ExecutionsFailed`` and ``ExecutionsTimedOut`` (AWS/States sums over 5 minutes) and
    ``DeadLetterQueueDepth`` (maximum ApproximateNumberOfMessagesVisible over 1 minute: refunds, cancellations, seat
    releases or notifications that need a human). This is the dead-letter queue's only alarm: ``BookingWorkflow``
    creates none of its own.

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
        self.alarm_topic: sns.ITopic = alarm_topic or create_alarm_topic(
            self, booking_alarm_topic_name(env_name), f"Booking alarms ({env_name})", encryption_key=encryption_key
        )
        allow_alarms_to_publish(self.alarm_topic, env_name=env_name, components=(BOOKING,))
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

        self.dashboard = alarms.dashboard(
            "Booking workflow",
            "The booking saga and its dead-letter queue",
            [
                [
                    *_workflow_graphs(state_machine, failed=failed, timed_out=timed_out),
                    _dead_letter_graph(dead_letter_queue, depth=dead_letter_depth),
                ]
            ],
        )


def _workflow_graphs(
    state_machine: sfn.IStateMachine, *, failed: cloudwatch.IMetric, timed_out: cloudwatch.IMetric
) -> list[cloudwatch.IWidget]:
    """The executions by outcome, and how long they take."""
    return [
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
    ]


def _dead_letter_graph(dead_letter_queue: sqs.IQueue, *, depth: cloudwatch.IMetric) -> cloudwatch.GraphWidget:
    return graph(
        "Dead-letter queue",
        [
            depth,
            dead_letter_queue.metric_approximate_age_of_oldest_message(
                period=DEAD_LETTER_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            ),
        ],
    )
