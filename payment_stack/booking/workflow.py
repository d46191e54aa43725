"""The booking saga as a Step Functions Standard workflow that wires the Collect and Refund functions in.

JSONPath only (no JSONata): the same definition runs on AWS and in moto's interpreter, which has no JSONata.

Forward path: Validate Input -> Prepare Booking -> Reserve Flight (takes a seat, reads the flight's fare) -> Fare
Valid? -> Read Fare -> Reserve Booking -> Collect Payment (captures exactly the fare) -> Create Booking Reference ->
Confirm Booking -> Notify Booking Confirmed -> Booking Confirmed.

A flight without a valid fare goes from Fare Valid? to Fare Unavailable, which records ``FareUnavailable`` at
``$.error``; any failure of a forward task (after its retries) is caught into ``$.error``. Both run the compensation:
Refund Payment (refunds a capture or releases the hold) -> Cancel Booking (if one was reserved) -> Release Flight
Seat (if one was taken) -> Notify Booking Failed -> Booking Failed. A compensation step that still fails after its
retries is sent, with the charge id and its error, to the dead-letter queue, and the compensation goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

from aws_cdk import Duration, Names, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from payment_stack.config import PaymentConfig
from payment_stack.encryption import logs_encryption_key
from payment_stack.names import function_parameter_name
from payment_stack.roles import ManagedPolicyRole
from payment_stack.workflow_timing import (
    BACKOFF_RATE,
    COLLECT_MAX_ATTEMPTS,
    COMPENSATION_SERVICE_MAX_ATTEMPTS,
    FORWARD_SERVICE_MAX_ATTEMPTS,
    LAMBDA_TASK_TIMEOUT,
    REFUND_MAX_ATTEMPTS,
    SERVICE_TASK_TIMEOUT,
)

# --- state names (what executions, logs and tests see) --------------------------------------------------------------
VALIDATE_INPUT = "Validate Input"
INVALID_BOOKING_INPUT = "Invalid Booking Input"
PREPARE_BOOKING = "Prepare Booking"
RESERVE_FLIGHT = "Reserve Flight"
FARE_VALID = "Fare Valid?"
READ_FARE = "Read Fare"
FARE_UNAVAILABLE = "Fare Unavailable"
RESERVE_BOOKING = "Reserve Booking"
COLLECT_PAYMENT = "Collect Payment"
CREATE_BOOKING_REFERENCE = "Create Booking Reference"
CONFIRM_BOOKING = "Confirm Booking"
NOTIFY_BOOKING_CONFIRMED = "Notify Booking Confirmed"
BOOKING_CONFIRMED = "Booking Confirmed"
REFUND_PAYMENT = "Refund Payment"
BOOKING_RESERVED = "Booking Reserved?"
CANCEL_BOOKING = "Cancel Booking"
SEAT_RESERVED = "Seat Reserved?"
RELEASE_FLIGHT_SEAT = "Release Flight Seat"
NOTIFY_BOOKING_FAILED = "Notify Booking Failed"
COMPENSATION_RECORDED = "Compensation Recorded?"
BOOKING_FAILED = "Booking Failed"
COMPENSATION_NOT_RECORDED = "Compensation Not Recorded"

# --- error names ----------------------------------------------------------------------------------------------------
INVALID_BOOKING_INPUT_ERROR = "InvalidBookingInput"
FARE_UNAVAILABLE_ERROR = "FareUnavailable"
BOOKING_FAILED_ERROR = "BookingFailed"
COMPENSATION_NOT_RECORDED_ERROR = "CompensationNotRecorded"
# Refund's answer when the money is already back (refunded or hold released): nothing is owed.
PAYMENT_CONFLICT = "PaymentConflict"
# Only errors after which a retry can succeed. The final payment errors (PaymentDeclined, InvalidPaymentRequest,
# PaymentConflict, ...) are never retried, nor is a failed DynamoDB condition.
PAYMENT_RETRYABLE_ERRORS = (
    "PaymentServiceUnavailable",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
# Step Functions names service-integration errors "<Service>.<error code>"; DynamoDB's server error code is
# InternalServerError (the Java SDK class InternalServerErrorException): both names are listed.
DYNAMODB_RETRYABLE_ERRORS = (
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.ThrottlingException",
    "DynamoDB.RequestLimitExceeded",
    "DynamoDB.InternalServerError",
    "DynamoDB.InternalServerErrorException",
    "DynamoDB.SdkClientException",
)
SNS_RETRYABLE_ERRORS = (
    "SNS.ThrottledException",
    "SNS.InternalErrorException",
    "SNS.KMSThrottlingException",
    "SNS.SdkClientException",
)
# Step Functions reports every SQS service error as SQS.AmazonSQSException (throttling included), a client-side
# failure as SQS.SdkClientException. Sending to the dead-letter queue is the last resort, so both are retried.
SQS_RETRYABLE_ERRORS = ("SQS.AmazonSQSException", "SQS.SdkClientException")

# --- resources (timeouts and retry budgets are in workflow_timing) ---------------------------------------------------
# What the state machine's role needs on the topic's KMS key to publish to the encrypted topic.
TOPIC_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
DEAD_LETTER_RETENTION = Duration.days(14)

# --- where things live in the state --------------------------------------------------------------------------------
# Top-level keys the workflow writes; a custom task must not overwrite them.
_WORKFLOW_KEYS = frozenset(
    {
        "outboundFlightId",
        "customerId",
        "chargeId",
        "name",
        "createdAt",
        "bookingId",
        "seatReservation",
        "fare",
        "bookingReservation",
        "payment",
        "confirmation",
        "error",
        "refund",
        "refundConflict",
        "refundError",
        "cancelBookingError",
        "releaseSeatError",
        "notifyFailedError",
        "deadLetterError",
    }
)
INPUT_FIELDS = ("outboundFlightId", "customerId", "chargeId", "name", "createdAt")
SEAT_RESERVATION_PATH = "$.seatReservation"
# Reserve Flight keeps the flight's DynamoDB attribute map here; the fare is read from it.
TICKET_PRICE_PATH = "$.seatReservation.flight.ticketPrice.N"
TICKET_CURRENCY_PATH = "$.seatReservation.flight.ticketCurrency.S"
FARE_PATH = "$.fare"
BOOKING_RESERVATION_PATH = "$.bookingReservation"
BOOKING_REFERENCE_PATH = "$.confirmation.bookingReference"


@dataclass(frozen=True, kw_only=True)
class BookingSteps:
    """Tasks the Booking service may bring instead of the built-in DynamoDB and SNS ones (``None``: built-in).

    The workflow gives each custom task the Retry of the step it replaces (after any Retry the task already has) and
    the step's Catch, so a custom task must have no Catch of its own. It must set ``task_timeout``, keep the
    state (``result_path=sfn.JsonPath.DISCARD`` or a sub-path of its own, never ``$`` and never a key the workflow
    uses) and use JSONPath. ``reserve_flight`` must write to ``$.seatReservation`` and ``reserve_booking`` to
    ``$.bookingReservation``: the compensation gives back only what these markers say was taken. ``reserve_flight``
    also puts the flight's DynamoDB attribute map at ``$.seatReservation.flight`` (UpdateItem's ``Attributes`` with
    ``ReturnValues=ALL_NEW``), with at least ``ticketPrice`` ``{"N": ...}`` (smallest currency unit) and
    ``ticketCurrency`` ``{"S": ...}``: the fare Collect captures; without it the booking fails with
    ``FareUnavailable``. The state holds ``bookingId`` (the execution name), the input fields, from
    ``reserve_booking`` on ``$.fare`` (``{"amount", "currency"}``), for ``confirm_booking`` the new reference at
    ``$.confirmation.bookingReference``; the compensation steps also see the failure at ``$.error``.
    """

    reserve_flight: sfn.TaskStateBase | None = None
    reserve_booking: sfn.TaskStateBase | None = None
    confirm_booking: sfn.TaskStateBase | None = None
    cancel_booking: sfn.TaskStateBase | None = None
    release_seat: sfn.TaskStateBase | None = None
    notify_confirmed: sfn.TaskStateBase | None = None
    notify_failed: sfn.TaskStateBase | None = None


# Where each step must write its result (None: anywhere that keeps the state).
_REQUIRED_RESULT_PATHS = {"reserve_flight": SEAT_RESERVATION_PATH, "reserve_booking": BOOKING_RESERVATION_PATH}


class PaymentFunctions:
    """How the workflow finds the Collect and Refund functions: as objects, or by environment name through SSM."""

    def __init__(self, resolve: Callable[[Construct], tuple[lambda_.IFunction, lambda_.IFunction]]) -> None:
        """Prefer ``from_functions`` or ``from_ssm``; ``resolve(scope)`` returns ``(collect, refund)``."""
        self._resolve = resolve

    @classmethod
    def from_functions(cls, *, collect: lambda_.IFunction, refund: lambda_.IFunction) -> PaymentFunctions:
        """The functions themselves, e.g. from ``BookingPaymentFunctions`` in the same app."""
        return cls(lambda _scope: (collect, refund))

    @classmethod
    def from_ssm(cls, *, env_name: str) -> PaymentFunctions:
        """The functions whose ARNs ``Payment-<env_name>`` publishes in ``/<env>/service/payment/function/...``.

        The ARNs are resolved by CloudFormation at deploy time (``AWS::SSM::Parameter::Value<String>`` template
        parameters), so the consuming stack has no hard reference to the payment stack.
        """

        def resolve(scope: Construct) -> tuple[lambda_.IFunction, lambda_.IFunction]:
            collect_arn = ssm.StringParameter.value_for_string_parameter(
                scope, function_parameter_name(env_name, "collect")
            )
            refund_arn = ssm.StringParameter.value_for_string_parameter(
                scope, function_parameter_name(env_name, "refund")
            )
            return (
                lambda_.Function.from_function_arn(scope, "CollectFunction", collect_arn),
                lambda_.Function.from_function_arn(scope, "RefundFunction", refund_arn),
            )

        return cls(resolve)

    def resolve(self, scope: Construct) -> tuple[lambda_.IFunction, lambda_.IFunction]:
        """``(collect, refund)``, with any imports created in ``scope``."""
        return self._resolve(scope)


class BookingWorkflow(Construct):
    """The booking saga of one environment: a Standard state machine with X-Ray and execution logging.

    In: ``config`` (retry interval and maximum delay, log retention, removal policy), ``payment_functions`` (where
    Collect and Refund are), optional ``steps`` (custom booking tasks, see ``BookingSteps``), and optional
    ``flights_table``, ``bookings_table``, ``notifications_topic``, ``dead_letter_queue`` and ``encryption_key``:
    each one not given is created here (tables keyed by ``id`` (string), on-demand, point-in-time recovery; an
    SSL-only topic encrypted with the key; an SSL-only, SQS-encrypted queue keeping messages 14 days, with an alarm as
    soon as it holds one; a customer managed KMS key with rotation for the execution logs and the topic).

    The state machine's role holds only what the tasks use (invoke Collect and Refund, the item updates on the two
    tables, publish to the topic, send to the queue) plus X-Ray and log delivery, in a customer managed policy
    (``ManagedPolicyRole``).

    Input: ``{"outboundFlightId", "customerId", "chargeId" (ch_... or pi_...), "name", "createdAt"}`` (strings;
    other keys are accepted and dropped). The booking id is the execution name. The price is the server's: each
    flight item carries ``ticketPrice`` (N, the currency's smallest unit) and ``ticketCurrency`` (S), which Collect
    captures; a flight without a valid fare fails the booking with ``FareUnavailable``.

    Exposes ``state_machine``, ``role``, ``flights_table``, ``bookings_table``, ``notifications_topic``,
    ``dead_letter_queue``, ``dead_letter_alarm``, ``log_group``, ``encryption_key``, ``collect_function`` and
    ``refund_function``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PaymentConfig,
        payment_functions: PaymentFunctions,
        steps: BookingSteps | None = None,
        flights_table: dynamodb.ITable | None = None,
        bookings_table: dynamodb.ITable | None = None,
        notifications_topic: sns.ITopic | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        steps = steps or BookingSteps()
        _check_custom_steps(steps)

        self.encryption_key: kms.IKey = encryption_key or logs_encryption_key(
            self,
            "EncryptionKey",
            config=config,
            description=f"Booking workflow ({config.env_name}): encrypts its execution logs and notifications topic",
        )
        self.flights_table: dynamodb.ITable = flights_table or self._table("FlightsTable")
        self.bookings_table: dynamodb.ITable = bookings_table or self._table("BookingsTable")
        own_topic = notifications_topic is None
        self.notifications_topic: sns.ITopic = notifications_topic or sns.Topic(
            self,
            "NotificationsTopic",
            display_name=f"Booking notifications ({config.env_name})",
            enforce_ssl=True,
            master_key=self.encryption_key,
        )
        self.dead_letter_queue: sqs.IQueue = dead_letter_queue or sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
            removal_policy=config.removal_policy,
        )
        # A message here is money or a seat a human has to sort out: alarm on the first one.
        self.dead_letter_alarm = cloudwatch.Alarm(
            self,
            "DeadLetterAlarm",
            alarm_description=(
                f"Booking compensation ({config.env_name}) could not finish: refund, cancellation, seat release or "
                "notification waiting in the dead-letter queue"
            ),
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        collect_function, refund_function = payment_functions.resolve(self)
        self.collect_function: lambda_.IFunction = collect_function
        self.refund_function: lambda_.IFunction = refund_function
        definition = self._definition(steps, collect_function=collect_function, refund_function=refund_function)

        # Under /aws/vendedlogs/ Step Functions needs no per-log-group entry in the account's (size-limited) CloudWatch
        # Logs resource policy, however many branch environments there are. The name is unique per construct path,
        # which carries the stack name and so the environment.
        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name="/aws/vendedlogs/states/"
            + Names.unique_resource_name(self, max_length=200, separator="-", allowed_special_characters="-_"),
            retention=config.log_retention,
            removal_policy=config.removal_policy,
            encryption_key=self.encryption_key,
        )
        self.role = ManagedPolicyRole(
            self,
            "StateMachineRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=f"Booking workflow ({config.env_name}): the state machine's role",
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment=f"Booking saga of the serverless airline ({config.env_name}): reserve, collect, confirm; "
            "refund and compensate on failure",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            role=self.role,
            tracing_enabled=True,
            # Execution data would put customer ids, charge ids and errors into the logs: events only.
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        if own_topic:
            # SnsPublish grants sns:Publish only; an encrypted topic also needs its key.
            self.encryption_key.grant(self.state_machine, *TOPIC_KEY_ACTIONS)

    # --- the graph --------------------------------------------------------------------------------------------------

    def _definition(
        self, steps: BookingSteps, *, collect_function: lambda_.IFunction, refund_function: lambda_.IFunction
    ) -> sfn.IChainable:
        compensation = self._compensation(steps, refund_function=refund_function)

        reserve_flight = steps.reserve_flight or self._reserve_flight()
        reserve_booking = steps.reserve_booking or self._reserve_booking()
        collect = self._payment_task(
            COLLECT_PAYMENT, function=collect_function, result_path="$.payment", max_attempts=COLLECT_MAX_ATTEMPTS
        )
        confirm = steps.confirm_booking or self._confirm_booking()
        notify_confirmed = steps.notify_confirmed or self._notify(
            NOTIFY_BOOKING_CONFIRMED,
            status="CONFIRMED",
            content={
                "bookingId": sfn.JsonPath.string_at("$.bookingId"),
                "customerId": sfn.JsonPath.string_at("$.customerId"),
                "outboundFlightId": sfn.JsonPath.string_at("$.outboundFlightId"),
                "bookingReference": sfn.JsonPath.string_at(BOOKING_REFERENCE_PATH),
            },
        )
        self._retry(reserve_flight, DYNAMODB_RETRYABLE_ERRORS, FORWARD_SERVICE_MAX_ATTEMPTS)
        self._retry(reserve_booking, DYNAMODB_RETRYABLE_ERRORS, FORWARD_SERVICE_MAX_ATTEMPTS)
        self._retry(confirm, DYNAMODB_RETRYABLE_ERRORS, FORWARD_SERVICE_MAX_ATTEMPTS)
        self._retry(notify_confirmed, SNS_RETRYABLE_ERRORS, FORWARD_SERVICE_MAX_ATTEMPTS)
        # Collect's own retries are added by _payment_task.
        for task in (reserve_flight, reserve_booking, collect, confirm, notify_confirmed):
            task.add_catch(compensation, errors=[sfn.Errors.ALL], result_path="$.error")

        # Intrinsic functions in JSONPath: 8 hex digits of a UUID, made once so that Confirm's retries reuse it.
        create_reference = sfn.Pass(
            self,
            CREATE_BOOKING_REFERENCE,
            comment="A short, human-friendly booking reference",
            parameters={
                "bookingReference": sfn.JsonPath.array_get_item(sfn.JsonPath.string_split(sfn.JsonPath.uuid(), "-"), 0)
            },
            result_path="$.confirmation",
        )
        priced = (
            self._read_fare()
            .next(reserve_booking)
            .next(collect)
            .next(create_reference)
            .next(confirm)
            .next(notify_confirmed)
            .next(sfn.Succeed(self, BOOKING_CONFIRMED))
        )
        # The seat is taken: a flight without a fare goes to the compensation like a failed task, so the seat is
        # released and the hold too (no booking was reserved yet).
        fare_unavailable = sfn.Pass(
            self,
            FARE_UNAVAILABLE,
            comment="Record the failure as a Catch would, then compensate",
            parameters={
                "Error": FARE_UNAVAILABLE_ERROR,
                "Cause": "The flight has no valid fare (ticketPrice: a positive whole number in the currency's "
                "smallest unit; ticketCurrency: a string): nothing was charged; the seat and the hold are given back",
            },
            result_path="$.error",
        ).next(compensation)
        forward = (
            sfn.Pass(
                self,
                PREPARE_BOOKING,
                comment="The booking id is the execution name; only the known input fields go on",
                parameters={
                    **{field: sfn.JsonPath.string_at(f"$.{field}") for field in INPUT_FIELDS},
                    "bookingId": sfn.JsonPath.execution_name,
                },
            )
            .next(reserve_flight)
            .next(
                sfn.Choice(self, FARE_VALID, comment="Collect captures exactly the flight's fare: it must be sound")
                .when(_valid_fare(), priced)
                .otherwise(fare_unavailable)
            )
        )
        return (
            sfn.Choice(self, VALIDATE_INPUT, comment="Fail fast, before any side effect, on a malformed input")
            .when(_valid_input(), forward)
            .otherwise(
                sfn.Fail(
                    self,
                    INVALID_BOOKING_INPUT,
                    error=INVALID_BOOKING_INPUT_ERROR,
                    cause="The booking input needs outboundFlightId, customerId, chargeId (ch_... or pi_...), name "
                    "and createdAt, all strings; nothing was reserved or charged",
                )
            )
        )

    def _compensation(self, steps: BookingSteps, *, refund_function: lambda_.IFunction) -> sfn.IChainable:
        """Refund, then undo what was reserved, then notify; every step reaches the end whatever happens."""
        not_recorded = sfn.Fail(
            self,
            COMPENSATION_NOT_RECORDED,
            error=COMPENSATION_NOT_RECORDED_ERROR,
            cause="The booking failed, a compensation step failed, and sending it to the dead-letter queue failed "
            "too: see this execution's history",
        )
        booking_failed = sfn.Fail(
            self,
            BOOKING_FAILED,
            error=BOOKING_FAILED_ERROR,
            cause="The booking failed and was compensated: payment refunded or hold released (or the case sent to "
            "the dead-letter queue), booking cancelled, seat released",
        )
        end = (
            sfn.Choice(self, COMPENSATION_RECORDED)
            .when(sfn.Condition.is_present("$.deadLetterError"), not_recorded)
            .otherwise(booking_failed)
        )

        notify_failed = steps.notify_failed or self._notify(
            NOTIFY_BOOKING_FAILED,
            status="CANCELLED",
            content={
                "bookingId": sfn.JsonPath.string_at("$.bookingId"),
                "customerId": sfn.JsonPath.string_at("$.customerId"),
                "chargeId": sfn.JsonPath.string_at("$.chargeId"),
                "outboundFlightId": sfn.JsonPath.string_at("$.outboundFlightId"),
                "error": sfn.JsonPath.string_at("$.error.Error"),
            },
        )
        self._compensation_step(
            notify_failed,
            step=NOTIFY_BOOKING_FAILED,
            errors=SNS_RETRYABLE_ERRORS,
            error_key="notifyFailedError",
            then=end,
        )

        release_seat = steps.release_seat or self._release_seat()
        self._compensation_step(
            release_seat,
            step=RELEASE_FLIGHT_SEAT,
            errors=DYNAMODB_RETRYABLE_ERRORS,
            error_key="releaseSeatError",
            then=notify_failed,
        )
        seat_reserved = (
            sfn.Choice(self, SEAT_RESERVED)
            .when(sfn.Condition.is_present(SEAT_RESERVATION_PATH), release_seat)
            .otherwise(notify_failed)
        )

        cancel_booking = steps.cancel_booking or self._cancel_booking()
        self._compensation_step(
            cancel_booking,
            step=CANCEL_BOOKING,
            errors=DYNAMODB_RETRYABLE_ERRORS,
            error_key="cancelBookingError",
            then=seat_reserved,
        )
        booking_reserved = (
            sfn.Choice(self, BOOKING_RESERVED)
            .when(sfn.Condition.is_present(BOOKING_RESERVATION_PATH), cancel_booking)
            .otherwise(seat_reserved)
        )

        # Refund always runs: it refunds a capture or releases the hold the front-end's /charge created, whichever
        # step failed. Already refunded or released (PaymentConflict) means nothing is owed: carry on.
        refund = self._payment_task(
            REFUND_PAYMENT, function=refund_function, result_path="$.refund", max_attempts=REFUND_MAX_ATTEMPTS
        )
        refund.add_catch(booking_reserved, errors=[PAYMENT_CONFLICT], result_path="$.refundConflict")
        refund.add_catch(
            self._dead_letter(REFUND_PAYMENT, error_key="refundError", then=booking_reserved),
            errors=[sfn.Errors.ALL],
            result_path="$.refundError",
        )
        refund.next(booking_reserved)
        return refund

    def _compensation_step(
        self,
        task: sfn.TaskStateBase,
        *,
        step: str,
        errors: Sequence[str],
        error_key: str,
        then: sfn.IChainable,
    ) -> None:
        self._retry(task, errors, COMPENSATION_SERVICE_MAX_ATTEMPTS)
        task.add_catch(
            self._dead_letter(step, error_key=error_key, then=then),
            errors=[sfn.Errors.ALL],
            result_path=f"$.{error_key}",
        )
        task.next(then)

    def _dead_letter(self, step: str, *, error_key: str, then: sfn.IChainable) -> sfn.TaskStateBase:
        """Sends what a human needs to finish ``step`` by hand to the dead-letter queue, then goes on to ``then``."""
        name = "Send Refund To DLQ" if step == REFUND_PAYMENT else f"Send {step} To DLQ"
        send = tasks.SqsSendMessage(
            self,
            name,
            queue=self.dead_letter_queue,
            message_body=sfn.TaskInput.from_object(
                {
                    "step": step,
                    "bookingId": sfn.JsonPath.string_at("$.bookingId"),
                    "chargeId": sfn.JsonPath.string_at("$.chargeId"),
                    "outboundFlightId": sfn.JsonPath.string_at("$.outboundFlightId"),
                    "execution": sfn.JsonPath.execution_id,
                    "error": sfn.JsonPath.object_at(f"$.{error_key}"),
                    "bookingError": sfn.JsonPath.object_at("$.error"),
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(SERVICE_TASK_TIMEOUT),
        )
        self._retry(send, SQS_RETRYABLE_ERRORS, COMPENSATION_SERVICE_MAX_ATTEMPTS)
        # Even the queue failing must not stop the compensation; the execution then ends in its own Fail state.
        send.add_catch(then, errors=[sfn.Errors.ALL], result_path="$.deadLetterError")
        send.next(then)
        return send

    def _retry(self, task: sfn.TaskStateBase, errors: Sequence[str], max_attempts: int) -> None:
        task.add_retry(
            errors=list(errors),
            interval=Duration.seconds(self._config.workflow_retry_interval_seconds),
            max_delay=Duration.seconds(self._config.workflow_retry_max_delay_seconds),
            backoff_rate=BACKOFF_RATE,
            jitter_strategy=sfn.JitterType.FULL,
            max_attempts=max_attempts,
        )

    # --- built-in tasks ---------------------------------------------------------------------------------------------

    def _payment_task(
        self, name: str, *, function: lambda_.IFunction, result_path: str, max_attempts: int
    ) -> tasks.LambdaInvoke:
        """Collect or Refund: the whole state in, the function's answer at ``result_path``."""
        task = tasks.LambdaInvoke(
            self,
            name,
            lambda_function=function,
            # No payload: the function gets the whole state. The task returns the function's own answer
            # ({"receiptUrl", "price"} / {"refundId"}), not the Invoke API envelope.
            payload_response_only=True,
            # CDK's default Retry would retry before ours and differently: all retries are declared here.
            retry_on_service_exceptions=False,
            result_path=result_path,
            task_timeout=sfn.Timeout.duration(LAMBDA_TASK_TIMEOUT),
        )
        # Safe to retry: every call carries an idempotency key derived from the charge id.
        self._retry(task, PAYMENT_RETRYABLE_ERRORS, max_attempts)
        return task

    def _read_fare(self) -> sfn.Pass:
        """``$.fare`` = ``{"amount": <int>, "currency": <string>}`` from the flight's attributes (checked before)."""
        return sfn.Pass(
            self,
            READ_FARE,
            comment="DynamoDB numbers are strings: StringToJson makes the price a JSON number",
            parameters={
                "amount": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at(TICKET_PRICE_PATH)),
                "currency": sfn.JsonPath.string_at(TICKET_CURRENCY_PATH),
            },
            result_path=FARE_PATH,
        )

    def _reserve_flight(self) -> sfn.TaskStateBase:
        return tasks.DynamoUpdateItem(
            self,
            RESERVE_FLIGHT,
            table=self.flights_table,
            key={"id": _string_at("$.outboundFlightId")},
            update_expression="SET seatCapacity = seatCapacity - :one",
            # Also false for an unknown flight: UpdateItem never creates one.
            condition_expression="seatCapacity > :zero",
            expression_attribute_values={
                ":one": tasks.DynamoAttributeValue.from_number(1),
                ":zero": tasks.DynamoAttributeValue.from_number(0),
            },
            # The fare comes back with the seat, in the same call. The whole attribute map, not ticketPrice itself:
            # a missing attribute in ResultSelector is a States.Runtime error, which no Catch catches (the seat and
            # the hold would stay taken); Fare Valid? checks the fare instead.
            return_values=tasks.DynamoReturnValues.ALL_NEW,
            result_selector={"taken": True, "flight": sfn.JsonPath.object_at("$.Attributes")},
            result_path=SEAT_RESERVATION_PATH,
            task_timeout=sfn.Timeout.duration(SERVICE_TASK_TIMEOUT),
        )

    def _reserve_booking(self) -> sfn.TaskStateBase:
        return tasks.DynamoPutItem(
            self,
            RESERVE_BOOKING,
            table=self.bookings_table,
            item={
                "id": _string_at("$.bookingId"),
                "status": tasks.DynamoAttributeValue.from_string("PENDING"),
                "chargeId": _string_at("$.chargeId"),
                "customerId": _string_at("$.customerId"),
                "outboundFlightId": _string_at("$.outboundFlightId"),
                "stateMachineExecutionId": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.execution_id),
                "createdAt": _string_at("$.createdAt"),
            },
            # A retry after a write whose answer was lost finds its own item: that is success, not a conflict.
            condition_expression="attribute_not_exists(#id) OR stateMachineExecutionId = :executionId",
            expression_attribute_names={"#id": "id"},
            expression_attribute_values={
                ":executionId": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.execution_id)
            },
            result_selector={"created": True},
            result_path=BOOKING_RESERVATION_PATH,
            task_timeout=sfn.Timeout.duration(SERVICE_TASK_TIMEOUT),
        )

    def _confirm_booking(self) -> sfn.TaskStateBase:
        return tasks.DynamoUpdateItem(
            self,
            CONFIRM_BOOKING,
            table=self.bookings_table,
            key={"id": _string_at("$.bookingId")},
            update_expression="SET #status = :confirmed, bookingReference = :reference",
            # PENDING only; a retry after a lost answer finds its own confirmation (same reference) and succeeds.
            condition_expression="#status = :pending OR (#status = :confirmed AND bookingReference = :reference)",
            expression_attribute_names={"#status": "status"},
            expression_attribute_values={
                ":confirmed": tasks.DynamoAttributeValue.from_string("CONFIRMED"),
                ":pending": tasks.DynamoAttributeValue.from_string("PENDING"),
                ":reference": _string_at(BOOKING_REFERENCE_PATH),
            },
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(SERVICE_TASK_TIMEOUT),
        )

    def _cancel_booking(self) -> sfn.TaskStateBase:
        return tasks.DynamoUpdateItem(
            self,
            CANCEL_BOOKING,
            table=self.bookings_table,
            key={"id": _string_at("$.bookingId")},
            update_expression="SET #status = :cancelled, cancellationReason = :reason",
            condition_expression="attribute_exists(#id)",
            expression_attribute_names={"#id": "id", "#status": "status"},
            expression_attribute_values={
                ":cancelled": tasks.DynamoAttributeValue.from_string("CANCELLED"),
                ":reason": _string_at("$.error.Error"),
            },
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(SERVICE_TASK_TIMEOUT),
        )

    def _release_seat(self) -> sfn.TaskStateBase:
        return tasks.DynamoUpdateItem(
            self,
            RELEASE_FLIGHT_SEAT,
            table=self.flights_table,
            key={"id": _string_at("$.outboundFlightId")},
            update_expression="SET seatCapacity = seatCapacity + :one",
            condition_expression="attribute_exists(#id)",
            expression_attribute_names={"#id": "id"},
            expression_attribute_values={":one": tasks.DynamoAttributeValue.from_number(1)},
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(SERVICE_TASK_TIMEOUT),
        )

    def _notify(self, name: str, *, status: str, content: dict[str, str]) -> sfn.TaskStateBase:
        return tasks.SnsPublish(
            self,
            name,
            topic=self.notifications_topic,
            message=sfn.TaskInput.from_object({**content, "status": status}),
            # Subscribers can filter on the status without parsing the message.
            message_attributes={"status": tasks.MessageAttribute(value=status)},
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(SERVICE_TASK_TIMEOUT),
        )

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
            removal_policy=self._config.removal_policy,
        )


