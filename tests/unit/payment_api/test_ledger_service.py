"""The payment ledger as the payment API keeps it: what each request records, and what the record decides.

Through the real handler (idempotency store and ledger on moto's DynamoDB) with a stateful ``FakeProvider`` that
honours idempotency keys and refuses what the payment's state forbids, as Stripe does. Every test reads the record
back from the ledger and counts the provider's calls (``calls``), the money it moved (``moves``) and its reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any, cast

import boto3
import pytest

from lambdas.payment_api.domain import PaymentRequest
from lambdas.payment_api.dynamodb_ledger import DynamoDBLedger
from lambdas.payment_api.errors import ProviderUnavailable
from lambdas.payment_api.ledger import (
    ALLOWED_TRANSITIONS,
    HOLD_STATUSES,
    BookingContext,
    EntrySource,
    HistoryEntry,
    Ledger,
    LedgerUnavailable,
    NewPayment,
    PaymentRecord,
    PaymentStatus,
)
from lambdas.payment_api.service import PaymentService
from tests.fixtures.payment_api import FakeProvider, FlakyLedger, sample_payment
from tests.support.api_events import FakeLambdaContext, proxy_event
from tests.unit.payment_api.conftest import IDEMPOTENCY_TABLE

S = PaymentStatus
CHARGE_BODY = {"amount": 12500, "currency": "eur", "stripeToken": "tok_visa", "email": "jane@example.com"}
BOOKING_FIELDS = {
    "bookingId": "bk_4711",
    "customerId": "cust_42",
    "execution": "arn:aws:states:eu-west-1:123456789012:execution:booking:bk_4711",
}
BOOKING = BookingContext(
    booking_id="bk_4711",
    customer_id="cust_42",
    execution="arn:aws:states:eu-west-1:123456789012:execution:booking:bk_4711",
)
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")
SEEDED_AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    request_id: str  # API Gateway's request id, which the ledger's history entries carry


def send(module: ModuleType, path: str, body: object = None, *, key: str | None = None, method: str = "POST") -> Answer:
    """One request to the handler, as API Gateway sends it."""
    event = proxy_event(path, body, method=method, headers={"Idempotency-Key": key} if key else None)
    response = module.handler(event, FakeLambdaContext())
    return Answer(response["statusCode"], json.loads(response["body"]), event["requestContext"]["requestId"])


@pytest.fixture
def ledger(api_module: ModuleType) -> DynamoDBLedger:
    """The handler's own ledger (on moto's ``test-ledger`` table)."""
    return cast("DynamoDBLedger", api_module.payment_ledger)


def stored(ledger: Ledger, payment_id: str) -> PaymentRecord:
    record = ledger.get(payment_id)
    assert record is not None, f"the ledger has no record of {payment_id}"
    return record


def statuses(record: PaymentRecord) -> list[tuple[PaymentStatus | None, PaymentStatus, EntrySource]]:
    return [(entry.previous_status, entry.status, entry.source) for entry in record.history]


def moved(provider: FakeProvider, operation: str) -> list[tuple[str, str, str]]:
    return [move for move in provider.moves if move[0] == operation]


def charge(module: ModuleType, *, key: str = "checkout-1", body: dict[str, Any] | None = None) -> str:
    answer = send(module, "/charge", body or CHARGE_BODY, key=key)
    assert answer.status == 200, answer.body
    return str(answer.body["createdCharge"]["id"])


def seed(
    ledger: Ledger, payment_id: str, status: PaymentStatus, *, captured: int = 0, refunded: int = 0
) -> PaymentRecord:
    """A 12500 EUR payment the ledger already records in ``status``."""
    return ledger.create(
        NewPayment(
            payment_id=payment_id,
            status=status,
            provider="fake",
            currency="eur",
            authorized_amount=12500,
            captured_amount=captured,
            refunded_amount=refunded,
            created_at=SEEDED_AT,
            entry_id="authorize:seeded",
            source=EntrySource.API,
            request_id="req-seeded",
            idempotency_key="charge:seeded",
        )
    )


def seed_in(ledger: Ledger, payment_id: str, status: PaymentStatus) -> PaymentRecord:
    """A payment recorded in ``status`` with totals that fit it."""
    taken = status not in {*HOLD_STATUSES, S.RELEASED, S.EXPIRED}
    refunded = {S.PARTIALLY_REFUNDED: 3000, S.REFUNDED: 12500}.get(status, 0)
    return seed(ledger, payment_id, status, captured=12500 if taken else 0, refunded=refunded)


@pytest.fixture
def flaky_ledger(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger, monkeypatch: pytest.MonkeyPatch
) -> FlakyLedger:
    """The handler's service over ``fake_provider`` and a ledger the test can make fail."""
    flaky = FlakyLedger(ledger)
    service = PaymentService(fake_provider, flaky)
    monkeypatch.setattr(api_module, "payment_service", lambda: service)
    return flaky


def forget_idempotency_records() -> None:
    """What happens when the idempotency store's record of a request expired (7 days) or was lost."""
    dynamodb = boto3.client("dynamodb")
    for item in dynamodb.scan(TableName=IDEMPOTENCY_TABLE, ProjectionExpression="id")["Items"]:
        dynamodb.delete_item(TableName=IDEMPOTENCY_TABLE, Key={"id": item["id"]})


# --- /charge ------------------------------------------------------------------------------------------------------


