"""Request validation of the payment API: every bad input gets its own error class, status and code, offline.

Bodies go through ``parse_json_object`` then ``parse_charge``/``parse_payment``, as the handler does: the JSON text
is what a client controls, so most cases are written as text.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from lambdas.payment_api.domain import ChargeRequest, PaymentRequest
from lambdas.payment_api.errors import ApiError, InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from lambdas.payment_api.validation import (
    MAX_BODY_BYTES,
    parse_charge,
    parse_idempotency_key,
    parse_json_object,
    parse_payment,
)

MAX_AMOUNTS = {"eur": 1_000_000, "jpy": 100_000_000, "usd": 1_000_000}
JSON = "application/json"
VALID_CHARGE: dict[str, Any] = {
    "amount": 12500,
    "currency": "eur",
    "stripeToken": "tok_visa",
    "description": "Payment by jane@example.com",
    "email": "jane@example.com",
}
MISSING = object()


def charge_body(**changes: object) -> str:
    """The old front-end's /charge body as JSON text, with ``changes`` applied (``MISSING`` removes a field)."""
    fields = {**VALID_CHARGE, **changes}
    return json.dumps({name: value for name, value in fields.items() if value is not MISSING})


DOCUMENTED_PREFIXES = {"tok_", "card_", "src_", "pm_", "ch_", "pi_"}


def payment_body(**fields: object) -> str:
    return json.dumps(fields)


def parse_charge_text(text: str | None, content_type: str | None = JSON) -> ChargeRequest:
    return parse_charge(parse_json_object(text, content_type), max_amounts=MAX_AMOUNTS)


def parse_payment_text(text: str | None, content_type: str | None = JSON) -> PaymentRequest:
    return parse_payment(parse_json_object(text, content_type))


def string_values(text: str | None) -> list[str]:
    """Every string value (not key) of a JSON object text, however deep; none when it does not parse.

    Iterative: Python 3.13's ``json`` parses documents nested far deeper than the recursion limit.
    """
    try:
        parsed = json.loads(text or "")
    except (ValueError, RecursionError):
        return []
    found: list[str] = []
    pending: list[object] = [parsed]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return found


def assert_rejected(error: ApiError, expected: type[ApiError], code: str, names: str | None, text: str | None) -> None:
    assert type(error) is expected, f"{type(error).__name__}: {error}"
    assert error.code == code, str(error)
    assert error.body() == {"message": str(error), "code": code}
    assert error.status in (400, 413, 415)
    message = str(error)
    if names is not None:
        assert names in message
    # A message names what is wrong; it does not repeat what the client sent (tokens, emails, secrets pasted in
    # the wrong field). Three-letter currencies are the only values short enough to be quoted, and a bare id prefix
    # may coincide with the documented format the message names.
    for value in string_values(text):
        if len(value) >= 4 and value not in DOCUMENTED_PREFIXES:
            assert value not in message, f"the message echoes {value!r}: {message}"
    assert len(message) <= 200, message


DEEP = "[" * 3000 + "]" * 3000  # 6 KB: within the size limit, deeper than Python's recursion limit

