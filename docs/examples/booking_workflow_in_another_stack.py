"""The Booking service building the booking saga in its own stack (docs/workflow.md, "Using the construct").

It brings its own tables, topic, dead-letter queue and confirmation notice, chooses its own log retention and removal
policy, and finds Collect and Refund through the SSM parameters the payment stack of its environment publishes.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from payment_stack.booking.workflow import BookingSteps, BookingWorkflow, PaymentFunctions


class BookingServiceStack(Stack):
    """A stack of the Booking service: its resources, and the payment service's booking workflow wired to them.

    ``env_name``: the environment, the same as the payment stack's (``Payment-<env_name>``) it books against.
    """

    def __init__(self, scope: Construct, construct_id: str, *, env_name: str) -> None:
        super().__init__(scope, construct_id)
        flights = _table(self, "Flights")
        bookings = _table(self, "Bookings")
        topic = sns.Topic(self, "BookingNotifications", enforce_ssl=True)
        queue = sqs.Queue(
            self,
            "BookingDeadLetters",
            enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            retention_period=Duration.days(14),
        )
        # A custom step: must set task_timeout, keep the state and have no Catch of its own (the workflow adds them).
        tell_the_customer = tasks.SnsPublish(
            self,
            "Tell The Customer",
            topic=topic,
            subject="Your booking is confirmed",
            message=sfn.TaskInput.from_object(
                {
                    "bookingId": sfn.JsonPath.string_at("$.bookingId"),
                    "bookingReference": sfn.JsonPath.string_at("$.confirmation.bookingReference"),
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(Duration.seconds(10)),
        )

        workflow = BookingWorkflow(
            self,
            "BookingWorkflow",
            env_name=env_name,
            # The payment service's default retry timing: its abandoned-hold sweeper is sized for it.
            retry_interval_seconds=2,
            retry_max_delay_seconds=60,
            log_retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.RETAIN,
            # or PaymentFunctions.from_functions(collect=..., refund=...) in the same app
            payment_functions=PaymentFunctions.from_ssm(env_name=env_name),
            # all optional: any of the seven steps, and the tables, topic and queue to use instead of new ones
            steps=BookingSteps(notify_confirmed=tell_the_customer),
            flights_table=flights,
            bookings_table=bookings,
            notifications_topic=topic,
            dead_letter_queue=queue,
        )
        # the workflow also exposes flights_table, bookings_table, notifications_topic, dead_letter_queue, log_group
        self.state_machine = workflow.state_machine


def _table(scope: Construct, construct_id: str) -> dynamodb.Table:
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
    )