def test_a_charge_records_an_authorized_hold(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger
) -> None:
    before = datetime.now(tz=UTC)
    # When the front-end pre-authorises a fare
    answer = send(api_module, "/charge", CHARGE_BODY, key="checkout-1")
    # Then the hold is answered and recorded as the provider made it, with the request that made it
    assert answer.status == 200, answer.body
    payment_id = answer.body["createdCharge"]["id"]
    record = stored(ledger, payment_id)
    assert (record.status, record.provider, record.currency) == (S.AUTHORIZED, "fake", "eur")
    assert (record.authorized_amount, record.captured_amount, record.refunded_amount) == (12500, 0, 0)
    assert record.booking is None
    assert before <= record.created_at <= datetime.now(tz=UTC)
    assert record.history == (
        HistoryEntry(
            entry_id="authorize:charge:checkout-1",
            status=S.AUTHORIZED,
            previous_status=None,
            at=record.history[0].at,
            amount=12500,
            authorized_amount=12500,
            captured_amount=0,
            refunded_amount=0,
            source=EntrySource.API,
            request_id=answer.request_id,
            idempotency_key="charge:checkout-1",
        ),
    )
    # And it is a hold the sweeper can find
    assert [hold.payment_id for hold in ledger.holds_created_before(datetime.now(tz=UTC), page_size=10)] == [payment_id]


def test_a_charge_waiting_for_3d_secure_records_requires_action(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger
) -> None:
    # Given a card that needs 3-D Secure
    fake_provider.requires_action = True
    # When it is pre-authorised
    answer = send(api_module, "/charge", {**CHARGE_BODY, "stripeToken": "pm_card_3ds"}, key="checkout-3ds")
    # Then the front-end gets what it needs to authenticate, and the ledger records a hold waiting for it
    assert answer.status == 200, answer.body
    created = answer.body["createdCharge"]
    assert created["requires_action"] is True
    assert created["client_secret"] == f"{created['id']}_secret_fake"
    record = stored(ledger, created["id"])
    assert record.status is S.REQUIRES_ACTION
    assert record.authorized_amount == 12500
    assert statuses(record) == [(None, S.REQUIRES_ACTION, EntrySource.API)]
    assert record.history[0].idempotency_key == "charge:checkout-3ds"
    # And the hold is in the sweeper's index like any other
    assert [hold.payment_id for hold in ledger.holds_created_before(datetime.now(tz=UTC), page_size=10)] == [
        created["id"]
    ]


def test_a_replayed_charge_records_nothing_twice(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger
) -> None:
    first = send(api_module, "/charge", CHARGE_BODY, key="checkout-1")
    replay = send(api_module, "/charge", CHARGE_BODY, key="checkout-1")
    assert first.status == replay.status == 200
    assert first.body == replay.body
    assert len(fake_provider.calls) == 1
    assert len(stored(ledger, first.body["createdCharge"]["id"]).history) == 1


# --- capture and refund move the record -----------------------------------------------------------------------------


def test_capture_and_refunds_move_the_record_through_the_transition_table(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger
) -> None:
    # Given a 12500 EUR hold
    payment_id = charge(api_module)
    # When it is captured, refunded twice in part, then refunded in full
    captured = send(api_module, "/capture", {"chargeId": payment_id}, key="collect-1")
    first_part = send(api_module, "/refund", {"chargeId": payment_id, "amount": 3000}, key="refund-1")
    second_part = send(api_module, "/refund", {"chargeId": payment_id, "amount": 2000}, key="refund-2")
    rest = send(api_module, "/refund", {"chargeId": payment_id}, key="refund-3")
    assert [a.status for a in (captured, first_part, second_part, rest)] == [200, 200, 200, 200]
    # Then each request added one entry, every move one the transition table allows
    record = stored(ledger, payment_id)
    assert statuses(record) == [
        (None, S.AUTHORIZED, EntrySource.API),
        (S.AUTHORIZED, S.CAPTURED, EntrySource.API),
        (S.CAPTURED, S.PARTIALLY_REFUNDED, EntrySource.API),
        (S.PARTIALLY_REFUNDED, S.PARTIALLY_REFUNDED, EntrySource.API),
        (S.PARTIALLY_REFUNDED, S.REFUNDED, EntrySource.API),
    ]
    for entry in record.history[1:]:
        assert entry.previous_status is not None
        assert entry.status in ALLOWED_TRANSITIONS[entry.previous_status]
    # And each entry holds what it moved and the totals after it, with the request and key that made it
    assert [(e.amount, e.captured_amount, e.refunded_amount) for e in record.history] == [
        (12500, 0, 0),
        (12500, 12500, 0),
        (3000, 12500, 3000),
        (2000, 12500, 5000),
        (7500, 12500, 12500),
    ]
    assert [e.request_id for e in record.history[1:]] == [
        captured.request_id,
        first_part.request_id,
        second_part.request_id,
        rest.request_id,
    ]
    assert [e.idempotency_key for e in record.history[1:]] == [
        "capture:collect-1",
        "refund:refund-1",
        "refund:refund-2",
        "refund:refund-3",
    ]
    assert (record.status, record.captured_amount, record.refunded_amount) == (S.REFUNDED, 12500, 12500)
    # And the provider moved exactly that money, the last refund for the amount that was left
    assert fake_provider.calls[1:] == [
        ("capture", PaymentRequest(payment_id=payment_id, amount=None), "capture:collect-1"),
        ("refund", PaymentRequest(payment_id=payment_id, amount=3000), "refund:refund-1:refund:3000"),
        ("refund", PaymentRequest(payment_id=payment_id, amount=2000), "refund:refund-2:refund:2000"),
        ("refund", PaymentRequest(payment_id=payment_id, amount=7500), "refund:refund-3:refund:7500"),
    ]
    assert fake_provider.reads == []
    # And the hold left the sweeper's index when it was captured
    assert list(ledger.holds_created_before(datetime.now(tz=UTC), page_size=10)) == []