BAD_BODIES = [
    # Malformed or non-object JSON
    pytest.param('{"amount": 100,', JSON, InvalidRequest, "invalid_request", None, id="truncated-json"),
    pytest.param("{'amount': 100}", JSON, InvalidRequest, "invalid_request", None, id="single-quotes"),
    pytest.param('{"amount": 100,}', JSON, InvalidRequest, "invalid_request", None, id="trailing-comma"),
    pytest.param("amount=100&currency=usd", JSON, InvalidRequest, "invalid_request", None, id="form-as-json"),
    pytest.param('[{"amount": 100}]', JSON, InvalidRequest, "invalid_request", "object", id="list"),
    pytest.param('"tok_visa"', JSON, InvalidRequest, "invalid_request", "object", id="string"),
    pytest.param("12500", JSON, InvalidRequest, "invalid_request", "object", id="number"),
    pytest.param("null", JSON, InvalidRequest, "invalid_request", "object", id="null"),
    pytest.param("true", JSON, InvalidRequest, "invalid_request", "object", id="boolean"),
    pytest.param("", JSON, InvalidRequest, "invalid_request", "empty", id="empty-body"),
    pytest.param(None, JSON, InvalidRequest, "invalid_request", "empty", id="no-body"),
    pytest.param(" \n\t\r ", JSON, InvalidRequest, "invalid_request", "empty", id="whitespace-body"),
    pytest.param(charge_body(amount=float("nan")), JSON, InvalidRequest, "invalid_request", "NaN", id="nan"),
    pytest.param(charge_body(amount=float("inf")), JSON, InvalidRequest, "invalid_request", "Infinity", id="inf"),
    pytest.param(charge_body(amount=-float("inf")), JSON, InvalidRequest, "invalid_request", "Infinity", id="-inf"),
    pytest.param(DEEP, JSON, InvalidRequest, "invalid_request", None, id="deeply-nested-array"),
    pytest.param('{"amount": ' + DEEP + "}", JSON, InvalidRequest, "invalid_request", None, id="deeply-nested-value"),
    pytest.param(
        charge_body(extra=json.loads("[" * 400 + "]" * 400)),
        JSON,
        InvalidRequest,
        "invalid_request",
        "extra",
        id="nested-unknown-field",
    ),
    pytest.param(
        '{"amount": ' + "9" * 4400 + ', "currency": "usd", "stripeToken": "tok_visa"}',
        JSON,
        InvalidRequest,
        "invalid_request",
        None,
        id="integer-beyond-python-digit-limit",
    ),
    # Size: bytes, not characters, are counted
    pytest.param(
        charge_body(description="x" * MAX_BODY_BYTES), JSON, PayloadTooLarge, "payload_too_large", None, id="9-kib"
    ),
    pytest.param(
        charge_body(description="€" * 2800), JSON, PayloadTooLarge, "payload_too_large", None, id="8-kib-in-utf8"
    ),
    pytest.param(" " * (MAX_BODY_BYTES + 1), JSON, InvalidRequest, "invalid_request", "empty", id="9-kib-blank"),
    # Content types that are not JSON
    pytest.param(charge_body(), "text/plain", UnsupportedMediaType, "unsupported_media_type", None, id="text/plain"),
    pytest.param(
        "amount=12500&currency=eur&stripeToken=tok_visa",
        "application/x-www-form-urlencoded",
        UnsupportedMediaType,
        "unsupported_media_type",
        None,
        id="form-urlencoded",
    ),
    pytest.param(
        "<charge><amount>1</amount></charge>",
        "application/xml",
        UnsupportedMediaType,
        "unsupported_media_type",
        None,
        id="application/xml",
    ),
    pytest.param(charge_body(), "text/xml", UnsupportedMediaType, "unsupported_media_type", None, id="text/xml"),
    pytest.param(
        charge_body(),
        "multipart/form-data; boundary=x",
        UnsupportedMediaType,
        "unsupported_media_type",
        None,
        id="multipart",
    ),
    pytest.param(charge_body(), "application/jsonp", UnsupportedMediaType, "unsupported_media_type", None, id="jsonp"),
    pytest.param(charge_body(), "", UnsupportedMediaType, "unsupported_media_type", None, id="empty-content-type"),
    # Missing fields
    pytest.param(charge_body(amount=MISSING), JSON, InvalidRequest, "invalid_request", "amount", id="no-amount"),
    pytest.param(charge_body(currency=MISSING), JSON, InvalidRequest, "invalid_request", "currency", id="no-currency"),
    pytest.param(
        charge_body(stripeToken=MISSING), JSON, InvalidRequest, "invalid_request", "stripeToken", id="no-stripeToken"
    ),
    pytest.param("{}", JSON, InvalidRequest, "invalid_request", "amount", id="empty-object"),
    # Amounts: integers of the smallest currency unit, 1..max for the currency
    pytest.param(charge_body(amount="100"), JSON, InvalidRequest, "invalid_amount", "amount", id="amount-string"),
    pytest.param(charge_body(amount=True), JSON, InvalidRequest, "invalid_amount", "amount", id="amount-true"),
    pytest.param(charge_body(amount=False), JSON, InvalidRequest, "invalid_amount", "amount", id="amount-false"),
    pytest.param(charge_body(amount=10.5), JSON, InvalidRequest, "invalid_amount", "amount", id="amount-10.5"),
    pytest.param(charge_body(amount=100.0), JSON, InvalidRequest, "invalid_amount", "amount", id="amount-100.0"),
    pytest.param(
        '{"amount": 1e2, "currency": "usd", "stripeToken": "tok_visa"}',
        JSON,
        InvalidRequest,
        "invalid_amount",
        "amount",
        id="amount-1e2",
    ),
    pytest.param(
        '{"amount": 1E400, "currency": "usd", "stripeToken": "tok_visa"}',
        JSON,
        InvalidRequest,
        "invalid_amount",
        "amount",
        id="amount-1e400",
    ),
    pytest.param(charge_body(amount=None), JSON, InvalidRequest, "invalid_amount", "amount", id="amount-null"),
    pytest.param(charge_body(amount=[100]), JSON, InvalidRequest, "invalid_amount", "amount", id="amount-list"),
    pytest.param(
        charge_body(amount={"value": 100}), JSON, InvalidRequest, "invalid_amount", "amount", id="amount-object"
    ),
    pytest.param(charge_body(amount=0), JSON, InvalidRequest, "invalid_amount", "amount", id="amount-0"),
    pytest.param(
        '{"amount": -0, "currency": "usd", "stripeToken": "tok_visa"}',
        JSON,
        InvalidRequest,
        "invalid_amount",
        "amount",
        id="amount--0",
    ),
    pytest.param(charge_body(amount=-1), JSON, InvalidRequest, "invalid_amount", "amount", id="amount-negative"),
    pytest.param(charge_body(amount=10**30), JSON, InvalidRequest, "invalid_amount", "amount", id="amount-10**30"),
    pytest.param(
        charge_body(amount=1_000_001, currency="usd"),
        JSON,
        InvalidRequest,
        "invalid_amount",
        "amount",
        id="amount-above-usd-max",
    ),
    pytest.param(
        charge_body(amount=100_000_001, currency="jpy"),
        JSON,
        InvalidRequest,
        "invalid_amount",
        "amount",
        id="amount-above-jpy-max",
    ),
    # Currencies: three letters, and one the service accepts
    pytest.param(charge_body(currency="xyz"), JSON, InvalidRequest, "invalid_currency", "currency", id="cur-xyz"),
    pytest.param(charge_body(currency="gbp"), JSON, InvalidRequest, "invalid_currency", "currency", id="cur-gbp"),
    pytest.param(charge_body(currency="us"), JSON, InvalidRequest, "invalid_currency", "currency", id="cur-us"),
    pytest.param(charge_body(currency="usdd"), JSON, InvalidRequest, "invalid_currency", "currency", id="cur-usdd"),
    pytest.param(charge_body(currency=123), JSON, InvalidRequest, "invalid_currency", "currency", id="cur-123"),
    pytest.param(charge_body(currency="u$d"), JSON, InvalidRequest, "invalid_currency", "currency", id="cur-u$d"),
    pytest.param(charge_body(currency=""), JSON, InvalidRequest, "invalid_currency", "currency", id="cur-empty"),
    pytest.param(charge_body(currency=None), JSON, InvalidRequest, "invalid_currency", "currency", id="cur-null"),
    pytest.param(charge_body(currency="usd\n"), JSON, InvalidRequest, "invalid_currency", "currency", id="cur-newline"),
    pytest.param(charge_body(currency="ųsd"), JSON, InvalidRequest, "invalid_currency", "currency", id="cur-unicode"),
    # stripeToken: tok_/card_/src_/pm_ then letters, digits and underscores only
    pytest.param(charge_body(stripeToken="ch_x"), JSON, InvalidRequest, "invalid_stripeToken", "stripeToken", id="ch"),
    pytest.param(
        charge_body(stripeToken="sk_test_51Hsecret"),
        JSON,
        InvalidRequest,
        "invalid_stripeToken",
        "stripeToken",
        id="secret-key",
    ),
    pytest.param(
        charge_body(stripeToken="pk_test_51Hpublic"),
        JSON,
        InvalidRequest,
        "invalid_stripeToken",
        "stripeToken",
        id="publishable-key",
    ),
    pytest.param(
        charge_body(stripeToken=""), JSON, InvalidRequest, "invalid_stripeToken", "stripeToken", id="tok-empty"
    ),
    pytest.param(
        charge_body(stripeToken="tok_"), JSON, InvalidRequest, "invalid_stripeToken", "stripeToken", id="tok_"
    ),
    pytest.param(
        charge_body(stripeToken="tok_a b"), JSON, InvalidRequest, "invalid_stripeToken", "stripeToken", id="tok-space"
    ),
    pytest.param(
        charge_body(stripeToken="tok_x\n"), JSON, InvalidRequest, "invalid_stripeToken", "stripeToken", id="tok-newline"
    ),
    pytest.param(
        charge_body(stripeToken="tok_x';DROP TABLE charges;--"),
        JSON,
        InvalidRequest,
        "invalid_stripeToken",
        "stripeToken",
        id="tok-sql-injection",
    ),
    pytest.param(
        charge_body(stripeToken="tok_<script>alert(1)</script>"),
        JSON,
        InvalidRequest,
        "invalid_stripeToken",
        "stripeToken",
        id="tok-html-injection",
    ),
    pytest.param(
        charge_body(stripeToken="tok_../../v1/charges"),
        JSON,
        InvalidRequest,
        "invalid_stripeToken",
        "stripeToken",
        id="tok-path-traversal",
    ),
    pytest.param(
        charge_body(stripeToken="TOK_visa"), JSON, InvalidRequest, "invalid_stripeToken", "stripeToken", id="TOK"
    ),
    pytest.param(
        charge_body(stripeToken="tok_" + "a" * 251),
        JSON,
        InvalidRequest,
        "invalid_stripeToken",
        "stripeToken",
        id="tok-too-long",
    ),
    pytest.param(charge_body(stripeToken=42), JSON, InvalidRequest, "invalid_stripeToken", "stripeToken", id="tok-42"),
    pytest.param(
        charge_body(stripeToken=None), JSON, InvalidRequest, "invalid_stripeToken", "stripeToken", id="tok-null"
    ),
    # Unknown fields are refused, named, and their values not repeated
    pytest.param(
        charge_body(cardNumber="4242424242424242"),
        JSON,
        InvalidRequest,
        "invalid_request",
        "cardNumber",
        id="unknown-card-number",
    ),
    pytest.param(charge_body(capture=True), JSON, InvalidRequest, "invalid_request", "capture", id="unknown-capture"),
    # description and email
    pytest.param(
        charge_body(description="d" * 501),
        JSON,
        InvalidRequest,
        "invalid_description",
        "description",
        id="description-501",
    ),
    pytest.param(
        charge_body(description=42), JSON, InvalidRequest, "invalid_description", "description", id="description-42"
    ),
    pytest.param(charge_body(email="jane"), JSON, InvalidRequest, "invalid_email", "email", id="email-no-at"),
    pytest.param(charge_body(email="jane@example"), JSON, InvalidRequest, "invalid_email", "email", id="email-no-dot"),
    pytest.param(
        charge_body(email="jane doe@example.com"), JSON, InvalidRequest, "invalid_email", "email", id="email-space"
    ),
    pytest.param(
        charge_body(email="@example.com"), JSON, InvalidRequest, "invalid_email", "email", id="email-no-local"
    ),
    pytest.param(charge_body(email="a@b@example.com"), JSON, InvalidRequest, "invalid_email", "email", id="email-2-at"),
    pytest.param(
        charge_body(email="jane@example.com\n"), JSON, InvalidRequest, "invalid_email", "email", id="email-newline"
    ),
    pytest.param(
        charge_body(email="j" * 65 + "@example.com"),
        JSON,
        InvalidRequest,
        "invalid_email",
        "email",
        id="email-local-65",
    ),
    pytest.param(
        charge_body(email="jane@" + "e" * 250 + ".com"),
        JSON,
        InvalidRequest,
        "invalid_email",
        "email",
        id="email-255",
    ),
    pytest.param(
        charge_body(email=["jane@example.com"]), JSON, InvalidRequest, "invalid_email", "email", id="email-list"
    ),
]


