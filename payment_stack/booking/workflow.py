"""The booking saga as a Step Functions Standard workflow that wires the Collect and Refund functions in.

JSONPath only (no JSONata): the same definition runs on AWS and in moto's interpreter, which has no JSONata.

This module holds the construct: its resources and what it exposes. The saga's states are built by
``payment_stack.booking.saga`` (the graph) and ``payment_stack.booking.tasks`` (the built-in tasks), named in
``payment_stack.booking.states``; what a reusing service may bring is in ``payment_stack.booking.extension``
(re-exported here, so one import gives the whole public API).
"""

from __future__ import annotations

from aws_cdk import Names, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from payment_stack.booking.extension import BookingSteps, PaymentFunctions, check_custom_steps
from payment_stack.booking.saga import BookingSaga
from payment_stack.booking.tasks import BuiltInTasks, RetryTiming
from payment_stack.encryption import logs_encryption_key
from payment_stack.queues import failure_queue
from payment_stack.roles import ManagedPolicyRole

__all__ = ["BookingSteps", "BookingWorkflow", "PaymentFunctions"]

# What the state machine's role needs on the topic's KMS key to publish to the encrypted topic.
TOPIC_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


class BookingWorkflow(Construct):
    """The booking saga of one environment: a Standard state machine with X-Ray and execution logging.

    In: ``env_name`` (names and describes the resources), ``retry_interval_seconds`` and
    ``retry_max_delay_seconds`` (where every Retry starts and the longest it waits), ``log_retention`` (of the
    execution logs), ``removal_policy`` (of everything created here), ``payment_functions`` (where Collect and Refund
    are), optional ``steps`` (custom booking tasks, see ``BookingSteps``), and optional ``flights_table``,
    ``bookings_table``, ``notifications_topic``, ``dead_letter_queue`` and ``encryption_key``: each one not given is
    created here (tables keyed by ``id`` (string), on-demand, point-in-time recovery; an SSL-only topic encrypted
    with the key; an SSL-only, SQS-encrypted queue keeping messages 14 days; a customer managed KMS key with rotation
    for the execution logs and the topic).

    The dead-letter queue gets no alarm here: a message in it is a refund, cancellation, seat release or notification
    a human must finish, so watch it. ``BookingMonitoring`` (``payment_stack.booking.monitoring``) alarms on its first
    message and notifies a topic (``Booking-<env>`` wires it in); a service reusing the workflow without it puts its
    own alarm on ``dead_letter_queue`` (e.g. ``ApproximateNumberOfMessagesVisible`` above 0 over 1 minute).

    The state machine's role holds only what the tasks use (invoke Collect and Refund, the item updates on the two
    tables, publish to the topic, send to the queue) plus X-Ray and log delivery, in a customer managed policy
    (``ManagedPolicyRole``).

    Input: ``{"outboundFlightId", "customerId", "chargeId" (ch_... or pi_...), "name", "createdAt"}`` (strings;
    other keys are accepted and dropped). The booking id is the execution name. The price is the server's: each
    flight item carries ``ticketPrice`` (N, the currency's smallest unit) and ``ticketCurrency`` (S), which Collect
    captures; a flight without a valid fare fails the booking with ``FareUnavailable``.

    Exposes ``state_machine``, ``role``, ``flights_table``, ``bookings_table``, ``notifications_topic``,
    ``dead_letter_queue``, ``log_group``, ``encryption_key``, ``collect_function`` and ``refund_function``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        retry_interval_seconds: int,
        retry_max_delay_seconds: int,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        payment_functions: PaymentFunctions,
        steps: BookingSteps | None = None,
        flights_table: dynamodb.ITable | None = None,
        bookings_table: dynamodb.ITable | None = None,
        notifications_topic: sns.ITopic | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._env_name = env_name
        self._removal_policy = removal_policy
        steps = steps or BookingSteps()
        check_custom_steps(steps)

        self.encryption_key: kms.IKey = encryption_key or logs_encryption_key(
            self,
            "EncryptionKey",
            removal_policy=removal_policy,
            description=f"Booking workflow ({env_name}): encrypts its execution logs and notifications topic",
        )
        self.flights_table: dynamodb.ITable = flights_table or self._table("FlightsTable")
        self.bookings_table: dynamodb.ITable = bookings_table or self._table("BookingsTable")
        self.notifications_topic: sns.ITopic = notifications_topic or self._notifications_topic()
        self.dead_letter_queue: sqs.IQueue = dead_letter_queue or failure_queue(
            self, "DeadLetterQueue", removal_policy=self._removal_policy
        )

        collect_function, refund_function = payment_functions.resolve(self)
        self.collect_function: lambda_.IFunction = collect_function
        self.refund_function: lambda_.IFunction = refund_function
        retry = RetryTiming(interval_seconds=retry_interval_seconds, max_delay_seconds=retry_max_delay_seconds)
        built_in = BuiltInTasks(
            scope=self,
            retry=retry,
            flights_table=self.flights_table,
            bookings_table=self.bookings_table,
            notifications_topic=self.notifications_topic,
            dead_letter_queue=self.dead_letter_queue,
        )
        definition = BookingSaga(scope=self, steps=steps, tasks=built_in, retry=retry).definition(
            collect_function=collect_function, refund_function=refund_function
        )

        self.log_group = self._execution_logs(log_retention)
        self.role = ManagedPolicyRole(
            self,
            "StateMachineRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=f"Booking workflow ({env_name}): the state machine's role",
        )
        self.state_machine = self._state_machine(definition)
        if notifications_topic is None:
            # SnsPublish grants sns:Publish only; an encrypted topic also needs its key.
            self.encryption_key.grant(self.state_machine, *TOPIC_KEY_ACTIONS)

    def _table(self, construct_id: str) -> dynamodb.Table:
        # No table name: CloudFormation names it, so environments never collide.
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=self._removal_policy,
        )

    def _notifications_topic(self) -> sns.Topic:
        return sns.Topic(
            self,
            "NotificationsTopic",
            display_name=f"Booking notifications ({self._env_name})",
            enforce_ssl=True,
            master_key=self.encryption_key,
        )

    def _execution_logs(self, log_retention: logs.RetentionDays) -> logs.LogGroup:
        # Under /aws/vendedlogs/ Step Functions needs no per-log-group entry in the account's (size-limited) CloudWatch
        # Logs resource policy, however many branch environments there are. The name is unique per construct path,
        # which carries the stack name and so the environment.
        return logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name="/aws/vendedlogs/states/"
            + Names.unique_resource_name(self, max_length=200, separator="-", allowed_special_characters="-_"),
            retention=log_retention,
            removal_policy=self._removal_policy,
            encryption_key=self.encryption_key,
        )

    def _state_machine(self, definition: sfn.IChainable) -> sfn.StateMachine:
        return sfn.StateMachine(
            self,
            "StateMachine",
            comment=f"Booking saga of the serverless airline ({self._env_name}): reserve, collect, confirm; "
            "refund and compensate on failure",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            role=self.role,
            tracing_enabled=True,
            # Execution data would put customer ids, charge ids and errors into the logs: events only.
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
