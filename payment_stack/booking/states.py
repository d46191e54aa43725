"""The booking saga's vocabulary: state names, error names, retryable errors and where things live in the state.

What executions, logs, the console and the tests see; the rest of ``payment_stack.booking`` builds the saga from
these names (``saga``, ``tasks``) and checks custom steps against them (``steps``).
"""

from __future__ import annotations

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

# --- where things live in the state --------------------------------------------------------------------------------
# Top-level keys the workflow writes; a custom task must not overwrite them.
WORKFLOW_KEYS = frozenset(
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
