"""The local-mode demo: one booking that succeeds and one that fails with its hold released, as a client sees them."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests

from local_mode.environment import LOCAL_STRIPE_KEY, LocalEnvironment

SAMPLE_FLIGHT = "FL-1001"
FULL_FLIGHT = "FL-FULL"
# Fares as the flight catalog holds them: ticketPrice in the currency's smallest unit (12500 = 125.00 EUR).
DEMO_FARE = 12500
DEMO_CURRENCY = "EUR"
EXECUTION_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class DemoBooking:
    title: str
    expected: str
    charge_id: str
    amount: int
    execution: str
    status: str
    booking_status: str | None
    payment_status: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status == self.expected and (
            (self.expected == "SUCCEEDED" and self.booking_status == "CONFIRMED" and self.payment_status == "captured")
            or (self.expected == "FAILED" and self.payment_status in ("hold released", "refunded"))
        )


def seed_flights(env: LocalEnvironment, booking_stack: str) -> None:
    table = env.output(booking_stack, "FlightsTableName")
    dynamodb = env.client("dynamodb")
    for flight_id, seats in ((SAMPLE_FLIGHT, 20), (FULL_FLIGHT, 0)):
        dynamodb.put_item(
            TableName=table,
            Item={
                "id": {"S": flight_id},
                "seatCapacity": {"N": str(seats)},
                "ticketPrice": {"N": str(DEMO_FARE)},
                "ticketCurrency": {"S": DEMO_CURRENCY},
            },
        )


def payment_status(env: LocalEnvironment, charge_id: str) -> str:
    response = requests.get(
        f"{env.stripe_url}/v1/payment_intents/{charge_id}",
        params={"expand[]": "latest_charge"},
        auth=(LOCAL_STRIPE_KEY, ""),
        timeout=10,
    )
    response.raise_for_status()
    intent = response.json()
    if intent["status"] == "canceled":
        return "hold released"
    if intent["status"] == "succeeded":
        charge = intent.get("latest_charge") or {}
        return "refunded" if charge.get("refunded") else "captured"
    return str(intent["status"])


def book(env: LocalEnvironment, booking_stack: str, *, title: str, flight: str, expected: str) -> DemoBooking:
    started = time.monotonic()
    amount = DEMO_FARE
    charge = requests.post(
        f"{env.api_url}charge",
        json={
            "amount": amount,
            "currency": DEMO_CURRENCY.lower(),
            "stripeToken": "pm_card_visa",
            "email": "demo@example.com",
        },
        timeout=30,
    )
    charge.raise_for_status()
    charge_id = str(charge.json()["createdCharge"]["id"])
    name = f"demo-{uuid.uuid4().hex[:10]}"
    sfn = env.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=env.output(booking_stack, "StateMachineArn"),
        name=name,
        input=json.dumps(
            {
                "outboundFlightId": flight,
                "customerId": "demo-customer",
                "chargeId": charge_id,
                "name": name,
                "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        ),
    )["executionArn"]
    description: dict[str, Any] = sfn.describe_execution(executionArn=arn)
    while description["status"] == "RUNNING" and time.monotonic() - started < EXECUTION_TIMEOUT_SECONDS:
        time.sleep(0.2)
        description = sfn.describe_execution(executionArn=arn)
    item = env.client("dynamodb").get_item(
        TableName=env.output(booking_stack, "BookingsTableName"), Key={"id": {"S": name}}
    )
    booking_status = item["Item"]["status"]["S"] if "Item" in item else None
    return DemoBooking(
        title=title,
        expected=expected,
        charge_id=charge_id,
        amount=amount,
        execution=name,
        status=str(description["status"]),
        booking_status=booking_status,
        payment_status=payment_status(env, charge_id),
        seconds=time.monotonic() - started,
    )


def run_demo(env: LocalEnvironment, booking_stack: str) -> list[DemoBooking]:
    seed_flights(env, booking_stack)
    return [
        book(env, booking_stack, title=f"seat on {SAMPLE_FLIGHT}", flight=SAMPLE_FLIGHT, expected="SUCCEEDED"),
        book(env, booking_stack, title=f"sold-out {FULL_FLIGHT}", flight=FULL_FLIGHT, expected="FAILED"),
    ]


def report(bookings: list[DemoBooking]) -> str:
    lines = [
        f"{'booking':<22} {'execution':<17} {'charge':<20} {'amount':>9} {'workflow':<10} {'booking':<10} "
        f"{'payment':<14} {'time':>6}  ok",
    ]
    for b in bookings:
        lines.append(
            f"{b.title:<22} {b.execution:<17} {b.charge_id:<20} {b.amount / 100:>5.2f} EUR {b.status:<10} "
            f"{b.booking_status or '-':<10} {b.payment_status:<14} {b.seconds:>5.1f}s  {'yes' if b.ok else 'NO'}"
        )
    return "\n".join(lines)
