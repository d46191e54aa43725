"""Request parsing and validation for the payment API, with JSON Schema validators compiled once at import.

fastjsonschema (the engine of Powertools' validation utility) is used directly so each schema is compiled once
per container instead of on every call. JSON numbers with a fraction or exponent are parsed as ``Decimal``, so
``100.0`` can never pass for an integer; the per-currency maximum is checked after the schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import fastjsonschema

from lambdas.payment_api.domain import ChargeRequest, PaymentRequest
from lambdas.payment_api.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from lambdas.payment_api.ledger import BookingContext

MAX_BODY_BYTES = 8 * 1024
PAYMENT_ID_PATTERN = r"^(ch|pi)_[A-Za-z0-9_]{1,250}\Z"
SOURCE_PATTERN = r"^(tok|card|src|pm)_[A-Za-z0-9_]{1,250}\Z"
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_\-:.]{1,200}\Z"
_JSON_MEDIA_TYPES = ("application/json",)

_AMOUNT = {"type": "integer", "minimum": 1}
_CURRENCY = {"type": "string", "pattern": r"^[A-Za-z]{3}\Z"}
_CHARGE_SCHEMA = {
    "type": "object",
    "properties": {
        "amount": _AMOUNT,
        "currency": _CURRENCY,
        "stripeToken": {"type": "string", "pattern": SOURCE_PATTERN},
        "description": {"type": "string", "maxLength": 500},
        "email": {"type": "string", "maxLength": 254, "pattern": r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+\Z"},
    },
    "required": ["amount", "currency", "stripeToken"],
    "additionalProperties": False,
}
# What Collect and Refund send of the booking they act for (the ledger records it): short printable strings.
_BOOKING_FIELD = {"type": "string", "minLength": 1, "maxLength": 256, "pattern": r"^[^\x00-\x1f\x7f]+\Z"}
_PAYMENT_SCHEMA = {
    "type": "object",
    "properties": {
        "chargeId": {"type": "string", "pattern": PAYMENT_ID_PATTERN},
        "amount": _AMOUNT,
        "currency": _CURRENCY,
        "bookingId": _BOOKING_FIELD,
        "customerId": _BOOKING_FIELD,
        "execution": _BOOKING_FIELD,
    },
    "required": ["chargeId"],
    "additionalProperties": False,
}
_IDEMPOTENCY_KEY_SCHEMA = {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN}
_PAYMENT_ID_SCHEMA = {"type": "string", "pattern": PAYMENT_ID_PATTERN}

_validate_charge = fastjsonschema.compile(_CHARGE_SCHEMA)
_validate_payment = fastjsonschema.compile(_PAYMENT_SCHEMA)
_validate_idempotency_key = fastjsonschema.compile(_IDEMPOTENCY_KEY_SCHEMA)
_validate_payment_id = fastjsonschema.compile(_PAYMENT_ID_SCHEMA)


def _reject_constant(name: str) -> Any:
    raise InvalidRequest(f"the body holds {name}, which is not a number JSON allows")


def parse_json_object(body: str | None, content_type: str | None) -> dict[str, Any]:
    """The request body as a JSON object; floats become ``Decimal`` so they can never pass for integers.

    Raises ``UnsupportedMediaType`` for a non-JSON content type, ``PayloadTooLarge`` above ``MAX_BODY_BYTES``,
    ``InvalidRequest`` for an empty, malformed or non-object body.
    """
    if content_type is not None:
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type not in _JSON_MEDIA_TYPES and not media_type.endswith("+json"):
            raise UnsupportedMediaType("send the body as JSON with Content-Type: application/json")
    if not body or not body.strip():
        raise InvalidRequest("the request body is empty: send a JSON object")
    if len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        parsed = json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise InvalidRequest("the request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise InvalidRequest("the request body must be a JSON object")
    try:
        # JSON may escape lone UTF-16 surrogates ("\ud800"), which are not text and cannot be sent on.
        json.dumps(parsed, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest("the request body holds a string that is not valid Unicode text") from None
    return parsed


# What a malformed value should have been, in words a client understands (instead of the regular expression).
_FORMATS = {
    "currency": "a 3-letter ISO 4217 currency code",
    "stripeToken": "a Stripe token, card, source or PaymentMethod id (tok_..., card_..., src_... or pm_...)",
    "email": "an email address",
    "chargeId": "a charge or PaymentIntent id (ch_... or pi_...)",
    "bookingId": "1-256 printable characters",
    "customerId": "1-256 printable characters",
    "execution": "1-256 printable characters",
}


def _check(validator: Any, schema: Mapping[str, Any], data: Mapping[str, Any]) -> None:
    try:
        validator(data)
    except fastjsonschema.JsonSchemaValueException as error:
        name = error.name or "data"
        field = name.removeprefix("data").lstrip(".") or "body"
        if error.rule == "additionalProperties":
            unknown = ", ".join(sorted(set(data) - set(schema["properties"])))
            raise InvalidRequest(f"unknown field(s): {unknown}") from None
        if error.rule == "pattern" and field in _FORMATS:
            message = f"must be {_FORMATS[field]}"
        else:
            message = str(error.message).removeprefix(name).strip()
        raise InvalidRequest(f"{field} {message}", code=f"invalid_{field}" if field != "body" else None) from None


def parse_charge(data: Mapping[str, Any], *, max_amounts: Mapping[str, int]) -> ChargeRequest:
    """A ``/charge`` body (``amount``, ``currency``, ``stripeToken``, optional ``description`` and ``email``)."""
    _check(_validate_charge, _CHARGE_SCHEMA, data)
    currency = data["currency"].lower()
    if currency not in max_amounts:
        accepted = ", ".join(sorted(max_amounts))
        raise InvalidRequest(f"currency {currency!r} is not accepted (accepted: {accepted})", code="invalid_currency")
    if data["amount"] > max_amounts[currency]:
        raise InvalidRequest(
            f"amount must be at most {max_amounts[currency]} {currency} (smallest unit)", code="invalid_amount"
        )
    return ChargeRequest(
        amount=data["amount"],
        currency=currency,
        source=data["stripeToken"],
        description=data.get("description"),
        email=data.get("email"),
    )


def parse_payment(data: Mapping[str, Any]) -> PaymentRequest:
    """A ``/capture`` or ``/refund`` body: ``chargeId`` (``ch_...``/``pi_...``), optional partial ``amount``, optional
    ``currency`` the payment must be in, and the booking the caller acts for (``bookingId``, ``customerId``,
    ``execution``)."""
    _check(_validate_payment, _PAYMENT_SCHEMA, data)
    booking = BookingContext(
        booking_id=data.get("bookingId"), customer_id=data.get("customerId"), execution=data.get("execution")
    )
    currency = data.get("currency")
    return PaymentRequest(
        payment_id=data["chargeId"],
        amount=data.get("amount"),
        currency=None if currency is None else currency.lower(),
        booking=None if booking.empty else booking,
    )


def parse_payment_id(value: str) -> str:
    """The ``{id}`` of ``GET /payments/{id}``: a charge or PaymentIntent id (``ch_...``/``pi_...``)."""
    try:
        _validate_payment_id(value)
    except fastjsonschema.JsonSchemaValueException:
        raise InvalidRequest(
            "the payment id must be a charge or PaymentIntent id (ch_... or pi_...)", code="invalid_payment_id"
        ) from None
    return value


def parse_idempotency_key(value: str | None) -> str | None:
    """The client's ``Idempotency-Key`` header, if any: 1-200 characters of ``A-Z a-z 0-9 _ - : .``."""
    if value is None:
        return None
    try:
        _validate_idempotency_key(value)
    except fastjsonschema.JsonSchemaValueException:
        raise InvalidRequest(
            "the Idempotency-Key header must be 1-200 characters of letters, digits, '_', '-', ':' or '.'",
            code="invalid_idempotency_key",
        ) from None
    return value