def _string_at(path: str) -> tasks.DynamoAttributeValue:
    return tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at(path))


def _valid_input() -> sfn.Condition:
    """Every input field present and a string, and a charge id Collect and Refund accept (``ch_`` or ``pi_``).

    ``And`` stops at the first false rule, so a type test never runs on a missing field.
    """
    rules: list[sfn.Condition] = []
    for field in INPUT_FIELDS:
        rules += [sfn.Condition.is_present(f"$.{field}"), sfn.Condition.is_string(f"$.{field}")]
    rules.append(
        sfn.Condition.or_(
            sfn.Condition.string_matches("$.chargeId", "ch_*"), sfn.Condition.string_matches("$.chargeId", "pi_*")
        )
    )
    return sfn.Condition.and_(*rules)


def _valid_fare() -> sfn.Condition:
    """A fare Read Fare can turn into a positive whole amount, with a currency; the rest Collect checks again.

    ``And`` stops at the first false rule, so the string tests never run on a missing attribute. DynamoDB gives
    numbers as text: no fraction, no sign, not zero, no exponent leaves a positive integer.
    """
    return sfn.Condition.and_(
        sfn.Condition.is_present(TICKET_PRICE_PATH),
        sfn.Condition.is_string(TICKET_PRICE_PATH),
        sfn.Condition.not_(sfn.Condition.string_matches(TICKET_PRICE_PATH, "*.*")),
        sfn.Condition.not_(sfn.Condition.string_matches(TICKET_PRICE_PATH, "-*")),
        sfn.Condition.not_(sfn.Condition.string_equals(TICKET_PRICE_PATH, "0")),
        sfn.Condition.not_(sfn.Condition.string_matches(TICKET_PRICE_PATH, "*e*")),
        sfn.Condition.not_(sfn.Condition.string_matches(TICKET_PRICE_PATH, "*E*")),
        sfn.Condition.is_present(TICKET_CURRENCY_PATH),
        sfn.Condition.is_string(TICKET_CURRENCY_PATH),
    )


