"""The local console's JSON API against running local mode: flights, the Booking API stand-in starting executions
with the old AppSync input, a booking's live timeline, each payment's story (ledger, localstripe, bus) and the
refusals a hostile or careless client gets."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import pytest
import requests

from local_mode.console.wiring import Console
from local_mode.environment import LocalEnvironment
from tests.support.saga import Saga

FARE = 9900
ISO_8601_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.fixture
def saga(local_env: LocalEnvironment) -> Saga:
    return Saga(local_env)


def get(console: Console, path: str) -> tuple[int, Any]:
    response = requests.get(f"{console.url}{path}", timeout=30)
    return response.status_code, response.json()


def post(console: Console, path: str, body: Any) -> tuple[int, Any]:
    response = requests.post(f"{console.url}{path}", json=body, timeout=30)
    return response.status_code, response.json()


def add_flight(console: Console, seats: int) -> str:
    flight_id = f"CO-{uuid.uuid4().hex[:8]}"
    status, answer = post(
        console,
        "console/flights",
        {"id": flight_id, "seatCapacity": seats, "ticketPrice": FARE, "ticketCurrency": "eur"},
    )
    assert status == 201, answer
    return flight_id


def book_and_wait(console: Console, saga: Saga, flight_id: str) -> dict[str, Any]:
    charge_id = saga.hold(FARE)
    status, started = post(
        console, "booking/processBooking", {"paymentToken": charge_id, "outboundFlightId": flight_id}
    )
    assert status == 202, started
    assert started["status"] == "PENDING"
    deadline = time.monotonic() + 90
    while True:
        status, booking = get(console, f"console/bookings/{started['bookingId']}")
        assert status == 200, booking
        if booking["executionStatus"] != "RUNNING" or time.monotonic() > deadline:
            return dict(booking)
        time.sleep(0.2)


def payment_story(console: Console, payment_id: str, *, events: int) -> dict[str, Any]:
    """The payment's page, once the bus has delivered at least ``events`` of its events (the publisher is async)."""
    deadline = time.monotonic() + 20
    while True:
        status, story = get(console, f"console/payments/{payment_id}")
        assert status == 200, story
        if len(story["events"]) >= events or time.monotonic() > deadline:
            return dict(story)
        time.sleep(0.3)


def test_a_flight_added_in_the_console_is_listed_with_its_fare(console: Console) -> None:
    # Given a flight added through the console
    flight_id = add_flight(console, seats=4)
    # Then the flights table lists it with its seats and fare (currency upper case, as the catalog holds it)
    status, answer = get(console, "console/flights")
    assert status == 200
    assert {"id": flight_id, "seatCapacity": 4, "ticketPrice": FARE, "ticketCurrency": "EUR"} in answer["flights"]
    # And adding it again is a conflict, not a silent overwrite
    status, again = post(
        console, "console/flights", {"id": flight_id, "seatCapacity": 9, "ticketPrice": 1, "ticketCurrency": "EUR"}
    )
    assert (status, again["code"]) == (409, "flight_exists")


@pytest.mark.parametrize(
    "flight",
    [
        {"id": "bad id!", "seatCapacity": 1, "ticketPrice": 100, "ticketCurrency": "EUR"},
        {"id": "CO-x", "seatCapacity": -1, "ticketPrice": 100, "ticketCurrency": "EUR"},
        {"id": "CO-x", "seatCapacity": True, "ticketPrice": 100, "ticketCurrency": "EUR"},
        {"id": "CO-x", "seatCapacity": 1, "ticketPrice": 0, "ticketCurrency": "EUR"},
        {"id": "CO-x", "seatCapacity": 1, "ticketPrice": 12.5, "ticketCurrency": "EUR"},
        {"id": "CO-x", "seatCapacity": 1, "ticketPrice": "100", "ticketCurrency": "EUR"},
        {"id": "CO-x", "seatCapacity": 1, "ticketPrice": 100, "ticketCurrency": "EURO"},
        {"id": "CO-x", "seatCapacity": 1, "ticketPrice": 100},
        [],
        "FL-1",
    ],
)
def test_a_malformed_flight_is_refused_with_a_message(console: Console, flight: Any) -> None:
    status, answer = post(console, "console/flights", flight)
    assert status == 400
    assert answer["code"] == "invalid_flight"
    assert answer["message"]