@pytest.mark.parametrize(
    ("path", "body", "operation"),
    [
        pytest.param("/capture", {"chargeId": "{id}"}, "capture", id="capture"),
        pytest.param("/refund", {"chargeId": "{id}"}, "release", id="release"),
    ],
)
def test_a_replay_with_the_same_key_adds_no_entry_and_calls_the_provider_once(
    *,
    api_module: ModuleType,
    fake_provider: FakeProvider,
    ledger: DynamoDBLedger,
    path: str,
    body: dict[str, str],
    operation: str,
) -> None:
    payment_id = charge(api_module)
    request = {name: value.format(id=payment_id) for name, value in body.items()}
    # When the workflow sends the same request three times
    answers = [send(api_module, path, request, key="step-1") for _ in range(3)]
    # Then every answer is the first, the provider was called once, and the ledger has one entry for it
    assert [answer.status for answer in answers] == [200, 200, 200]
    assert answers[0].body == answers[1].body == answers[2].body
    assert [called for called, _, _ in fake_provider.calls] == ["authorize", operation]
    assert len(stored(ledger, payment_id).history) == 2


@pytest.mark.parametrize(
    ("path", "body", "operation", "provider_key", "status"),
    [
        pytest.param("/capture", {}, "capture", "capture:step-1", S.CAPTURED, id="capture"),
        pytest.param("/refund", {}, "release", "refund:step-1:release", S.RELEASED, id="release"),
        pytest.param(
            "/refund", {"amount": 4000}, "refund", "refund:step-1:refund:4000", S.PARTIALLY_REFUNDED,
            id="partial-refund",
        ),
    ],
)  # fmt: skip
def test_a_retry_after_the_idempotency_record_expired_moves_no_money_and_adds_no_entry(
    *,
    api_module: ModuleType,
    fake_provider: FakeProvider,
    ledger: DynamoDBLedger,
    path: str,
    body: dict[str, int],
    operation: str,
    provider_key: str,
    status: PaymentStatus,
) -> None:
    # Given a request done once (a refund of a captured payment, a release or a capture of a hold)
    payment_id = charge(api_module)
    if operation == "refund":
        assert send(api_module, "/capture", {"chargeId": payment_id}, key="collect-1").status == 200
    first = send(api_module, path, {"chargeId": payment_id, **body}, key="step-1")
    assert first.status == 200, first.body
    recorded = stored(ledger, payment_id)
    # When it comes again with its key after the idempotency store forgot it (expired, lost)
    forget_idempotency_records()
    again = send(api_module, path, {"chargeId": payment_id, **body}, key="step-1")
    # Then the ledger's entry says it was done: the same provider call under the same key, which the provider
    # replays, and the record is not touched
    assert again.status == 200, again.body
    assert again.body == first.body
    calls = [(called, key) for called, _, key in fake_provider.calls if called == operation]
    assert calls == [(operation, provider_key), (operation, provider_key)]
    assert moved(fake_provider, operation) == [(operation, payment_id, provider_key)]
    assert stored(ledger, payment_id) == recorded
    assert recorded.status is status


def test_the_booking_a_capture_is_for_is_recorded(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger
) -> None:
    payment_id = charge(api_module)
    # When Collect captures for a booking
    captured = send(api_module, "/capture", {"chargeId": payment_id, "currency": "EUR", **BOOKING_FIELDS})
    assert captured.status == 200, captured.body
    # Then the record knows the booking, customer and workflow execution it belongs to
    assert stored(ledger, payment_id).booking == BOOKING
    # And a later request that names none keeps it
    assert send(api_module, "/refund", {"chargeId": payment_id, "amount": 100}).status == 200
    assert stored(ledger, payment_id).booking == BOOKING
    # And a refund for the booking records it too (here: the same one)
    assert send(api_module, "/refund", {"chargeId": payment_id, **BOOKING_FIELDS}).status == 200
    record = stored(ledger, payment_id)
    assert (record.status, record.booking) == (S.REFUNDED, BOOKING)


@pytest.mark.parametrize("path", ["/capture", "/refund"])
def test_a_request_for_another_booking_is_409_booking_mismatch(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger, path: str
) -> None:
    # Given a payment captured for booking bk_4711
    payment_id = charge(api_module)
    assert send(api_module, "/capture", {"chargeId": payment_id, **BOOKING_FIELDS}).status == 200
    before = stored(ledger, payment_id)
    # When another booking's workflow captures or refunds the same charge
    answer = send(api_module, path, {"chargeId": payment_id, "bookingId": "bk_other"}, key="bk_other-step")
    # Then it is refused before anything else is decided, and neither the provider nor the record is touched
    assert (answer.status, answer.body["code"]) == (409, "booking_mismatch"), answer.body
    assert [called for called, _, _ in fake_provider.calls] == ["authorize", "capture"]
    assert stored(ledger, payment_id) == before


def test_the_booking_a_release_is_for_is_recorded(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger
) -> None:
    payment_id = charge(api_module)
    body = {"chargeId": payment_id, "bookingId": "bk_9", "execution": "arn:aws:states:eu-west-1:1:execution:b:9"}
    assert send(api_module, "/refund", body).status == 200
    record = stored(ledger, payment_id)
    assert record.status is S.RELEASED
    assert record.booking == BookingContext(booking_id="bk_9", execution="arn:aws:states:eu-west-1:1:execution:b:9")


