"""Driving the booking saga of the e2e local mode as a client would, shared by the e2e workflow tests.

``Saga`` talks HTTP to the payment API and to localstripe, and boto3 to the local AWS endpoint; it is safe to use
from several threads at once (one boto3 client per service, made once). ``error_response`` and ``FailRoute`` are
answers for ``LocalEnvironment.api_interceptor``, the fault-injection hook of the local API front.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import boto3
import requests
from botocore.config import Config

from local_mode import local_aws
from local_mode.environment import LOCAL_STRIPE_KEY, LocalEnvironment
from payment_stack.names import booking_stack_name
from tests.e2e.conftest import E2E_ENV

BOOKING_STACK = booking_stack_name(E2E_ENV)
# localstripe accepts any secret test key; the one of the environment is not needed to read its objects.
STRIPE_AUTH = (LOCAL_STRIPE_KEY, "")
# Connections per boto3 client: enough for every thread of a concurrent test to share one client.
MAX_POOL_CONNECTIONS = 64
# What a flight costs unless a test says otherwise (EUR cents), and what a hold is by default: the fare.
DEFAULT_FARE = 15000


@dataclass
class Saga:
    env: LocalEnvironment
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _clients_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def client(self, service: str) -> Any:
        """One boto3 client per service for the local AWS endpoint, made once (clients are thread-safe, creating them
        is not), with a connection pool large enough for many threads."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = boto3.session.Session().client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=self.env.aws_endpoint,
                    region_name=local_aws.REGION,
                    aws_access_key_id=local_aws.ACCESS_KEY_ID,
                    aws_secret_access_key=local_aws.SECRET_ACCESS_KEY,
                    aws_session_token=local_aws.SESSION_TOKEN,
                    config=Config(max_pool_connections=MAX_POOL_CONNECTIONS),
                )
            return self._clients[service]

    def output(self, key: str) -> str:
        return self.env.output(BOOKING_STACK, key)

    def add_flight(self, seats: int, *, fare: int | None = DEFAULT_FARE, currency: str = "EUR") -> str:
        """A flight with ``seats`` left and its fare (``ticketPrice`` in the smallest unit; ``None``: no fare)."""
        flight_id = f"fl-{uuid.uuid4().hex[:8]}"
        item = {"id": {"S": flight_id}, "seatCapacity": {"N": str(seats)}, "ticketCurrency": {"S": currency}}
        if fare is not None:
            item["ticketPrice"] = {"N": str(fare)}
        self.client("dynamodb").put_item(TableName=self.output("FlightsTableName"), Item=item)
        return flight_id

    def seats(self, flight_id: str) -> int:
        item = self.client("dynamodb").get_item(
            TableName=self.output("FlightsTableName"), Key={"id": {"S": flight_id}}, ConsistentRead=True
        )
        return int(item["Item"]["seatCapacity"]["N"])

    def booking(self, booking_id: str) -> dict[str, Any] | None:
        item = self.client("dynamodb").get_item(
            TableName=self.output("BookingsTableName"), Key={"id": {"S": booking_id}}, ConsistentRead=True
        )
        if "Item" not in item:
            return None
        return {key: next(iter(value.values())) for key, value in item["Item"].items()}

    def card_token(self, number: str = "4242424242424242") -> str:
        """What Stripe.js gives a front-end that tokenizes the card: a ``tok_`` id (``/charge`` makes a ``ch_``)."""
        response = requests.post(
            f"{self.env.stripe_url}/v1/tokens",
            data={"card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2034", "card[cvc]": "123"},
            auth=STRIPE_AUTH,
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["id"])

    def hold(
        self, amount: int = DEFAULT_FARE, *, source: str = "pm_card_visa", retries: int = 0, currency: str = "eur"
    ) -> str:
        """A pre-authorisation made the way the front-end makes it: POST /charge with a ``pm_`` or ``tok_`` id,
        sent again up to ``retries`` times while the API answers 5xx (as a front-end may)."""
        for attempt in range(retries + 1):
            response = requests.post(
                f"{self.env.api_url}charge",
                json={"amount": amount, "currency": currency, "stripeToken": source, "email": "jo@example.com"},
                timeout=30,
            )
            if response.status_code < HTTPStatus.INTERNAL_SERVER_ERROR or attempt == retries:
                break
        assert response.status_code == 200, response.text
        return str(response.json()["createdCharge"]["id"])

    def booking_status(self, booking_id: str) -> str | None:
        booking = self.booking(booking_id)
        return None if booking is None else str(booking["status"])

    def stripe(self, payment_id: str) -> dict[str, Any]:
        """The PaymentIntent (with its ``latest_charge`` expanded) or the Charge, as Stripe holds it."""
        intent = payment_id.startswith("pi_")
        response = requests.get(
            f"{self.env.stripe_url}/v1/{'payment_intents' if intent else 'charges'}/{payment_id}",
            params={"expand[]": "latest_charge"} if intent else None,
            auth=STRIPE_AUTH,
            timeout=10,
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def refunds(self, payment_id: str) -> list[dict[str, Any]]:
        """Every refund object of a PaymentIntent or a Charge."""
        key = "payment_intent" if payment_id.startswith("pi_") else "charge"
        response = requests.get(
            f"{self.env.stripe_url}/v1/refunds",
            params={key: payment_id, "limit": "100"},
            auth=STRIPE_AUTH,
            timeout=10,
        )
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def balance_transactions(self) -> list[dict[str, Any]]:
        """Every balance transaction at Stripe: one ``charge`` transaction per capture, one ``refund`` per refund."""
        response = requests.get(
            f"{self.env.stripe_url}/v1/balance_transactions", params={"limit": "1000000"}, auth=STRIPE_AUTH, timeout=30
        )
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def start(self, booking_input: dict[str, Any]) -> str:
        """Starts a booking (the execution name is the booking id) and returns the execution ARN at once."""
        execution = self.client("stepfunctions").start_execution(
            stateMachineArn=self.output("StateMachineArn"), name=booking_input["name"], input=json.dumps(booking_input)
        )
        return str(execution["executionArn"])

    def wait(self, execution_arn: str, *, timeout: float = 90, poll: float = 0.2) -> dict[str, Any]:
        """The execution's description once it has ended, or its last one (still ``RUNNING``) after ``timeout``."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            description: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
            if description["status"] != "RUNNING" or time.monotonic() >= deadline:
                return description
            time.sleep(poll)

    def run(self, booking_input: dict[str, Any], timeout: float = 90) -> dict[str, Any]:
        description = self.wait(self.start(booking_input), timeout=timeout)
        if description["status"] == "RUNNING":
            raise AssertionError(f"execution {booking_input['name']} still running after {timeout} s")
        return description

    def dead_letters(self) -> list[dict[str, Any]]:
        """Takes every message off the dead-letter queue (they are deleted) and returns their bodies."""
        sqs = self.client("sqs")
        messages: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.output("DeadLetterQueueUrl"), MaxNumberOfMessages=10)
            if not batch.get("Messages"):
                return messages
            for message in batch["Messages"]:
                messages.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.output("DeadLetterQueueUrl"), ReceiptHandle=message["ReceiptHandle"])


def booking_input(flight_id: str, charge_id: str) -> dict[str, Any]:
    """The old Booking service's input: the execution name doubles as the booking id."""
    return {
        "outboundFlightId": flight_id,
        "customerId": "cus-e2e",
        "chargeId": charge_id,
        "name": f"booking-{uuid.uuid4().hex[:12]}",
        "createdAt": "2026-11-26T10:00:00Z",
    }


def error_response(status: int, code: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": "injected", "code": code}),
    }


@dataclass
class FailRoute:
    """Answers every request to ``path`` with an error, as a failing payment API would; counts them."""

    path: str
    status: int
    code: str
    calls: int = 0

    def __call__(self, event: dict[str, Any]) -> dict[str, Any] | None:
        if event["path"] != self.path:
            return None
        self.calls += 1
        return error_response(self.status, self.code)