def test_writes_need_json_bodies_of_bounded_size(console: Console) -> None:
    # A form post (what another origin could send without a CORS preflight) is refused
    form = requests.post(f"{console.url}console/flights", data={"id": "x"}, timeout=10)
    assert (form.status_code, form.json()["code"]) == (415, "unsupported_media_type")
    # Invalid JSON, and a body above 16 KiB
    broken = requests.post(
        f"{console.url}booking/processBooking", data="{", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert (broken.status_code, broken.json()["code"]) == (400, "invalid_json")
    huge = requests.post(f"{console.url}console/flights", json={"id": "x" * 20000}, timeout=10)
    assert (huge.status_code, huge.json()["code"]) == (413, "payload_too_large")


@pytest.mark.parametrize(
    "booking",
    [
        {"outboundFlightId": "FL-1001"},
        {"paymentToken": "tok_visa", "outboundFlightId": "FL-1001"},
        {"paymentToken": "pi_abc", "outboundFlightId": ""},
        {"paymentToken": "pi_abc", "outboundFlightId": "FL-1001", "customerId": "\x00"},
        {"paymentToken": 5, "outboundFlightId": "FL-1001"},
        "processBooking",
    ],
)
def test_the_booking_stand_in_refuses_what_the_old_mutation_would_not_take(console: Console, booking: Any) -> None:
    status, answer = post(console, "booking/processBooking", booking)
    assert (status, answer["code"]) == (400, "invalid_booking")


def test_a_booking_is_started_with_the_old_appsync_input_and_followed_to_its_confirmation(
    console: Console, saga: Saga, local_env: LocalEnvironment
) -> None:
    # Given a flight with seats / When the Booking stand-in starts a booking for a hold of its fare
    flight_id = add_flight(console, seats=2)
    booking = book_and_wait(console, saga, flight_id)
    # Then the execution got exactly the old resolver's input, the execution name being the booking id
    sfn = local_env.client("stepfunctions")
    arn = saga.output("StateMachineArn").replace(":stateMachine:", ":execution:") + f":{booking['bookingId']}"
    started_with = json.loads(sfn.describe_execution(executionArn=arn)["input"])
    assert set(started_with) == {"outboundFlightId", "customerId", "chargeId", "name", "createdAt"}
    assert started_with["name"] == booking["bookingId"]
    assert started_with["outboundFlightId"] == flight_id
    assert ISO_8601_UTC.match(started_with["createdAt"])
    # And the console shows it confirmed, with its reference, every step succeeded and no compensation
    assert booking["executionStatus"] == "SUCCEEDED"
    assert booking["booking"]["status"] == "CONFIRMED"
    assert booking["booking"]["bookingReference"]
    states = [row["state"] for row in booking["timeline"]]
    assert states.index("Reserve Flight") < states.index("Collect Payment") < states.index("Confirm Booking")
    assert {row["status"] for row in booking["timeline"]} == {"succeeded"}
    assert not any(row["compensation"] for row in booking["timeline"])
    # And the payment's story: captured in the ledger and at localstripe, its events on the bus
    story = payment_story(console, booking["chargeId"], events=2)
    assert story["ledger"]["status"] == "captured"
    assert story["ledger"]["capturedAmount"] == FARE
    assert story["ledger"]["bookingId"] == booking["bookingId"]
    assert [entry["status"] for entry in story["ledger"]["history"]] == ["authorized", "captured"]
    assert story["stripe"]["status"] == "succeeded"
    assert story["stripe"]["amount_received"] == FARE
    assert [event["detailType"] for event in story["events"]] == ["Payment Authorized", "Payment Captured"]
    # And both are in the recent lists
    assert booking["bookingId"] in [b["bookingId"] for b in get(console, "console/bookings")[1]["bookings"]]
    assert booking["chargeId"] in [p["paymentId"] for p in get(console, "console/payments")[1]["payments"]]


def test_a_sold_out_flight_shows_the_compensation_and_the_hold_released(console: Console, saga: Saga) -> None:
    # Given a flight with no seat left / When a booking is started
    booking = book_and_wait(console, saga, add_flight(console, seats=0))
    # Then the execution failed, the seat reservation's failure was caught and the compensation ran
    assert booking["executionStatus"] == "FAILED"
    rows = {row["state"]: row for row in booking["timeline"]}
    assert rows["Reserve Flight"]["status"] == "caught"
    assert rows["Refund Payment"]["compensation"] is True
    assert rows["Refund Payment"]["status"] == "succeeded"
    assert booking["result"]["error"]
    # And the hold was released: in the ledger, at localstripe and on the bus
    story = payment_story(console, booking["chargeId"], events=2)
    assert story["ledger"]["status"] == "released"
    assert story["stripe"]["status"] == "canceled"
    assert story["events"][-1]["detailType"] == "Hold Released"


def test_unknown_things_are_404_and_dead_letters_are_listed(console: Console) -> None:
    assert get(console, "console/bookings/no-such-booking")[0] == 404
    assert get(console, "console/bookings/..%2F..%2Fetc")[0] == 404
    assert get(console, "console/payments/pi_NoSuchPayment")[1]["code"] == "payment_not_found"
    assert get(console, "console/payments/not-a-payment-id")[0] == 404
    assert get(console, "console/nothing-here")[1]["code"] == "not_found"
    status, answer = get(console, "console/dead-letters")
    assert status == 200
    assert isinstance(answer["messages"], list)