# --- what the record decides -----------------------------------------------------------------------------------------

NOT_CAPTURABLE = [
    (S.CAPTURED, "already_captured"),
    (S.PARTIALLY_REFUNDED, "already_captured"),
    (S.DISPUTED, "already_captured"),
    (S.REFUNDED, "already_refunded"),
    (S.RELEASED, "already_released"),
    (S.EXPIRED, "authorization_expired"),
]
NOT_REFUNDABLE = [
    (S.REFUNDED, "already_refunded"),
    (S.RELEASED, "already_released"),
    (S.EXPIRED, "authorization_expired"),
    (S.DISPUTED, "payment_disputed"),
]


@pytest.mark.parametrize(("status", "code"), NOT_CAPTURABLE, ids=[str(status) for status, _ in NOT_CAPTURABLE])
def test_a_capture_of_a_payment_that_is_no_hold_is_409_without_a_provider_call(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger, status: PaymentStatus, code: str
) -> None:
    # Given the ledger records the payment in this status
    before = seed_in(ledger, "ch_settled", status)
    # When it is captured
    answer = send(api_module, "/capture", {"chargeId": "ch_settled"})
    # Then the record's status answers, without asking the provider anything, and the record is unchanged
    assert (answer.status, answer.body["code"]) == (409, code), answer.body
    assert fake_provider.calls == []
    assert fake_provider.reads == []
    assert stored(ledger, "ch_settled") == before


@pytest.mark.parametrize(("status", "code"), NOT_REFUNDABLE, ids=[str(status) for status, _ in NOT_REFUNDABLE])
def test_a_refund_of_a_payment_with_nothing_to_give_back_is_409_without_a_provider_call(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger, status: PaymentStatus, code: str
) -> None:
    before = seed_in(ledger, "ch_settled", status)
    answer = send(api_module, "/refund", {"chargeId": "ch_settled"})
    assert (answer.status, answer.body["code"]) == (409, code), answer.body
    assert fake_provider.calls == []
    assert fake_provider.reads == []
    assert stored(ledger, "ch_settled") == before


@pytest.mark.parametrize("path", ["/capture", "/refund"])
def test_a_request_in_another_currency_is_409_currency_mismatch(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger, path: str
) -> None:
    payment_id = charge(api_module)
    answer = send(api_module, path, {"chargeId": payment_id, "currency": "usd"})
    assert (answer.status, answer.body["code"]) == (409, "currency_mismatch"), answer.body
    assert "eur" in answer.body["message"]
    assert [called for called, _, _ in fake_provider.calls] == ["authorize"]
    assert stored(ledger, payment_id).status is S.AUTHORIZED


def test_a_capture_above_the_hold_is_409_amount_exceeds_hold(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger
) -> None:
    # Given a 12500 EUR hold, and a fare that became dearer than what was pre-authorised
    payment_id = charge(api_module)
    answer = send(api_module, "/capture", {"chargeId": payment_id, "amount": 12501, "currency": "eur"})
    # Then nothing is captured: the hold cannot cover it
    assert (answer.status, answer.body["code"]) == (409, "amount_exceeds_hold"), answer.body
    assert [called for called, _, _ in fake_provider.calls] == ["authorize"]
    assert stored(ledger, payment_id).status is S.AUTHORIZED


def test_a_capture_of_less_than_the_hold_captures_exactly_that_amount(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger
) -> None:
    payment_id = charge(api_module)
    # When 9000 of the 12500 held are captured (the provider releases the rest of the hold)
    answer = send(api_module, "/capture", {"chargeId": payment_id, "amount": 9000}, key="collect-1")
    assert answer.status == 200, answer.body
    assert answer.body["capturedCharge"]["amount_captured"] == 9000
    assert fake_provider.calls[1] == (
        "capture",
        PaymentRequest(payment_id=payment_id, amount=9000),
        "capture:collect-1",
    )
    record = stored(ledger, payment_id)
    assert (record.status, record.authorized_amount, record.captured_amount) == (S.CAPTURED, 12500, 9000)
    assert record.history[-1].amount == 9000
    # And a refund of it gives back what was taken, not what was held
    refunded = send(api_module, "/refund", {"chargeId": payment_id}, key="refund-1")
    assert refunded.status == 200, refunded.body
    assert refunded.body["createdRefund"]["amount"] == 9000
    assert fake_provider.calls[2] == (
        "refund",
        PaymentRequest(payment_id=payment_id, amount=9000),
        "refund:refund-1:refund:9000",
    )
    record = stored(ledger, payment_id)
    assert (record.status, record.captured_amount, record.refunded_amount) == (S.REFUNDED, 9000, 9000)


@pytest.mark.parametrize("body", [{}, {"amount": 12500}], ids=["no-amount", "the-authorised-amount"])
def test_a_refund_of_a_hold_releases_it_whole(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger, body: dict[str, int]
) -> None:
    payment_id = charge(api_module)
    # When the booking is cancelled before it was captured
    answer = send(api_module, "/refund", {"chargeId": payment_id, **body}, key="refund-1")
    # Then the hold is released (nothing was taken, nothing is refunded)
    assert answer.status == 200, answer.body
    assert answer.body["createdRefund"]["kind"] == "hold_released"
    assert answer.body["createdRefund"]["amount"] == 12500
    assert fake_provider.calls[1:] == [
        ("release", PaymentRequest(payment_id=payment_id, amount=None), "refund:refund-1:release")
    ]
    record = stored(ledger, payment_id)
    assert (record.status, record.reason) == (S.RELEASED, "requested")
    assert (record.captured_amount, record.refunded_amount) == (0, 0)
    assert record.history[-1].amount == 12500
    assert list(ledger.holds_created_before(datetime.now(tz=UTC), page_size=10)) == []


