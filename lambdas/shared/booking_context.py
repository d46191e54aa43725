"""Logging context from the booking state machine's state, shared by Collect and Refund (as the old middleware)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Log key -> state key. ``name`` is the execution name the booking service starts each execution with.
BOOKING_LOG_KEYS = {
    "customer_id": "customerId",
    "booking_id": "bookingId",
    "charge_id": "chargeId",
    "outbound_flight_id": "outboundFlightId",
    "state_machine_execution_id": "name",
}
_MAX_LOGGED_LENGTH = 256


def booking_log_keys(state: object) -> dict[str, str | None]:
    """The five booking keys for every log line; ``None`` where the state lacks one (or is not an object).

    Values are logged as short strings only, so a hostile state cannot flood the logs.
    """
    source: Mapping[str, Any] = state if isinstance(state, Mapping) else {}
    keys: dict[str, str | None] = {}
    for log_key, state_key in BOOKING_LOG_KEYS.items():
        value = source.get(state_key)
        keys[log_key] = None if value is None else str(value)[:_MAX_LOGGED_LENGTH]
    return keys
