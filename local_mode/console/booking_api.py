"""A local stand-in for the old Booking service's API: ``processBooking`` starts the booking workflow.

The old front-end called the Booking service's AppSync mutation ``processBooking(input: {paymentToken,
outboundFlightId})`` after ``/charge``; its resolver started the state machine with the input below, the execution
name doubling as the booking id. This stand-in does the same over plain JSON (no GraphQL, no Cognito: the customer
is ``customerId`` from the request, or a fixed local one), so local mode's bookings start exactly as they did.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from local_mode.console.errors import ConsoleError

LOCAL_CUSTOMER_ID = "local-customer"
_PAYMENT_TOKEN = re.compile(r"^(ch|pi)_[A-Za-z0-9_]{1,250}\Z")
_FLIGHT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_CUSTOMER_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,128}\Z")


def booking_input(
    *, payment_token: str, outbound_flight_id: str, customer_id: str, name: str, now: datetime
) -> dict[str, str]:
    """The execution input exactly as the old AppSync resolver built it (the charge id under its workflow name)."""
    return {
        "outboundFlightId": outbound_flight_id,
        "customerId": customer_id,
        "chargeId": payment_token,
        "name": name,
        "createdAt": now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def _optional(body: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str | None:
    return None if body.get(name) is None else _required(body, name, pattern)


def _required(body: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not pattern.match(value):
        raise ConsoleError(400, "invalid_booking", f"{name} is missing or malformed")
    return value


def process_booking(body: Any, *, stepfunctions: Any, state_machine_arn: str) -> dict[str, str]:
    """Start a booking for ``{paymentToken, outboundFlightId, customerId?}``; ``{bookingId, executionArn, status}``.

    ``ConsoleError`` 400 ``invalid_booking`` for a body that is not that object.
    """
    if not isinstance(body, dict):
        raise ConsoleError(400, "invalid_booking", "the body must be a JSON object")
    payment_token = _required(body, "paymentToken", _PAYMENT_TOKEN)
    flight_id = _required(body, "outboundFlightId", _FLIGHT_ID)
    customer_id = _optional(body, "customerId", _CUSTOMER_ID) or LOCAL_CUSTOMER_ID
    name = str(uuid.uuid4())
    execution_input = booking_input(
        payment_token=payment_token,
        outbound_flight_id=flight_id,
        customer_id=customer_id,
        name=name,
        now=datetime.now(UTC),
    )
    started = stepfunctions.start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
    )
    return {"bookingId": name, "executionArn": str(started["executionArn"]), "status": "PENDING"}