def test_a_partial_refund_of_a_hold_is_400_invalid_amount(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger
) -> None:
    payment_id = charge(api_module)
    answer = send(api_module, "/refund", {"chargeId": payment_id, "amount": 5000})
    assert (answer.status, answer.body["code"]) == (400, "invalid_amount"), answer.body
    assert [called for called, _, _ in fake_provider.calls] == ["authorize"]
    assert stored(ledger, payment_id).status is S.AUTHORIZED


def test_a_refund_of_a_captured_payment_refunds_what_is_left_as_an_explicit_amount(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger
) -> None:
    # Given a captured payment already refunded in part
    payment_id = charge(api_module)
    assert send(api_module, "/capture", {"chargeId": payment_id}).status == 200
    assert send(api_module, "/refund", {"chargeId": payment_id, "amount": 3000}).status == 200
    # When the rest is refunded (no amount)
    answer = send(api_module, "/refund", {"chargeId": payment_id}, key="refund-rest")
    # Then the provider is asked for exactly what is left, never "all" (which it would read from its own state)
    assert answer.status == 200, answer.body
    assert fake_provider.calls[-1] == (
        "refund",
        PaymentRequest(payment_id=payment_id, amount=9500),
        "refund:refund-rest:refund:9500",
    )
    assert answer.body["createdRefund"]["kind"] == "refund"
    record = stored(ledger, payment_id)
    assert (record.status, record.refunded_amount) == (S.REFUNDED, 12500)


def test_a_refund_of_more_than_is_left_is_400_without_a_provider_call(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger
) -> None:
    seed_in(ledger, "ch_part", S.PARTIALLY_REFUNDED)  # 12500 captured, 3000 refunded
    answer = send(api_module, "/refund", {"chargeId": "ch_part", "amount": 9501})
    assert (answer.status, answer.body["code"]) == (400, "invalid_amount"), answer.body
    assert "9500" in answer.body["message"]
    assert fake_provider.calls == []


# --- the ledger failing -----------------------------------------------------------------------------------------------


def test_a_capture_whose_ledger_write_fails_is_503_and_its_retry_records_the_one_capture(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger, flaky_ledger: FlakyLedger
) -> None:
    # Given a hold, and a ledger whose next write fails
    payment_id = charge(api_module)
    flaky_ledger.failing_applies = 1
    # When Collect captures it: the provider captures, the ledger cannot record it
    first = send(api_module, "/capture", {"chargeId": payment_id}, key="collect-1")
    # Then the client is told to retry, and the record still says authorized
    assert (first.status, first.body["code"]) == (503, "ledger_unavailable"), first.body
    assert stored(ledger, payment_id).status is S.AUTHORIZED
    # When it retries with the same key
    retry = send(api_module, "/capture", {"chargeId": payment_id}, key="collect-1")
    # Then it succeeds: the provider call is repeated under the same key, which captures nothing again
    assert retry.status == 200, retry.body
    assert retry.body["capturedCharge"]["amount_captured"] == 12500
    assert [key for called, _, key in fake_provider.calls if called == "capture"] == [
        "capture:collect-1",
        "capture:collect-1",
    ]
    assert moved(fake_provider, "capture") == [("capture", payment_id, "capture:collect-1")]
    # And the ledger shows exactly one capture, recorded by the retry
    record = stored(ledger, payment_id)
    captures = [entry for entry in record.history if entry.status is S.CAPTURED]
    assert len(captures) == 1
    assert captures[0].request_id == retry.request_id
    assert (record.status, record.captured_amount) == (S.CAPTURED, 12500)


@pytest.mark.parametrize(
    ("captured", "operation", "provider_key", "status"),
    [
        pytest.param(True, "refund", "refund:refund-1:refund:12500", S.REFUNDED, id="refund"),
        pytest.param(False, "release", "refund:refund-1:release", S.RELEASED, id="release"),
    ],
)
def test_a_refund_whose_ledger_write_fails_is_503_and_its_retry_records_the_one_refund(
    *,
    api_module: ModuleType,
    fake_provider: FakeProvider,
    ledger: DynamoDBLedger,
    flaky_ledger: FlakyLedger,
    captured: bool,
    operation: str,
    provider_key: str,
    status: PaymentStatus,
) -> None:
    # Given a captured payment (or a hold), and a ledger whose next write fails
    payment_id = charge(api_module)
    if captured:
        assert send(api_module, "/capture", {"chargeId": payment_id}).status == 200
    flaky_ledger.failing_applies = 1
    # When Refund gives the money back: the provider does, the ledger cannot record it
    first = send(api_module, "/refund", {"chargeId": payment_id}, key="refund-1")
    assert (first.status, first.body["code"]) == (503, "ledger_unavailable"), first.body
    # When it retries with the same key
    retry = send(api_module, "/refund", {"chargeId": payment_id}, key="refund-1")
    # Then the same provider call is repeated under the same key, and moved the money once
    assert retry.status == 200, retry.body
    assert [key for called, _, key in fake_provider.calls if called == operation] == [provider_key, provider_key]
    assert moved(fake_provider, operation) == [(operation, payment_id, provider_key)]
    # And the ledger shows it once: one entry, the refunded total not doubled
    record = stored(ledger, payment_id)
    assert [entry.status for entry in record.history].count(status) == 1
    assert record.status is status
    assert record.refunded_amount == (12500 if captured else 0)
    assert record.history[-1].request_id == retry.request_id