@pytest.mark.parametrize(("text", "content_type", "expected", "code", "names"), BAD_BODIES)
def test_bad_charge_bodies_are_rejected_with_their_code(
    text: str | None, content_type: str | None, expected: type[ApiError], code: str, names: str | None
) -> None:
    # Given a /charge body a client might send / When the handler's parsing runs on it
    with pytest.raises(ApiError) as caught:
        parse_charge_text(text, content_type)
    # Then it is refused with its own class, status and code, and a message that names what is wrong
    assert_rejected(caught.value, expected, code, names, text)


BAD_PAYMENTS = [
    pytest.param(payment_body(chargeId="re_1"), "invalid_chargeId", "chargeId", id="refund-id"),
    pytest.param(payment_body(chargeId="cus_1"), "invalid_chargeId", "chargeId", id="customer-id"),
    pytest.param(payment_body(chargeId="tok_1"), "invalid_chargeId", "chargeId", id="token-id"),
    pytest.param(payment_body(chargeId=""), "invalid_chargeId", "chargeId", id="empty"),
    pytest.param(payment_body(chargeId="ch_"), "invalid_chargeId", "chargeId", id="ch_-alone"),
    pytest.param(payment_body(chargeId="pi_"), "invalid_chargeId", "chargeId", id="pi_-alone"),
    pytest.param(payment_body(chargeId=42), "invalid_chargeId", "chargeId", id="number"),
    pytest.param(payment_body(chargeId=None), "invalid_chargeId", "chargeId", id="null"),
    pytest.param(payment_body(chargeId="pi_x\n"), "invalid_chargeId", "chargeId", id="trailing-newline"),
    pytest.param(payment_body(chargeId="CH_1"), "invalid_chargeId", "chargeId", id="upper-case"),
    pytest.param(payment_body(chargeId="ch_1 OR 1=1"), "invalid_chargeId", "chargeId", id="sql-injection"),
    pytest.param(payment_body(chargeId="ch_1/refunds"), "invalid_chargeId", "chargeId", id="path-injection"),
    pytest.param(payment_body(chargeId="ch_" + "a" * 251), "invalid_chargeId", "chargeId", id="too-long"),
    pytest.param(payment_body(chargeId=["ch_1"]), "invalid_chargeId", "chargeId", id="list"),
    pytest.param(payment_body(), "invalid_request", "chargeId", id="missing"),
    pytest.param(payment_body(amount=100), "invalid_request", "chargeId", id="amount-only"),
    pytest.param(payment_body(chargeId="ch_1", amount="100"), "invalid_amount", "amount", id="amount-string"),
    pytest.param(payment_body(chargeId="ch_1", amount=0), "invalid_amount", "amount", id="amount-0"),
    pytest.param(payment_body(chargeId="ch_1", amount=-5), "invalid_amount", "amount", id="amount-negative"),
    pytest.param(payment_body(chargeId="ch_1", amount=10.5), "invalid_amount", "amount", id="amount-10.5"),
    pytest.param(payment_body(chargeId="ch_1", amount=100.0), "invalid_amount", "amount", id="amount-100.0"),
    pytest.param(payment_body(chargeId="ch_1", amount=True), "invalid_amount", "amount", id="amount-true"),
    pytest.param(payment_body(chargeId="ch_1", amount=None), "invalid_amount", "amount", id="amount-null"),
    pytest.param(payment_body(chargeId="ch_1", refundAll=True), "invalid_request", "refundAll", id="unknown-field"),
    pytest.param(
        payment_body(chargeId="ch_1", stripeToken="tok_visa"), "invalid_request", "stripeToken", id="charge-field"
    ),
]


