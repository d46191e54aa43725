"""The ``Booking-<env>`` stack: the booking workflow, finding Collect and Refund the way the Booking service does."""

from __future__ import annotations

from aws_cdk import Environment
from constructs import Construct

from payment_stack.alarms import import_payment_alarm_topic
from payment_stack.booking.monitoring import BookingMonitoring
from payment_stack.booking.workflow import BookingWorkflow, PaymentFunctions
from payment_stack.config import PaymentConfig
from payment_stack.service_stack import ServiceStack, service_tags


class BookingStack(ServiceStack):
    """The booking saga of one environment with its own tables, topic and dead-letter queue, and its monitoring.

    Collect and Refund are found by environment name through the SSM parameters ``Payment-<env>`` publishes (read
    by CloudFormation at deploy time), so this stack needs ``Payment-<env>`` deployed first but holds no reference
    to it: the route another stack or app of the Booking service takes. ``BookingMonitoring`` alarms on the saga
    and on the dead-letter queue's first message, notifying the environment's payment alarm topic.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: PaymentConfig, env: Environment | None = None
    ) -> None:
        super().__init__(
            scope, construct_id, config=config, stack_name=config.booking_stack_name, tags=booking_tags(config), env=env
        )

        self.workflow = BookingWorkflow(
            self,
            "BookingWorkflow",
            env_name=config.env_name,
            retry_interval_seconds=config.workflow_retry_interval_seconds,
            retry_max_delay_seconds=config.workflow_retry_max_delay_seconds,
            log_retention=config.log_retention,
            removal_policy=config.removal_policy,
            payment_functions=PaymentFunctions.from_ssm(env_name=config.env_name),
        )
        self.monitoring = BookingMonitoring(
            self,
            "Monitoring",
            env_name=config.env_name,
            state_machine=self.workflow.state_machine,
            dead_letter_queue=self.workflow.dead_letter_queue,
            alarm_topic=import_payment_alarm_topic(self, "PaymentAlarmTopic", env_name=config.env_name),
        )
        self.add_outputs(
            {
                "StateMachineArn": (self.workflow.state_machine.state_machine_arn, "ARN of the booking state machine"),
                "FlightsTableName": (
                    self.workflow.flights_table.table_name,
                    "Flights table (id, seatCapacity, ticketPrice, ticketCurrency)",
                ),
                "BookingsTableName": (self.workflow.bookings_table.table_name, "Bookings table (id, status, ...)"),
                "NotificationsTopicArn": (
                    self.workflow.notifications_topic.topic_arn,
                    "Topic of booking CONFIRMED / CANCELLED notifications",
                ),
                "DeadLetterQueueUrl": (
                    self.workflow.dead_letter_queue.queue_url,
                    "Compensations that failed after their retries (refunds owed, seats, cancellations) for a human",
                ),
            }
        )


def booking_tags(config: PaymentConfig) -> dict[str, str]:
    """The payment service's tags (``service_tags``) and ``component=booking``."""
    return {**service_tags(config), "component": "booking"}