def test_a_hold_the_ledger_cannot_record_is_released_at_once_and_the_charge_is_503(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger, flaky_ledger: FlakyLedger
) -> None:
    # Given a ledger that cannot record the next payment
    flaky_ledger.failing_creates = 1
    # When the front-end pre-authorises a fare
    answer = send(api_module, "/charge", CHARGE_BODY, key="checkout-1")
    # Then the client is told to retry, and no hold is left that nothing knows of: it was released at once
    assert (answer.status, answer.body["code"]) == (503, "ledger_unavailable"), answer.body
    [(_, payment_id, _)] = moved(fake_provider, "authorize")
    assert fake_provider.moves == [
        ("authorize", payment_id, "charge:checkout-1"),
        ("release", payment_id, "charge:checkout-1:unrecorded"),
    ]
    assert fake_provider.payments[payment_id].refunded
    assert ledger.get(payment_id) is None


def test_a_charge_retried_with_the_same_key_after_its_hold_was_released_is_409_and_recorded(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger, flaky_ledger: FlakyLedger
) -> None:
    # Given a charge the ledger could not record, whose hold was therefore released (503)
    flaky_ledger.failing_creates = 1
    assert send(api_module, "/charge", CHARGE_BODY, key="checkout-1").status == 503
    [(_, payment_id, _)] = moved(fake_provider, "authorize")
    # When the client retries with the same key: the provider replays its first answer (a hold)
    retry = send(api_module, "/charge", CHARGE_BODY, key="checkout-1")
    # Then the service looks at the payment as it is now, answers that it is no longer held, and records it so
    assert (retry.status, retry.body["code"]) == (409, "already_released"), retry.body
    assert "new Idempotency-Key" in retry.body["message"]
    assert fake_provider.reads == [payment_id]
    assert len(moved(fake_provider, "authorize")) == 1  # no second hold
    record = stored(ledger, payment_id)
    assert (record.status, record.history[-1].source) == (S.RELEASED, EntrySource.PROVIDER)


def test_a_charge_replayed_while_still_held_is_recorded_and_answered_as_the_hold(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger
) -> None:
    # Given a charge whose stored answer is gone (the idempotency store's record expired or was lost)
    first = send(api_module, "/charge", CHARGE_BODY, key="checkout-2")
    [(_, payment_id, _)] = moved(fake_provider, "authorize")
    assert first.status == 200
    dynamodb = boto3.client("dynamodb")
    for item in dynamodb.scan(TableName=IDEMPOTENCY_TABLE, ProjectionExpression="id")["Items"]:
        dynamodb.delete_item(TableName=IDEMPOTENCY_TABLE, Key={"id": item["id"]})
    # When the client retries with the same key: the provider replays its first answer
    retry = send(api_module, "/charge", CHARGE_BODY, key="checkout-2")
    # Then the hold is read once (it is still held), kept as recorded, and answered
    assert retry.status == 200, retry.body
    assert retry.body["createdCharge"]["id"] == payment_id
    assert fake_provider.reads == [payment_id]
    assert stored(ledger, payment_id).status is S.AUTHORIZED


