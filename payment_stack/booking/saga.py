"""The booking saga's state graph: the forward path, and the compensation every failure runs.

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

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from payment_stack.booking.extension import BookingSteps
from payment_stack.booking.states import (
    BOOKING_CONFIRMED,
    BOOKING_FAILED,
    BOOKING_FAILED_ERROR,
    BOOKING_REFERENCE_PATH,
    BOOKING_RESERVATION_PATH,
    BOOKING_RESERVED,
    CANCEL_BOOKING,
    COLLECT_PAYMENT,
    COMPENSATION_NOT_RECORDED,
    COMPENSATION_NOT_RECORDED_ERROR,
    COMPENSATION_RECORDED,
    CREATE_BOOKING_REFERENCE,
    DYNAMODB_RETRYABLE_ERRORS,
    FARE_UNAVAILABLE,
    FARE_UNAVAILABLE_ERROR,
    FARE_VALID,
    INPUT_FIELDS,
    INVALID_BOOKING_INPUT,
    INVALID_BOOKING_INPUT_ERROR,
    NOTIFY_BOOKING_CONFIRMED,
    NOTIFY_BOOKING_FAILED,
    PAYMENT_CONFLICT,
    PREPARE_BOOKING,
    REFUND_PAYMENT,
    RELEASE_FLIGHT_SEAT,
    SEAT_RESERVATION_PATH,
    SEAT_RESERVED,
    SNS_RETRYABLE_ERRORS,
    TICKET_CURRENCY_PATH,
    TICKET_PRICE_PATH,
    VALIDATE_INPUT,
)
from payment_stack.booking.tasks import BuiltInTasks, RetryTiming
from payment_stack.booking.timing import (
    COLLECT_MAX_ATTEMPTS,
    COMPENSATION_SERVICE_MAX_ATTEMPTS,
    FORWARD_SERVICE_MAX_ATTEMPTS,
    REFUND_MAX_ATTEMPTS,
)


@dataclass(frozen=True, kw_only=True)
class BookingSaga:
    """Builds the saga's states in ``scope`` (the workflow construct) from the custom ``steps`` and built-in ``tasks``.

    Each custom step takes the place of its built-in task and gets that task's Retry (``retry``) and Catch.
    """

    scope: Construct
    steps: BookingSteps
    tasks: BuiltInTasks
    retry: RetryTiming

    def definition(self, *, collect_function: lambda_.IFunction, refund_function: lambda_.IFunction) -> sfn.IChainable:
        """The whole graph, starting at Validate Input."""
        compensation = self._compensation(refund_function=refund_function)
        forward = self._forward(compensation, collect_function=collect_function)
        return (
            sfn.Choice(self.scope, VALIDATE_INPUT, comment="Fail fast, before any side effect, on a malformed input")
            .when(_valid_input(), forward)
            .otherwise(
                sfn.Fail(
                    self.scope,
                    INVALID_BOOKING_INPUT,
                    error=INVALID_BOOKING_INPUT_ERROR,
                    cause="The booking input needs outboundFlightId, customerId, chargeId (ch_... or pi_...), name "
                    "and createdAt, all strings; nothing was reserved or charged",
                )
            )
        )

    # --- the forward path -------------------------------------------------------------------------------------------

    def _forward(self, compensation: sfn.IChainable, *, collect_function: lambda_.IFunction) -> sfn.IChainable:
        """Prepare Booking -> Reserve Flight -> Fare Valid? -> the priced booking, or Fare Unavailable."""
        steps, tasks = self.steps, self.tasks
        reserve_flight = steps.reserve_flight or tasks.reserve_flight()
        reserve_booking = steps.reserve_booking or tasks.reserve_booking()
        collect = tasks.payment_task(
            COLLECT_PAYMENT, function=collect_function, result_path="$.payment", max_attempts=COLLECT_MAX_ATTEMPTS
        )
        confirm = steps.confirm_booking or tasks.confirm_booking()
        notify_confirmed = steps.notify_confirmed or tasks.notify(
            NOTIFY_BOOKING_CONFIRMED,
            status="CONFIRMED",
            content=_strings_at("bookingId", "customerId", "outboundFlightId", bookingReference=BOOKING_REFERENCE_PATH),
        )
        self.retry.add_to(reserve_flight, DYNAMODB_RETRYABLE_ERRORS, FORWARD_SERVICE_MAX_ATTEMPTS)
        self.retry.add_to(reserve_booking, DYNAMODB_RETRYABLE_ERRORS, FORWARD_SERVICE_MAX_ATTEMPTS)
        self.retry.add_to(confirm, DYNAMODB_RETRYABLE_ERRORS, FORWARD_SERVICE_MAX_ATTEMPTS)
        self.retry.add_to(notify_confirmed, SNS_RETRYABLE_ERRORS, FORWARD_SERVICE_MAX_ATTEMPTS)
        # Collect's own retries are added by payment_task.
        for task in (reserve_flight, reserve_booking, collect, confirm, notify_confirmed):
            task.add_catch(compensation, errors=[sfn.Errors.ALL], result_path="$.error")

        create_reference = self._create_reference()
        priced = (
            tasks.read_fare()
            .next(reserve_booking)
            .next(collect)
            .next(create_reference)
            .next(confirm)
            .next(notify_confirmed)
            .next(sfn.Succeed(self.scope, BOOKING_CONFIRMED))
        )
        fare_unavailable = self._fare_unavailable().next(compensation)
        return (
            sfn.Pass(
                self.scope,
                PREPARE_BOOKING,
                comment="The booking id is the execution name; only the known input fields go on",
                parameters={**_strings_at(*INPUT_FIELDS), "bookingId": sfn.JsonPath.execution_name},
            )
            .next(reserve_flight)
            .next(
                sfn.Choice(
                    self.scope, FARE_VALID, comment="Collect captures exactly the flight's fare: it must be sound"
                )
                .when(_valid_fare(), priced)
                .otherwise(fare_unavailable)
            )
        )

    def _create_reference(self) -> sfn.Pass:
        """Intrinsic functions in JSONPath: 8 hex digits of a UUID, made once so that Confirm's retries reuse it."""
        return sfn.Pass(
            self.scope,
            CREATE_BOOKING_REFERENCE,
            comment="A short, human-friendly booking reference",
            parameters={
                "bookingReference": sfn.JsonPath.array_get_item(sfn.JsonPath.string_split(sfn.JsonPath.uuid(), "-"), 0)
            },
            result_path="$.confirmation",
        )

    def _fare_unavailable(self) -> sfn.Pass:
        """The seat is taken: a flight without a fare goes to the compensation like a failed task, so the seat is
        released and the hold too (no booking was reserved yet)."""
        return sfn.Pass(
            self.scope,
            FARE_UNAVAILABLE,
            comment="Record the failure as a Catch would, then compensate",
            parameters={
                "Error": FARE_UNAVAILABLE_ERROR,
                "Cause": "The flight has no valid fare (ticketPrice: a positive whole number in the currency's "
                "smallest unit; ticketCurrency: a string): nothing was charged; the seat and the hold are given back",
            },
            result_path="$.error",
        )

    # --- the compensation -------------------------------------------------------------------------------------------

    def _compensation(self, *, refund_function: lambda_.IFunction) -> sfn.IChainable:
        """Refund, then undo what was reserved, then notify; every step reaches the end whatever happens.

        Built from the end backwards: each step needs the one after it.
        """
        steps, tasks = self.steps, self.tasks
        end = self._compensation_end()
        notify_failed = steps.notify_failed or tasks.notify(
            NOTIFY_BOOKING_FAILED,
            status="CANCELLED",
            content=_strings_at("bookingId", "customerId", "chargeId", "outboundFlightId", error="$.error.Error"),
        )
        self._compensation_step(
            notify_failed,
            step=NOTIFY_BOOKING_FAILED,
            errors=SNS_RETRYABLE_ERRORS,
            error_key="notifyFailedError",
            then=end,
        )

        # Undo what the forward path reserved, the latest first; each marker says whether it was (see BookingSteps).
        then: sfn.IChainable = notify_failed
        for reserved, marker, undo, step, error_key in (
            (
                SEAT_RESERVED,
                SEAT_RESERVATION_PATH,
                steps.release_seat or tasks.release_seat(),
                RELEASE_FLIGHT_SEAT,
                "releaseSeatError",
            ),
            (
                BOOKING_RESERVED,
                BOOKING_RESERVATION_PATH,
                steps.cancel_booking or tasks.cancel_booking(),
                CANCEL_BOOKING,
                "cancelBookingError",
            ),
        ):
            self._compensation_step(undo, step=step, errors=DYNAMODB_RETRYABLE_ERRORS, error_key=error_key, then=then)
            then = sfn.Choice(self.scope, reserved).when(sfn.Condition.is_present(marker), undo).otherwise(then)
        return self._refund(refund_function, then=then)

    def _compensation_end(self) -> sfn.Choice:
        """Booking Failed, or Compensation Not Recorded when even the dead-letter queue could not take a step."""
        not_recorded = sfn.Fail(
            self.scope,
            COMPENSATION_NOT_RECORDED,
            error=COMPENSATION_NOT_RECORDED_ERROR,
            cause="The booking failed, a compensation step failed, and sending it to the dead-letter queue failed "
            "too: see this execution's history",
        )
        booking_failed = sfn.Fail(
            self.scope,
            BOOKING_FAILED,
            error=BOOKING_FAILED_ERROR,
            cause="The booking failed and was compensated: payment refunded or hold released (or the case sent to "
            "the dead-letter queue), booking cancelled, seat released",
        )
        return (
            sfn.Choice(self.scope, COMPENSATION_RECORDED)
            .when(sfn.Condition.is_present("$.deadLetterError"), not_recorded)
            .otherwise(booking_failed)
        )

    def _refund(self, refund_function: lambda_.IFunction, *, then: sfn.IChainable) -> sfn.TaskStateBase:
        """Refund always runs: it refunds a capture or releases the hold the front-end's /charge created, whichever
        step failed. Already refunded or released (PaymentConflict) means nothing is owed: carry on."""
        refund = self.tasks.payment_task(
            REFUND_PAYMENT, function=refund_function, result_path="$.refund", max_attempts=REFUND_MAX_ATTEMPTS
        )
        refund.add_catch(then, errors=[PAYMENT_CONFLICT], result_path="$.refundConflict")
        refund.add_catch(
            self._dead_letter(REFUND_PAYMENT, error_key="refundError", then=then),
            errors=[sfn.Errors.ALL],
            result_path="$.refundError",
        )
        refund.next(then)
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
        self.retry.add_to(task, errors, COMPENSATION_SERVICE_MAX_ATTEMPTS)
        task.add_catch(
            self._dead_letter(step, error_key=error_key, then=then),
            errors=[sfn.Errors.ALL],
            result_path=f"$.{error_key}",
        )
        task.next(then)

    def _dead_letter(self, step: str, *, error_key: str, then: sfn.IChainable) -> sfn.TaskStateBase:
        """Sends what a human needs to finish ``step`` by hand to the dead-letter queue, then goes on to ``then``."""
        send = self.tasks.dead_letter(step, error_key=error_key)
        # Even the queue failing must not stop the compensation; the execution then ends in its own Fail state.
        send.add_catch(then, errors=[sfn.Errors.ALL], result_path="$.deadLetterError")
        send.next(then)
        return send


def _strings_at(*fields: str, **at_paths: str) -> dict[str, str]:
    """The top-level string ``fields`` of the state, each under its own name, then those at ``at_paths`` (name=path)."""
    return {
        **{field: sfn.JsonPath.string_at(f"$.{field}") for field in fields},
        **{name: sfn.JsonPath.string_at(path) for name, path in at_paths.items()},
    }


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
