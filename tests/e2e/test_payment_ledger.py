"""The service knows its money, end to end on local mode: the fare is the server's, the ledger records every
transition (``GET /payments/{id}``), and the sweeper releases abandoned holds.

End states are read as clients would: the booking and seats from the tables, the payment from localstripe, the
ledger through the signed API. Holds are aged by moving their ledger creation time back (the sweeper ages holds
by it), so no test waits for the configured minutes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from local_mode.environment import LocalEnvironment, register_webhook
from payment_stack.names import payment_stack_name
from tests.e2e.conftest import E2E_ENV
from tests.support.api_clients import payment_record, signed_get
from tests.support.saga import STRIPE_AUTH, Saga, booking_input

SWEEPER_HANDLER = "lambdas.payment_api.sweeper.handler"
PAYMENT_STACK = payment_stack_name(E2E_ENV)


def captured_at_stripe(saga: Saga, payment_id: str) -> int:
    payment = saga.stripe(payment_id)
    charge = payment["latest_charge"] if payment["object"] == "payment_intent" else payment
    if not charge or not charge.get("captured"):
        return 0
    return int(charge.get("amount_captured") or charge["amount"] - int(charge.get("amount_refunded") or 0))


def execution_states(saga: Saga, execution_arn: str) -> list[str]:
    history = saga.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
    return [
        event["stateEnteredEventDetails"]["name"] for event in history["events"] if "stateEnteredEventDetails" in event
    ]


def run_booking(saga: Saga, request: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    execution_arn = saga.start(request)
    description = saga.wait(execution_arn)
    assert description["status"] != "RUNNING"
    return description, execution_states(saga, execution_arn)


def test_a_hold_above_the_fare_captures_exactly_the_fare(saga: Saga) -> None:
    # Given a 150.00 EUR flight and a 200.00 EUR hold (an edited request, or a fare that went down)
    flight, charge = saga.add_flight(seats=2, fare=15000), saga.hold(20000)
    request = booking_input(flight, charge)
    # When the booking runs
    description, _ = run_booking(saga, request)
    # Then it is confirmed, only the fare was captured (the rest of the hold released), and Collect says so
    assert description["status"] == "SUCCEEDED", description
    assert json.loads(description["output"])["payment"]["price"] == 15000
    assert captured_at_stripe(saga, charge) == 15000
    record = payment_record(saga.env, charge)
    assert (record["status"], record["authorizedAmount"], record["capturedAmount"]) == ("captured", 20000, 15000)
    assert record["booking"] == {"bookingId": request["name"], "customerId": "cus-e2e", "execution": request["name"]}
    assert [entry["status"] for entry in record["history"]] == ["authorized", "captured"]
    assert "client_secret" not in json.dumps(record)


@pytest.mark.parametrize(
    ("hold", "currency", "flight_currency", "error"),
    [
        pytest.param(100, "eur", "EUR", "HoldBelowFare", id="hold-below-fare"),
        pytest.param(15000, "usd", "EUR", "CurrencyMismatch", id="currency-mismatch"),
    ],
)
def test_a_hold_that_cannot_pay_the_fare_is_released_and_the_seat_given_back(
    saga: Saga, hold: int, currency: str, flight_currency: str, error: str
) -> None:
    # Given a 150.00 EUR flight and a hold that does not cover it (0.01 EUR... or dollars)
    flight = saga.add_flight(seats=2, fare=15000, currency=flight_currency)
    charge = saga.hold(hold, currency=currency)
    request = booking_input(flight, charge)
    # When the booking runs
    description, _ = run_booking(saga, request)
    # Then nothing is captured: the booking is cancelled with the error's name, the seat back, the hold released
    assert description["status"] == "FAILED"
    booking = saga.booking(request["name"])
    assert booking is not None
    assert (booking["status"], booking["cancellationReason"]) == ("CANCELLED", error)
    assert saga.seats(flight) == 2
    assert saga.stripe(charge)["status"] == "canceled"
    assert payment_record(saga.env, charge)["status"] == "released"


def test_a_flight_without_a_fare_fails_before_collect_and_releases_the_hold(saga: Saga) -> None:
    flight, charge = saga.add_flight(seats=2, fare=None), saga.hold()
    request = booking_input(flight, charge)
    description, states = run_booking(saga, request)
    assert description["status"] == "FAILED"
    assert "Fare Unavailable" in states
    assert "Collect Payment" not in states
    assert saga.booking(request["name"]) is None
    assert saga.seats(flight) == 2
    assert saga.stripe(charge)["status"] == "canceled"
    assert payment_record(saga.env, charge)["status"] == "released"


def test_an_unknown_or_malformed_payment_id_is_answered_clearly(saga: Saga) -> None:
    assert signed_get(saga.env, "payments/pi_doesnotexist")[0] == 404
    status, body = signed_get(saga.env, "payments/xx_1")
    assert (status, body["code"]) == (400, "invalid_payment_id")
    # Unsigned, the route is refused as every IAM route is
    assert requests.get(f"{saga.env.api_url}payments/pi_doesnotexist", timeout=10).status_code == 403


# --- the abandoned-hold sweeper -------------------------------------------------------------------------------------


def age_hold(saga: Saga, payment_id: str, minutes: int) -> None:
    """Move the hold's ledger creation time ``minutes`` back (the attribute the sweeper's index sorts by)."""
    created = (datetime.now(tz=UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    saga.client("dynamodb").update_item(
        TableName=saga.env.output(PAYMENT_STACK, "PaymentLedgerTableName"),
        Key={"id": {"S": payment_id}},
        UpdateExpression="SET createdAt = :created",
        ExpressionAttributeValues={":created": {"S": created}},
    )


def sweep(saga: Saga) -> dict[str, Any]:
    """One run of the deployed sweeper, invoked as its schedule invokes it."""
    lambda_client = saga.client("lambda")
    name = next(
        function["FunctionName"]
        for function in lambda_client.list_functions()["Functions"]
        if function.get("Handler") == SWEEPER_HANDLER
    )
    answer = lambda_client.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in answer
    report: dict[str, Any] = json.loads(answer["Payload"].read())
    return report


def test_the_sweeper_releases_an_abandoned_hold_and_leaves_a_young_one(saga: Saga) -> None:
    # Given a checkout abandoned 31 minutes ago (the hold was made, no booking ever started) and one just made
    abandoned, young = saga.hold(), saga.hold()
    age_hold(saga, abandoned, minutes=31)
    # When the sweeper runs
    report = sweep(saga)
    # Then the abandoned hold is released at Stripe and recorded so; the young one is untouched
    assert report["failed"] == 0, report
    assert saga.stripe(abandoned)["status"] == "canceled"
    record = payment_record(saga.env, abandoned)
    assert (record["status"], record["reason"]) == ("released", "abandoned")
    assert record["history"][-1]["source"] == "sweeper"
    assert saga.stripe(young)["status"] == "requires_capture"
    assert payment_record(saga.env, young)["status"] == "authorized"


@pytest.fixture
def no_webhook_deliveries(local_env: LocalEnvironment) -> Iterator[None]:
    """localstripe's webhook pointed at a port nothing listens on: the ledger learns only what the service reads.

    Without it, localstripe's ``payment_intent.succeeded`` (sent about 1 s after a capture) races the sweeper."""
    register_webhook(local_env.stripe_url, url="http://127.0.0.1:9/unreachable", secret=local_env.webhook_secret)
    yield
    register_webhook(local_env.stripe_url, url=local_env.webhook_url, secret=local_env.webhook_secret)


@pytest.mark.usefixtures("no_webhook_deliveries")
def test_a_hold_captured_behind_the_ledgers_back_stays_captured(saga: Saga) -> None:
    # Given an old hold that someone captured at Stripe directly (e.g. in the Dashboard): the ledger still says held
    charge = saga.hold()
    captured = requests.post(f"{saga.env.stripe_url}/v1/payment_intents/{charge}/capture", auth=STRIPE_AUTH, timeout=10)
    captured.raise_for_status()
    age_hold(saga, charge, minutes=31)
    # When the sweeper runs
    report = sweep(saga)
    # Then the capture stands, and the ledger learnt it from Stripe
    assert report["failed"] == 0, report
    assert saga.stripe(charge)["status"] == "succeeded"
    record = payment_record(saga.env, charge)
    assert record["status"] == "captured"
    assert record["history"][-1]["source"] == "provider"