def test_a_charge_is_503_even_when_its_unrecorded_hold_cannot_be_released(
    api_module: ModuleType,
    fake_provider: FakeProvider,
    ledger: DynamoDBLedger,
    flaky_ledger: FlakyLedger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a ledger that cannot record the payment, and a provider that then fails to release it
    flaky_ledger.failing_creates = 1

    def failing_release(payment_id: str, *, idempotency_key: str) -> None:
        fake_provider.calls.append(("release", PaymentRequest(payment_id=payment_id, amount=None), idempotency_key))
        raise ProviderUnavailable("the payment provider failed")

    monkeypatch.setattr(fake_provider, "release", failing_release)
    answer = send(api_module, "/charge", CHARGE_BODY, key="checkout-1")
    # Then the client still learns the ledger is the problem (retryable), not the provider's failure
    assert (answer.status, answer.body["code"]) == (503, "ledger_unavailable"), answer.body
    assert [(called, key) for called, _, key in fake_provider.calls] == [
        ("authorize", "charge:checkout-1"),
        ("release", "charge:checkout-1:unrecorded"),
    ]


def test_an_unreadable_ledger_is_503_and_moves_no_money(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    payment_id = charge(api_module)

    def unreadable(_payment_id: str) -> None:
        raise LedgerUnavailable("injected")

    monkeypatch.setattr(ledger, "get", unreadable)
    for path in ("/capture", "/refund"):
        answer = send(api_module, path, {"chargeId": payment_id})
        assert (answer.status, answer.body["code"]) == (503, "ledger_unavailable"), answer.body
    answer = send(api_module, f"/payments/{payment_id}", method="GET")
    assert (answer.status, answer.body["code"]) == (503, "ledger_unavailable"), answer.body
    assert [called for called, _, _ in fake_provider.calls] == ["authorize"]
    assert fake_provider.reads == []


# --- a stale record ------------------------------------------------------------------------------------------------


def captured_elsewhere(provider: FakeProvider, payment_id: str) -> None:
    """The payment captured in the provider's Dashboard: the ledger still says authorized."""
    provider.payments[payment_id] = replace(
        provider.payments[payment_id], captured=True, amount_captured=provider.payments[payment_id].amount
    )


def test_a_capture_of_a_hold_captured_elsewhere_corrects_the_record_and_is_409(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger
) -> None:
    # Given a hold the ledger records as authorized, captured meanwhile in the Dashboard
    payment_id = charge(api_module)
    captured_elsewhere(fake_provider, payment_id)
    # When Collect captures it
    answer = send(api_module, "/capture", {"chargeId": payment_id}, key="collect-1")
    # Then the provider refuses, is read once, and the record is corrected to what it says
    assert (answer.status, answer.body["code"]) == (409, "already_captured"), answer.body
    assert [called for called, _, _ in fake_provider.calls] == ["authorize", "capture"]
    assert fake_provider.reads == [payment_id]
    record = stored(ledger, payment_id)
    assert (record.status, record.captured_amount) == (S.CAPTURED, 12500)
    correction = record.history[-1]
    assert (correction.previous_status, correction.status) == (S.AUTHORIZED, S.CAPTURED)
    assert (correction.source, correction.reason, correction.amount) == (EntrySource.PROVIDER, "provider_state", 12500)
    assert correction.request_id == answer.request_id
    assert correction.idempotency_key is None
    # And no money moved but the Dashboard's
    assert moved(fake_provider, "capture") == []


def test_a_refund_of_a_stale_hold_that_was_captured_refunds_the_money_taken(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger
) -> None:
    # Given a payment the ledger records as authorized, whose money the provider has taken
    payment_id = charge(api_module)
    captured_elsewhere(fake_provider, payment_id)
    # When the saga's Refund gives the money back
    answer = send(api_module, "/refund", {"chargeId": payment_id}, key="refund-1")
    # Then the release the record asked for is refused, the record corrected, and the money refunded: a second
    # provider call with a key of its own (never the refused call's key)
    assert answer.status == 200, answer.body
    assert answer.body["createdRefund"]["kind"] == "refund"
    assert answer.body["createdRefund"]["amount"] == 12500
    assert fake_provider.calls[1:] == [
        ("release", PaymentRequest(payment_id=payment_id, amount=None), "refund:refund-1:release"),
        ("refund", PaymentRequest(payment_id=payment_id, amount=12500), "refund:refund-1:refund:12500"),
    ]
    assert fake_provider.reads == [payment_id]
    assert moved(fake_provider, "refund") == [("refund", payment_id, "refund:refund-1:refund:12500")]
    # And the ledger tells the story: authorized, captured (from the provider), refunded (by this request)
    record = stored(ledger, payment_id)
    assert statuses(record) == [
        (None, S.AUTHORIZED, EntrySource.API),
        (S.AUTHORIZED, S.CAPTURED, EntrySource.PROVIDER),
        (S.CAPTURED, S.REFUNDED, EntrySource.API),
    ]
    assert (record.captured_amount, record.refunded_amount) == (12500, 12500)


def test_a_refund_of_a_stale_hold_released_elsewhere_is_409_already_released(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger
) -> None:
    # Given a hold the ledger records as authorized, released meanwhile in the Dashboard
    payment_id = charge(api_module)
    fake_provider.payments[payment_id] = replace(
        fake_provider.payments[payment_id], refunded=True, amount_refunded=12500
    )
    # When Refund releases it
    answer = send(api_module, "/refund", {"chargeId": payment_id}, key="refund-1")
    # Then nothing is owed: the record is corrected to released and the answer says so
    assert (answer.status, answer.body["code"]) == (409, "already_released"), answer.body
    assert [called for called, _, _ in fake_provider.calls] == ["authorize", "release"]
    assert fake_provider.reads == [payment_id]
    record = stored(ledger, payment_id)
    assert statuses(record)[-1] == (S.AUTHORIZED, S.RELEASED, EntrySource.PROVIDER)


# --- back-fill ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("captured", "path", "status"),
    [
        pytest.param(False, "/capture", S.CAPTURED, id="hold-then-captured"),
        pytest.param(True, "/refund", S.REFUNDED, id="captured-then-refunded"),
    ],
)
def test_a_payment_made_before_the_ledger_is_read_once_recorded_and_then_moved(
    *,
    api_module: ModuleType,
    fake_provider: FakeProvider,
    ledger: DynamoDBLedger,
    captured: bool,
    path: str,
    status: PaymentStatus,
) -> None:
    # Given a payment the provider made before the ledger existed
    made = datetime(2026, 11, 30, 8, 15, tzinfo=UTC)
    fake_provider.payments["ch_legacy"] = replace(
        sample_payment(9900, "usd", captured=captured, payment_id="ch_legacy"), created=int(made.timestamp())
    )
    # When the workflow captures (or refunds) it
    answer = send(api_module, path, {"chargeId": "ch_legacy"}, key="step-1")
    # Then it was read from the provider once, recorded as the provider reports it, then moved
    assert answer.status == 200, answer.body
    assert fake_provider.reads == ["ch_legacy"]
    record = stored(ledger, "ch_legacy")
    assert (record.provider, record.currency, record.authorized_amount) == ("fake", "usd", 9900)
    assert record.created_at == made  # so the sweeper ages it from when the hold was made
    back_fill = record.history[0]
    assert back_fill.status is (S.CAPTURED if captured else S.AUTHORIZED)
    assert (back_fill.source, back_fill.entry_id, back_fill.idempotency_key) == (
        EntrySource.PROVIDER,
        "provider:backfill",
        None,
    )
    assert back_fill.request_id == answer.request_id
    assert statuses(record)[1:] == [(back_fill.status, status, EntrySource.API)]
    # And later requests read the record, not the provider (a refund of the refunded payment is refused from it)
    assert send(api_module, "/payments/ch_legacy", method="GET").status == 200
    later = send(api_module, "/refund", {"chargeId": "ch_legacy"})
    assert (later.status, later.body.get("code")) == ((409, "already_refunded") if captured else (200, None))
    assert fake_provider.reads == ["ch_legacy"]


def test_a_failed_payment_the_ledger_never_knew_is_409_payment_failed_and_not_recorded(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger
) -> None:
    fake_provider.payments["ch_failed"] = replace(
        sample_payment(12500, "eur", captured=False, payment_id="ch_failed"), status="failed"
    )
    answer = send(api_module, "/capture", {"chargeId": "ch_failed"})
    assert (answer.status, answer.body["code"]) == (409, "payment_failed"), answer.body
    assert fake_provider.calls == []
    assert ledger.get("ch_failed") is None


# --- GET /payments/{id} ---------------------------------------------------------------------------------------------


def test_a_payment_is_read_from_the_ledger_with_its_history_and_no_card_data(
    api_module: ModuleType, fake_provider: FakeProvider, ledger: DynamoDBLedger
) -> None:
    # Given a 3-D Secure hold (its client secret went to the front-end), captured for a booking, refunded in part
    fake_provider.requires_action = True
    created = send(api_module, "/charge", {**CHARGE_BODY, "stripeToken": "pm_card_3ds"}, key="checkout-1")
    payment_id = created.body["createdCharge"]["id"]
    captured = send(api_module, "/capture", {"chargeId": payment_id, **BOOKING_FIELDS}, key="collect-1")
    refunded = send(api_module, "/refund", {"chargeId": payment_id, "amount": 2500}, key="refund-1")
    assert [created.status, captured.status, refunded.status] == [200, 200, 200]
    calls_before = list(fake_provider.calls)
    # When an operator reads it
    answer = send(api_module, f"/payments/{payment_id}", method="GET")
    # Then the ledger's record and history are answered, and the provider is not asked
    assert answer.status == 200, answer.body
    assert fake_provider.calls == calls_before
    assert fake_provider.reads == []
    view = answer.body["payment"]
    assert set(answer.body) == {"payment"}
    assert {name: view[name] for name in view if name not in {"createdAt", "updatedAt", "history"}} == {
        "id": payment_id,
        "status": "partially_refunded",
        "provider": "fake",
        "currency": "eur",
        "authorizedAmount": 12500,
        "capturedAmount": 12500,
        "refundedAmount": 2500,
        "reason": None,
        "booking": BOOKING_FIELDS,
        "dispute": None,
        "fraudWarning": None,
    }
    record = stored(ledger, payment_id)
    assert TIMESTAMP.match(view["createdAt"])
    assert TIMESTAMP.match(view["updatedAt"])
    assert abs(datetime.fromisoformat(view["createdAt"]) - record.created_at) < timedelta(milliseconds=1)
    assert [{name: entry[name] for name in entry if name != "at"} for entry in view["history"]] == [
        {
            "status": "requires_action",
            "previousStatus": None,
            "amount": 12500,
            "authorizedAmount": 12500,
            "capturedAmount": 0,
            "refundedAmount": 0,
            "source": "api",
            "reason": None,
            "requestId": created.request_id,
            "idempotencyKey": "charge:checkout-1",
            "occurredAt": None,
            "dispute": None,
            "fraudWarning": None,
        },
        {
            "status": "captured",
            "previousStatus": "requires_action",
            "amount": 12500,
            "authorizedAmount": 12500,
            "capturedAmount": 12500,
            "refundedAmount": 0,
            "source": "api",
            "reason": None,
            "requestId": captured.request_id,
            "idempotencyKey": "capture:collect-1",
            "occurredAt": None,
            "dispute": None,
            "fraudWarning": None,
        },
        {
            "status": "partially_refunded",
            "previousStatus": "captured",
            "amount": 2500,
            "authorizedAmount": 12500,
            "capturedAmount": 12500,
            "refundedAmount": 2500,
            "source": "api",
            "reason": None,
            "requestId": refunded.request_id,
            "idempotencyKey": "refund:refund-1",
            "occurredAt": None,
            "dispute": None,
            "fraudWarning": None,
        },
    ]
    assert all(TIMESTAMP.match(entry["at"]) for entry in view["history"])
    # And nothing of the card or of the front-end's secret is in it
    text = json.dumps(answer.body)
    assert created.body["createdCharge"]["client_secret"] not in text
    for card_data in ("client_secret", "secret", "stripeToken", "pm_card", "tok_", "card", "email", "jane@"):
        assert card_data not in text


def test_an_unknown_payment_is_404_and_not_looked_up_at_the_provider(
    api_module: ModuleType, fake_provider: FakeProvider
) -> None:
    answer = send(api_module, "/payments/ch_unknown", method="GET")
    assert (answer.status, answer.body["code"]) == (404, "payment_not_found"), answer.body
    assert fake_provider.calls == []
    assert fake_provider.reads == []


@pytest.mark.parametrize(
    "path",
    ["/payments/xx_1", "/payments/ch_%20", "/payments/ch_", "/payments/re_1", "/payments/ch_1;drop", "/payments/CH_1"],
)
def test_a_malformed_payment_id_is_400_invalid_payment_id(
    api_module: ModuleType, fake_provider: FakeProvider, path: str
) -> None:
    answer = send(api_module, path, method="GET")
    assert (answer.status, answer.body["code"]) == (400, "invalid_payment_id"), answer.body
    assert fake_provider.reads == []


def test_reading_a_payment_is_get_only(api_module: ModuleType, fake_provider: FakeProvider) -> None:
    answer = send(api_module, "/payments/ch_1", {"chargeId": "ch_1"}, method="POST")
    assert (answer.status, answer.body["code"]) == (404, "not_found"), answer.body