@pytest.mark.parametrize(("text", "code", "names"), BAD_PAYMENTS)
def test_bad_capture_and_refund_bodies_are_rejected_with_their_code(text: str, code: str, names: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_payment_text(text)
    assert_rejected(caught.value, InvalidRequest, code, names, text)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
        "application/vnd.x+json",
        "application/problem+json",
        None,
    ],
)
def test_json_content_types_and_a_missing_one_are_accepted(content_type: str | None) -> None:
    assert parse_json_object(charge_body(), content_type) == VALID_CHARGE


def test_floats_are_parsed_as_decimals_so_they_never_pass_for_integers() -> None:
    parsed = parse_json_object('{"amount": 100.0, "x": 1e2, "n": 7}', JSON)
    assert parsed == {"amount": Decimal("100.0"), "x": Decimal("1E+2"), "n": 7}
    assert type(parsed["n"]) is int


def test_a_body_of_exactly_8_kib_gets_past_the_size_check() -> None:
    text = charge_body(description="")
    text = text.replace('"description": ""', '"description": "' + "x" * (MAX_BODY_BYTES - len(text)) + '"')
    assert len(text.encode()) == MAX_BODY_BYTES
    with pytest.raises(InvalidRequest) as caught:  # past parsing: refused only for the 500-character description
        parse_charge_text(text)
    assert caught.value.code == "invalid_description"
    assert len(parse_json_object(text, JSON)["description"]) > 500