def _check_custom_steps(steps: BookingSteps) -> None:
    """Refuse, at synth time, a custom task that would break the saga (see ``BookingSteps``)."""
    for field in fields(steps):
        task = getattr(steps, field.name)
        if task is None:
            continue
        state = task.to_state_json()
        problems = []
        if "Catch" in state:
            problems.append("it has a Catch of its own (the workflow adds the compensation's)")
        if "TimeoutSeconds" not in state and "TimeoutSecondsPath" not in state:
            problems.append("it sets no task_timeout")
        if state.get("QueryLanguage", "JSONPath") != "JSONPath":
            problems.append("it is not JSONPath")
        if state.get("OutputPath", "$") != "$":
            problems.append("its output_path drops part of the state")
        result_path = state.get("ResultPath", "$")
        required = _REQUIRED_RESULT_PATHS.get(field.name)
        if required is not None and result_path != required:
            problems.append(f"its result_path must be {required!r} (the compensation reads it)")
        elif required is None and not _keeps_state(result_path):
            problems.append("its result_path must be sfn.JsonPath.DISCARD or a sub-path not used by the workflow")
        if problems:
            raise ValueError(f"BookingSteps.{field.name}: {'; '.join(problems)}")


def _keeps_state(result_path: object) -> bool:
    if result_path is None or (isinstance(result_path, str) and result_path == sfn.JsonPath.DISCARD):
        return True
    if not isinstance(result_path, str) or Token.is_unresolved(result_path) or not result_path.startswith("$."):
        return False
    top_level = result_path[2:].split(".", 1)[0].split("[", 1)[0]
    return top_level not in _WORKFLOW_KEYS
