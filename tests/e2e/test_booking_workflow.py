"""The booking saga as synthesized (Booking-e2e's state machine definition), executed by moto's Step Functions
interpreter, with the deployed Collect and Refund code calling the real payment API on localstripe.

Driven only as clients would: HTTP to the API, boto3 to the local AWS endpoint."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from local_mode.environment import LocalEnvironment
from tests.support.saga import BOOKING_STACK, FailRoute, Saga, booking_input, error_response


@pytest.fixture(scope="module")
def notifications(local_env: LocalEnvironment) -> Callable[[], list[dict[str, Any]]]:
    """Everything published on the booking topic, through an SQS subscription (as a subscriber would see it)."""
    sqs, sns = local_env.client("sqs"), local_env.client("sns")
    queue_url = sqs.create_queue(QueueName="e2e-notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=local_env.output(BOOKING_STACK, "NotificationsTopicArn"),
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(message["Body"]) for message in messages]

    return received


@pytest.fixture
def saga(local_env: LocalEnvironment, notifications: Callable[[], list[dict[str, Any]]]) -> Saga:
    notifications()  # drain what earlier tests left
    saga = Saga(local_env)
    saga.dead_letters()
    return saga


def test_happy_path_confirms_captures_and_notifies(
    saga: Saga, notifications: Callable[[], list[dict[str, Any]]]
) -> None:
    flight, charge = saga.add_flight(seats=3), saga.hold()
    request = booking_input(flight, charge)
    result = saga.run(request)
    assert result["status"] == "SUCCEEDED", result
    booking = saga.booking(request["name"])
    assert booking is not None
    assert booking["status"] == "CONFIRMED"
    assert booking["bookingReference"]
    assert booking["chargeId"] == charge
    assert saga.seats(flight) == 2
    assert saga.stripe(charge)["status"] == "succeeded"  # captured
    assert any(
        message.get("status") == "CONFIRMED" and message.get("bookingId") == request["name"]
        for message in notifications()
    )
    assert saga.dead_letters() == []


def assert_compensated(saga: Saga, request: dict[str, Any], *, seats_before: int, flight: str) -> None:
    booking = saga.booking(request["name"])
    assert booking is None or booking["status"] == "CANCELLED"
    assert saga.seats(flight) == seats_before
    payment = saga.stripe(request["chargeId"])
    assert payment["status"] == "canceled" or payment["latest_charge"]["refunded"], payment


def test_no_seat_left_releases_the_hold_and_takes_no_seat(saga: Saga) -> None:
    flight, charge = saga.add_flight(seats=0), saga.hold()
    request = booking_input(flight, charge)
    result = saga.run(request)
    assert result["status"] == "FAILED"
    assert saga.booking(request["name"]) is None
    assert_compensated(saga, request, seats_before=0, flight=flight)
    assert saga.dead_letters() == []


def test_booking_reservation_failure_gives_seat_and_hold_back(saga: Saga) -> None:
    flight, charge = saga.add_flight(seats=2), saga.hold()
    request = booking_input(flight, charge)
    # Given a booking with this id already exists (Reserve Booking's condition fails)
    saga.env.client("dynamodb").put_item(
        TableName=saga.output("BookingsTableName"), Item={"id": {"S": request["name"]}, "status": {"S": "CONFIRMED"}}
    )
    result = saga.run(request)
    assert result["status"] == "FAILED"
    assert saga.seats(flight) == 2
    assert saga.stripe(charge)["status"] == "canceled"
    assert saga.booking_status(request["name"]) == "CONFIRMED"  # someone else's booking is left alone


def test_decline_at_capture_releases_the_hold(saga: Saga) -> None:
    saga.env.api_interceptor = declines = FailRoute("/capture", 402, "card_declined")
    flight, charge = saga.add_flight(seats=2), saga.hold()
    request = booking_input(flight, charge)
    result = saga.run(request)
    assert result["status"] == "FAILED"
    assert declines.calls == 1  # a decline is final: no retry
    assert saga.booking_status(request["name"]) == "CANCELLED"
    assert_compensated(saga, request, seats_before=2, flight=flight)


def test_confirm_failing_after_capture_refunds_the_capture(saga: Saga) -> None:
    flight, charge = saga.add_flight(seats=2), saga.hold()
    request = booking_input(flight, charge)
    bookings_table = saga.output("BookingsTableName")
    dynamodb = saga.env.client("dynamodb")

    def lock_booking_during_capture(event: dict[str, Any]) -> dict[str, Any] | None:
        # Someone changes the booking while the payment is captured: Confirm Booking's condition then fails.
        if event["path"] == "/capture":
            dynamodb.update_item(
                TableName=bookings_table,
                Key={"id": {"S": request["name"]}},
                UpdateExpression="SET #s = :locked",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":locked": {"S": "LOCKED"}},
            )
        return None

    saga.env.api_interceptor = lock_booking_during_capture
    result = saga.run(request)
    assert result["status"] == "FAILED"
    assert saga.booking_status(request["name"]) == "CANCELLED"
    assert saga.seats(flight) == 2
    refunds = saga.refunds(charge)
    assert len(refunds) == 1
    assert refunds[0]["amount"] == 15000


def test_payment_api_down_until_retries_are_exhausted_releases_the_hold(saga: Saga) -> None:
    saga.env.api_interceptor = outage = FailRoute("/capture", 503, "provider_error")
    flight, charge = saga.add_flight(seats=2), saga.hold()
    request = booking_input(flight, charge)
    result = saga.run(request)
    assert result["status"] == "FAILED"
    assert outage.calls == 4  # first try + MaxAttempts 3 retries
    assert_compensated(saga, request, seats_before=2, flight=flight)


def test_refund_failing_lands_in_the_dead_letter_queue(saga: Saga) -> None:
    flight, charge = saga.add_flight(seats=2), saga.hold()
    request = booking_input(flight, charge)
    capture_then_refund_down: list[str] = []

    def interceptor(event: dict[str, Any]) -> dict[str, Any] | None:
        if event["path"] == "/capture":
            return error_response(402, "card_declined")
        if event["path"] == "/refund":
            capture_then_refund_down.append("refund")
            return error_response(500, "internal_error")
        return None

    saga.env.api_interceptor = interceptor
    result = saga.run(request, timeout=120)
    assert result["status"] == "FAILED"
    assert len(capture_then_refund_down) == 7  # first try + MaxAttempts 6 retries: harder than Collect
    dead = saga.dead_letters()
    assert len(dead) == 1
    assert dead[0]["chargeId"] == charge
    assert "PaymentServiceUnavailable" in json.dumps(dead[0])
    assert saga.booking_status(request["name"]) == "CANCELLED"
    assert saga.seats(flight) == 2
    assert saga.stripe(charge)["status"] == "requires_capture"  # the hold is still there: a human must act


@pytest.mark.parametrize(
    "bad_input",
    [
        {},
        {"outboundFlightId": "fl-1", "customerId": "c", "name": "x", "createdAt": "t"},
        {"outboundFlightId": "fl-1", "customerId": "c", "chargeId": "tok_visa", "name": "x", "createdAt": "t"},
        {"outboundFlightId": 7, "customerId": "c", "chargeId": "ch_1", "name": "x", "createdAt": "t"},
    ],
)
def test_bad_input_fails_fast_without_side_effects(saga: Saga, bad_input: dict[str, Any]) -> None:
    execution_name = f"bad-{uuid.uuid4().hex[:12]}"
    sfn = saga.env.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=saga.output("StateMachineArn"), name=execution_name, input=json.dumps(bad_input)
    )["executionArn"]
    deadline = time.monotonic() + 30
    while (description := sfn.describe_execution(executionArn=arn))[
        "status"
    ] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert description["status"] == "FAILED"
    assert description.get("error") == "InvalidBookingInput"
    assert saga.booking(execution_name) is None
    assert saga.dead_letters() == []