def test_the_old_front_end_body_becomes_a_charge_request() -> None:
    request = parse_charge_text(charge_body())
    assert request.amount == 12500
    assert request.currency == "eur"
    assert request.source == "tok_visa"
    assert request.description == "Payment by jane@example.com"
    assert request.email == "jane@example.com"
    assert request.uses_payment_method is False


@pytest.mark.parametrize("currency", ["USD", "Usd", "usd"])
def test_currency_is_accepted_in_any_case_and_lower_cased(currency: str) -> None:
    assert parse_charge_text(charge_body(currency=currency, amount=1_000_000)).currency == "usd"


@pytest.mark.parametrize(
    ("amount", "currency"), [(1, "eur"), (1_000_000, "eur"), (1_000_000, "usd"), (100_000_000, "jpy")]
)
def test_amounts_up_to_the_currency_maximum_are_accepted(amount: int, currency: str) -> None:
    request = parse_charge_text(charge_body(amount=amount, currency=currency))
    assert (request.amount, request.currency) == (amount, currency)
    assert type(request.amount) is int


@pytest.mark.parametrize(
    ("token", "uses_payment_method"),
    [
        ("tok_1N3T00LkdIwHu7ixt44h1F8k", False),
        ("card_1N3T00LkdIwHu7ixRd3Q4G1V", False),
        ("src_1N3T00LkdIwHu7ix2bFTTHmP", False),
        ("pm_card_visa", True),
        ("tok_" + "a" * 250, False),
    ],
)
def test_token_card_source_and_payment_method_ids_are_accepted(token: str, uses_payment_method: bool) -> None:
    request = parse_charge_text(charge_body(stripeToken=token))
    assert request.source == token
    assert request.uses_payment_method is uses_payment_method


