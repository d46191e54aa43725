"""What the console shows, read from the running local mode as an operator would: the stacks' tables, executions
and queues in moto, the payment API's own ``GET /payments/{id}`` (signed), and localstripe.

``ConsoleReads`` also writes the two things the console lets a user do besides paying: add a flight, and (through
``booking_api``) start a booking.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from local_mode.console.bus_log import BusLog
from local_mode.console.errors import ConsoleError
from local_mode.console.timeline import compensation_states, timeline
from local_mode.signed_requests import signed_get

RECENT = 20
_FLIGHT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_CURRENCY = re.compile(r"^[A-Za-z]{3}\Z")
_PAYMENT_ID = re.compile(r"^(ch|pi)_[A-Za-z0-9_]{1,250}\Z")
_EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}\Z")
MAX_SEATS = 1000
MAX_FARE = 100_000_000
_deserialize = TypeDeserializer().deserialize


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as JSON-ready values (numbers as int where whole)."""

    def simple(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == int(value) else float(value)
        if isinstance(value, dict):
            return {key: simple(inner) for key, inner in value.items()}
        if isinstance(value, (list, set, tuple)):
            return [simple(inner) for inner in value]
        return value

    return {key: simple(_deserialize(value)) for key, value in item.items()}


def _integer(body: Mapping[str, Any], name: str, *, low: int, high: int) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConsoleError(400, "invalid_flight", f"{name} must be a whole number from {low} to {high}")
    return value


@dataclass(kw_only=True)
class ConsoleReads:
    """The console's data, from the stacks' outputs (``booking_outputs``, ``payment_outputs``) and local servers."""

    client: Callable[[str], Any]  # ``client(service)``: a client of local AWS (moto)
    booking_outputs: Mapping[str, str]
    payment_outputs: Mapping[str, str]
    api_url: str
    stripe_url: str
    stripe_key: str = field(repr=False)
    bus_log: BusLog | None
    _compensation: frozenset[str] | None = field(default=None, init=False, repr=False)

    @property
    def state_machine_arn(self) -> str:
        return self.booking_outputs["StateMachineArn"]

    # --- flights -----------------------------------------------------------------------------------------------------

    def flights(self) -> list[dict[str, Any]]:
        items = self.client("dynamodb").scan(TableName=self.booking_outputs["FlightsTableName"])["Items"]
        return sorted((_flight_view(_plain(item)) for item in items), key=lambda flight: str(flight["id"]))

    def add_flight(self, body: Any) -> dict[str, Any]:
        """A new flight ``{id, seatCapacity, ticketPrice, ticketCurrency}``; 400 ``invalid_flight``, 409
        ``flight_exists``."""
        if not isinstance(body, dict):
            raise ConsoleError(400, "invalid_flight", "the body must be a JSON object")
        flight_id, currency = body.get("id"), body.get("ticketCurrency")
        if not isinstance(flight_id, str) or not _FLIGHT_ID.match(flight_id):
            raise ConsoleError(400, "invalid_flight", "id must be 1-64 letters, digits, '-' or '_'")
        if not isinstance(currency, str) or not _CURRENCY.match(currency):
            raise ConsoleError(400, "invalid_flight", "ticketCurrency must be a 3-letter currency code")
        flight = {
            "id": flight_id,
            "seatCapacity": _integer(body, "seatCapacity", low=0, high=MAX_SEATS),
            "ticketPrice": _integer(body, "ticketPrice", low=1, high=MAX_FARE),
            "ticketCurrency": currency.upper(),
        }
        try:
            self.client("dynamodb").put_item(
                TableName=self.booking_outputs["FlightsTableName"],
                Item={
                    "id": {"S": flight["id"]},
                    "seatCapacity": {"N": str(flight["seatCapacity"])},
                    "ticketPrice": {"N": str(flight["ticketPrice"])},
                    "ticketCurrency": {"S": flight["ticketCurrency"]},
                },
                ConditionExpression="attribute_not_exists(id)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConsoleError(409, "flight_exists", f"flight {flight_id} already exists") from None
            raise
        return flight

    # --- bookings ----------------------------------------------------------------------------------------------------

    def bookings(self) -> list[dict[str, Any]]:
        """The newest executions of the booking workflow with what they were started with."""
        sfn = self.client("stepfunctions")
        executions = sfn.list_executions(stateMachineArn=self.state_machine_arn, maxResults=100)["executions"]
        newest = sorted(executions, key=lambda execution: execution["startDate"], reverse=True)[:RECENT]
        return [self._summary(sfn.describe_execution(executionArn=execution["executionArn"])) for execution in newest]

    def booking(self, booking_id: str) -> dict[str, Any]:
        """One booking's execution, its timeline and its item in the bookings table; 404 ``booking_not_found``."""
        if not _EXECUTION_NAME.match(booking_id):
            raise ConsoleError(404, "booking_not_found", "no such booking")
        sfn = self.client("stepfunctions")
        arn = f"{self.state_machine_arn.replace(':stateMachine:', ':execution:')}:{booking_id}"
        try:
            description = sfn.describe_execution(executionArn=arn)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("ExecutionDoesNotExist", "ResourceNotFoundException"):
                raise ConsoleError(404, "booking_not_found", "no such booking") from None
            raise
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
            events += page["events"]
        item = self.client("dynamodb").get_item(
            TableName=self.booking_outputs["BookingsTableName"], Key={"id": {"S": booking_id}}
        )
        ended = description["status"] != "RUNNING"
        return {
            **self._summary(description),
            "booking": _plain(item["Item"]) if "Item" in item else None,
            "timeline": [row.view() for row in timeline(events, compensation=self._compensation_states())],
            "result": {"error": description.get("error"), "cause": description.get("cause")} if ended else None,
        }

    def _compensation_states(self) -> frozenset[str]:
        if self._compensation is None:  # one deployed definition for the console's life
            definition = self.client("stepfunctions").describe_state_machine(stateMachineArn=self.state_machine_arn)
            self._compensation = compensation_states(definition["definition"])
        return self._compensation

    @staticmethod
    def _summary(description: Mapping[str, Any]) -> dict[str, Any]:
        started_with = _json_object(description.get("input"))
        stopped = description.get("stopDate")
        return {
            "bookingId": description["name"],
            "executionStatus": description["status"],
            "startDate": description["startDate"].isoformat(),
            "stopDate": None if stopped is None else stopped.isoformat(),
            "outboundFlightId": started_with.get("outboundFlightId"),
            "chargeId": started_with.get("chargeId"),
        }

    # --- payments ----------------------------------------------------------------------------------------------------

    def payments(self) -> list[dict[str, Any]]:
        """The ledger's newest records."""
        items = self.client("dynamodb").scan(TableName=self.payment_outputs["PaymentLedgerTableName"])["Items"]
        records = sorted((_plain(item) for item in items), key=lambda r: str(r.get("updatedAt")), reverse=True)
        return [
            {
                "paymentId": record["id"],
                "status": record.get("status"),
                "amount": record.get("authorizedAmount"),
                "currency": record.get("currency"),
                "bookingId": (record.get("booking") or {}).get("bookingId"),
                "updatedAt": record.get("updatedAt"),
            }
            for record in records[:RECENT]
        ]

    def payment(self, payment_id: str) -> dict[str, Any]:
        """The payment's ledger record and history, its state at localstripe, the bus's events for it; 404
        ``payment_not_found`` when neither the ledger nor localstripe knows it."""
        if not _PAYMENT_ID.match(payment_id):
            raise ConsoleError(404, "payment_not_found", "no such payment")
        status, answer = signed_get(self.api_url, f"payments/{payment_id}")
        ledger, ledger_error = None, None
        if status == 200:  # noqa: PLR2004
            record = answer["payment"]
            booking = record.get("booking") or {}
            ledger = {**record, "paymentId": record["id"], "amount": record["authorizedAmount"], **booking}
        else:
            ledger_error = f"{status} {answer.get('code')}: {answer.get('message')}"
        at_stripe = self._stripe_object(payment_id)
        if ledger is None and at_stripe is None:
            raise ConsoleError(404, "payment_not_found", "neither the ledger nor localstripe knows this payment")
        return {
            "paymentId": payment_id,
            "ledger": ledger,
            "ledgerError": ledger_error,
            "stripe": at_stripe,
            "events": [] if self.bus_log is None else self.bus_log.events_for(payment_id),
        }

    def _stripe_object(self, payment_id: str) -> dict[str, Any] | None:
        kind = "payment_intents" if payment_id.startswith("pi_") else "charges"
        response = requests.get(f"{self.stripe_url}/v1/{kind}/{payment_id}", auth=(self.stripe_key, ""), timeout=10)
        if response.status_code == 404:  # noqa: PLR2004
            return None
        response.raise_for_status()
        found = response.json()
        fields = ("object", "id", "status", "amount", "amount_capturable", "amount_received", "captured", "refunded")
        return {name: found.get(name) for name in (*fields, "currency")}

    # --- dead letters ------------------------------------------------------------------------------------------------

    def dead_letters(self) -> list[dict[str, Any]]:
        """The booking workflow's dead-letter queue, peeked (a zero visibility timeout leaves every message there)."""
        messages = (
            self.client("sqs")
            .receive_message(
                QueueUrl=self.booking_outputs["DeadLetterQueueUrl"], MaxNumberOfMessages=10, VisibilityTimeout=0
            )
            .get("Messages", [])
        )
        return [{"id": message["MessageId"], "body": message["Body"]} for message in messages]


def _flight_view(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": item.get("id"),
        "seatCapacity": item.get("seatCapacity"),
        "ticketPrice": item.get("ticketPrice"),
        "ticketCurrency": item.get("ticketCurrency"),
    }


def _json_object(text: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
