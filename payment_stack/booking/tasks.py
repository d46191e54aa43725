"""The booking saga's built-in tasks: Collect/Refund invocations, the DynamoDB and SNS steps, the dead-letter message.

``BuiltInTasks`` creates each task in the workflow construct (its construct id is the state's name) against the
workflow's tables, topic and queue; ``RetryTiming`` gives every task of the saga, built-in or custom, the same
jittered exponential Retry. Timeouts and retry budgets are in ``payment_stack.booking.timing``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from payment_stack.booking.states import (
    BOOKING_REFERENCE_PATH,
    BOOKING_RESERVATION_PATH,
    CANCEL_BOOKING,
    CONFIRM_BOOKING,
    FARE_PATH,
    PAYMENT_RETRYABLE_ERRORS,
    READ_FARE,
    REFUND_PAYMENT,
    RELEASE_FLIGHT_SEAT,
    RESERVE_BOOKING,
    RESERVE_FLIGHT,
    SEAT_RESERVATION_PATH,
    SQS_RETRYABLE_ERRORS,
    TICKET_CURRENCY_PATH,
    TICKET_PRICE_PATH,
)
from payment_stack.booking.timing import (
    BACKOFF_RATE,
    COMPENSATION_SERVICE_MAX_ATTEMPTS,
    LAMBDA_TASK_TIMEOUT,
    SERVICE_TASK_TIMEOUT,
)


@dataclass(frozen=True, kw_only=True)
class RetryTiming:
    """Where every Retry of the workflow starts and the longest it waits (full jitter, ``BACKOFF_RATE``)."""

    interval_seconds: int
    max_delay_seconds: int

    def add_to(self, task: sfn.TaskStateBase, errors: Sequence[str], max_attempts: int) -> None:
        """Retry ``errors`` of ``task`` up to ``max_attempts`` times after the first attempt."""
        task.add_retry(
            errors=list(errors),
            interval=Duration.seconds(self.interval_seconds),
            max_delay=Duration.seconds(self.max_delay_seconds),
            backoff_rate=BACKOFF_RATE,
            jitter_strategy=sfn.JitterType.FULL,
            max_attempts=max_attempts,
        )


@dataclass(frozen=True, kw_only=True)
class BuiltInTasks:
    """Creates the saga's built-in tasks in ``scope`` (the workflow construct), named after their states."""

    scope: Construct
    retry: RetryTiming
    flights_table: dynamodb.ITable
    bookings_table: dynamodb.ITable
    notifications_topic: sns.ITopic
    dead_letter_queue: sqs.IQueue

    def payment_task(
        self, name: str, *, function: lambda_.IFunction, result_path: str, max_attempts: int
    ) -> tasks.LambdaInvoke:
        """Collect or Refund: the whole state in, the function's answer at ``result_path``."""
        task = tasks.LambdaInvoke(
            self.scope,
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
        self.retry.add_to(task, PAYMENT_RETRYABLE_ERRORS, max_attempts)
        return task

    def dead_letter(self, step: str, *, error_key: str) -> sfn.TaskStateBase:
        """Sends what a human needs to finish ``step`` by hand (its error at ``$.<error_key>``) to the dead-letter
        queue, retried; where it goes next is the compensation's to say."""
        name = "Send Refund To DLQ" if step == REFUND_PAYMENT else f"Send {step} To DLQ"
        send = tasks.SqsSendMessage(
            self.scope,
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
        self.retry.add_to(send, SQS_RETRYABLE_ERRORS, COMPENSATION_SERVICE_MAX_ATTEMPTS)
        return send

    def read_fare(self) -> sfn.Pass:
        """``$.fare`` = ``{"amount": <int>, "currency": <string>}`` from the flight's attributes (checked before)."""
        return sfn.Pass(
            self.scope,
            READ_FARE,
            comment="DynamoDB numbers are strings: StringToJson makes the price a JSON number",
            parameters={
                "amount": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at(TICKET_PRICE_PATH)),
                "currency": sfn.JsonPath.string_at(TICKET_CURRENCY_PATH),
            },
            result_path=FARE_PATH,
        )

    def reserve_flight(self) -> sfn.TaskStateBase:
        return self._update_item(
            RESERVE_FLIGHT,
            table=self.flights_table,
            id_path="$.outboundFlightId",
            update_expression="SET seatCapacity = seatCapacity - :one",
            # Also false for an unknown flight: UpdateItem never creates one.
            condition_expression="seatCapacity > :zero",
            values={
                ":one": tasks.DynamoAttributeValue.from_number(1),
                ":zero": tasks.DynamoAttributeValue.from_number(0),
            },
            # The fare comes back with the seat, in the same call. The whole attribute map, not ticketPrice itself:
            # a missing attribute in ResultSelector is a States.Runtime error, which no Catch catches (the seat and
            # the hold would stay taken); Fare Valid? checks the fare instead.
            return_values=tasks.DynamoReturnValues.ALL_NEW,
            result_selector={"taken": True, "flight": sfn.JsonPath.object_at("$.Attributes")},
            result_path=SEAT_RESERVATION_PATH,
        )

    def reserve_booking(self) -> sfn.TaskStateBase:
        return tasks.DynamoPutItem(
            self.scope,
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

    def confirm_booking(self) -> sfn.TaskStateBase:
        return self._update_item(
            CONFIRM_BOOKING,
            table=self.bookings_table,
            id_path="$.bookingId",
            update_expression="SET #status = :confirmed, bookingReference = :reference",
            # PENDING only; a retry after a lost answer finds its own confirmation (same reference) and succeeds.
            condition_expression="#status = :pending OR (#status = :confirmed AND bookingReference = :reference)",
            names={"#status": "status"},
            values={
                ":confirmed": tasks.DynamoAttributeValue.from_string("CONFIRMED"),
                ":pending": tasks.DynamoAttributeValue.from_string("PENDING"),
                ":reference": _string_at(BOOKING_REFERENCE_PATH),
            },
        )

    def cancel_booking(self) -> sfn.TaskStateBase:
        return self._update_item(
            CANCEL_BOOKING,
            table=self.bookings_table,
            id_path="$.bookingId",
            update_expression="SET #status = :cancelled, cancellationReason = :reason",
            condition_expression="attribute_exists(#id)",
            names={"#id": "id", "#status": "status"},
            values={
                ":cancelled": tasks.DynamoAttributeValue.from_string("CANCELLED"),
                ":reason": _string_at("$.error.Error"),
            },
        )

    def release_seat(self) -> sfn.TaskStateBase:
        return self._update_item(
            RELEASE_FLIGHT_SEAT,
            table=self.flights_table,
            id_path="$.outboundFlightId",
            update_expression="SET seatCapacity = seatCapacity + :one",
            condition_expression="attribute_exists(#id)",
            names={"#id": "id"},
            values={":one": tasks.DynamoAttributeValue.from_number(1)},
        )

    def notify(self, name: str, *, status: str, content: dict[str, str]) -> sfn.TaskStateBase:
        return tasks.SnsPublish(
            self.scope,
            name,
            topic=self.notifications_topic,
            message=sfn.TaskInput.from_object({**content, "status": status}),
            # Subscribers can filter on the status without parsing the message.
            message_attributes={"status": tasks.MessageAttribute(value=status)},
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(SERVICE_TASK_TIMEOUT),
        )

    def _update_item(
        self,
        name: str,
        *,
        table: dynamodb.ITable,
        id_path: str,
        update_expression: str,
        condition_expression: str,
        values: dict[str, tasks.DynamoAttributeValue],
        names: dict[str, str] | None = None,
        return_values: tasks.DynamoReturnValues | None = None,
        result_selector: dict[str, object] | None = None,
        result_path: str = sfn.JsonPath.DISCARD,
    ) -> tasks.DynamoUpdateItem:
        """UpdateItem of the item whose ``id`` is the string at ``id_path``, only if ``condition_expression`` holds
        (a failed condition is final: never retried)."""
        return tasks.DynamoUpdateItem(
            self.scope,
            name,
            table=table,
            key={"id": _string_at(id_path)},
            update_expression=update_expression,
            condition_expression=condition_expression,
            expression_attribute_names=names,
            expression_attribute_values=values,
            return_values=return_values,
            result_selector=result_selector,
            result_path=result_path,
            task_timeout=sfn.Timeout.duration(SERVICE_TASK_TIMEOUT),
        )


def _string_at(path: str) -> tasks.DynamoAttributeValue:
    return tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at(path))