def test_optional_fields_may_be_left_out() -> None:
    request = parse_charge_text(charge_body(description=MISSING, email=MISSING))
    assert (request.description, request.email) == (None, None)


@pytest.mark.parametrize(
    "description",
    ["Vol Paris → Tōkyō ✈️ für Jürgen", "航空券の支払い", "Ödön 🛫🛬 " * 10, "d" * 500, "Ünïcödé" * 71],
)
def test_unicode_descriptions_up_to_500_characters_are_accepted_unchanged(description: str) -> None:
    assert parse_charge_text(charge_body(description=description)).description == description


@pytest.mark.parametrize("email", ["jane@example.com", "j.doe+trip@mail.example.co.uk", "j" * 64 + "@example.com"])
def test_well_formed_emails_are_accepted(email: str) -> None:
    assert parse_charge_text(charge_body(email=email)).email == email


@pytest.mark.parametrize(
    ("text", "payment_id", "amount"),
    [
        (payment_body(chargeId="ch_3N3T00LkdIwHu7ix0s0tPd4v"), "ch_3N3T00LkdIwHu7ix0s0tPd4v", None),
        (payment_body(chargeId="pi_3N3T00LkdIwHu7ix1Jm4Ee3K"), "pi_3N3T00LkdIwHu7ix1Jm4Ee3K", None),
        (payment_body(chargeId="ch_1", amount=500), "ch_1", 500),
        (payment_body(chargeId="pi_1", amount=10**12), "pi_1", 10**12),
    ],
)
def test_capture_and_refund_take_charge_or_intent_ids_and_an_optional_amount(
    text: str, payment_id: str, amount: int | None
) -> None:
    request = parse_payment_text(text)
    assert (request.payment_id, request.amount) == (payment_id, amount)


@pytest.mark.parametrize(
    "key",
    ["a", "checkout-7f3a", "order:1234.attempt_2", "3f1c2a9e-8b7d-4c6e-9f00-1a2b3c4d5e6f", "k" * 200],
)
def test_valid_idempotency_keys_are_returned_unchanged(key: str) -> None:
    assert parse_idempotency_key(key) == key


def test_no_idempotency_key_is_none() -> None:
    assert parse_idempotency_key(None) is None


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="empty"),
        pytest.param(" ", id="space"),
        pytest.param("k" * 201, id="201-chars"),
        pytest.param("two words", id="inner-space"),
        pytest.param(" padded", id="leading-space"),
        pytest.param("key\n", id="trailing-newline"),
        pytest.param("key\tx", id="tab"),
        pytest.param("clé", id="latin-accent"),
        pytest.param("ключ", id="cyrillic"),
        pytest.param("🔑", id="emoji"),
        pytest.param("a/b", id="slash"),
        pytest.param("a;DROP", id="semicolon"),
        pytest.param("${jndi:ldap://x}", id="template-injection"),
    ],
)
def test_invalid_idempotency_keys_are_400_without_echoing_the_key(key: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_idempotency_key(key)
    assert caught.value.code == "invalid_idempotency_key"
    assert caught.value.status == 400
    assert "Idempotency-Key" in str(caught.value)
    if key.strip():
        assert key not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            r'{"amount": 100, "currency": "usd", "stripeToken": "tok_visa", "description": "\ud800"}', id="desc"
        ),
        pytest.param(
            r'{"amount": 100, "currency": "usd", "stripeToken": "tok_visa", "email": "a\udfff@b.co"}', id="mail"
        ),
    ],
)
def test_text_that_is_not_unicode_is_rejected(text: str) -> None:
    # Given a JSON escape of a lone UTF-16 surrogate: well-formed JSON syntax, but no Unicode text (RFC 8259 §8.2,
    # RFC 7493 §2.1), which Stripe's form encoding cannot send (UnicodeEncodeError, a 500 in the handler)
    # When it is parsed / Then it is refused as a bad request, like any other malformed field
    with pytest.raises(InvalidRequest):
        parse_charge_text(text)
