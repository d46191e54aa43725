"""``POST /webhooks/stripe`` through the real handler: the signature corpus, and each event type into the ledger.

The ledger and the webhook secret are on moto; the provider is the stateful ``FakeProvider``. Every refusal is
checked for its answer and for leaving the ledger exactly as it was; every accepted event for what it recorded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from types import ModuleType
from typing import Any, cast

import boto3
import pytest

from lambdas.payment_api.dynamodb_ledger import DynamoDBLedger
from lambdas.payment_api.ledger import EntrySource, PaymentRecord, PaymentStatus
from lambdas.payment_api.webhook_events import WEBHOOK_EVENT_TYPES
from lambdas.payment_api.webhook_verification import MAX_WEBHOOK_BODY_BYTES
from tests.fixtures.payment_api import FakeProvider
from tests.support import stripe_events as se
from tests.support.api_events import FakeLambdaContext, proxy_event

S = PaymentStatus
SECRET_PARAMETER = "/test/service/payment/stripe/webhookSecret"  # tests/conftest.py's STRIPE_WEBHOOK_SECRET_PARAMETER
CHARGE_BODY = {"amount": 12500, "currency": "eur", "stripeToken": "tok_visa"}


@pytest.fixture
def webhook_secret(aws: None) -> Iterator[str]:
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=SECRET_PARAMETER, Value=se.WEBHOOK_SECRET, Type="SecureString", Overwrite=True)
    yield se.WEBHOOK_SECRET
    ssm.delete_parameter(Name=SECRET_PARAMETER)


@pytest.fixture
def ledger(api_module: ModuleType) -> DynamoDBLedger:
    return cast("DynamoDBLedger", api_module.payment_ledger)


def call(
    module: ModuleType,
    path: str,
    body: object = None,
    *,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    response = module.handler(proxy_event(path, body, raw_body=raw_body, headers=headers), FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def deliver(module: ModuleType, stripe_event: dict[str, Any], *, secret: str = se.WEBHOOK_SECRET) -> tuple[int, Any]:
    body = se.payload(stripe_event)
    return call(module, "/webhooks/stripe", raw_body=body, headers=se.signed_headers(body, secret=secret))


def captured_payment(module: ModuleType) -> str:
    status, body = call(module, "/charge", CHARGE_BODY)
    assert status == 200, body
    payment_id = str(body["createdCharge"]["id"])
    status, body = call(module, "/capture", {"chargeId": payment_id})
    assert status == 200, body
    return payment_id


def held_payment(module: ModuleType) -> str:
    status, body = call(module, "/charge", CHARGE_BODY)
    assert status == 200, body
    return str(body["createdCharge"]["id"])


def stored(ledger: DynamoDBLedger, payment_id: str) -> PaymentRecord:
    record = ledger.get(payment_id)
    assert record is not None
    return record


# --- the signature corpus: each refused with a 400 that reveals nothing, and no ledger change ----------------------


def _corpus(body: str) -> dict[str, tuple[str, dict[str, str]]]:
    now = int(time.time())
    good = se.signature(body)
    return {
        "wrong secret": (body, se.signed_headers(body, secret=se.OTHER_SECRET)),
        "tampered body": (body.replace("12500", "1"), {"Stripe-Signature": good}),
        "stale timestamp": (body, se.signed_headers(body, timestamp=now - 301)),
        "future timestamp": (body, se.signed_headers(body, timestamp=now + 301)),
        "missing header": (body, {}),
        "empty header": (body, {"Stripe-Signature": ""}),
        "garbled header": (body, {"Stripe-Signature": "garbage"}),
        "no timestamp": (body, {"Stripe-Signature": good.split(",", 1)[1]}),
        "timestamp not a number": (body, {"Stripe-Signature": "t=soon," + good.split(",", 1)[1]}),
        "no v1 signature": (body, {"Stripe-Signature": good.split(",", 1)[0] + ",v0=abc"}),
        "signature of another payload": (body, se.signed_headers(body + " ")),
    }


CORPUS_CASES = list(_corpus("{}"))


@pytest.mark.parametrize("case", CORPUS_CASES)
def test_a_delivery_that_is_not_signed_by_stripe_is_refused_and_changes_nothing(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str, ledger: DynamoDBLedger, case: str
) -> None:
    payment_id = captured_payment(api_module)
    before = stored(ledger, payment_id)
    body, headers = _corpus(se.payload(se.event("charge.dispute.created", se.dispute(payment_id))))[case]
    status, answer = call(api_module, "/webhooks/stripe", raw_body=body, headers=headers)
    assert (status, answer) == (400, {"message": "the webhook signature is not valid", "code": "invalid_signature"})
    assert stored(ledger, payment_id) == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json at all", "the webhook body is not JSON"),
        ("[1, 2, 3]", "the webhook body is not a Stripe event"),
        ('{"object": "event", "id": "evt_1"}', "the webhook event lacks its id, type, created time or object"),
        (
            '{"object": "event", "id": "evt_1", "type": "charge.captured", "created": 1, "data": {"object": 5}}',
            "the webhook event lacks its id, type, created time or object",
        ),
    ],
)
def test_a_signed_body_that_is_not_a_stripe_event_is_refused(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str, body: str, message: str
) -> None:
    status, answer = call(api_module, "/webhooks/stripe", raw_body=body, headers=se.signed_headers(body))
    assert (status, answer) == (400, {"message": message, "code": "invalid_event"})


def test_a_huge_body_is_refused_before_its_signature_is_computed(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str, ledger: DynamoDBLedger
) -> None:
    payment_id = captured_payment(api_module)
    before = stored(ledger, payment_id)
    huge = se.event("charge.dispute.created", {**se.dispute(payment_id), "padding": "x" * MAX_WEBHOOK_BODY_BYTES})
    status, answer = deliver(api_module, huge)
    assert status == 400
    assert answer["code"] == "invalid_event"
    assert stored(ledger, payment_id) == before


def test_a_field_of_the_wrong_type_after_a_valid_signature_is_a_400_not_a_500(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str
) -> None:
    payment_id = captured_payment(api_module)
    bad = se.event("charge.dispute.created", {**se.dispute(payment_id), "amount": "a lot"})
    assert deliver(api_module, bad) == (
        400,
        {"message": "the event's amount is not a non-negative integer", "code": "invalid_event"},
    )


def test_an_unknown_event_type_is_accepted_and_ignored(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str, ledger: DynamoDBLedger
) -> None:
    payment_id = captured_payment(api_module)
    before = stored(ledger, payment_id)
    assert "customer.created" not in WEBHOOK_EVENT_TYPES
    answer = deliver(api_module, se.event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert answer == (200, {"received": True, "outcome": "not_a_payment_change"})
    assert stored(ledger, payment_id) == before


def test_an_event_of_a_payment_the_ledger_does_not_know_is_accepted_and_ignored(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str
) -> None:
    answer = deliver(api_module, se.event("charge.dispute.created", se.dispute("ch_never_seen")))
    assert answer == (200, {"received": True, "outcome": "unknown_payment"})
    assert fake_provider.reads == []  # no provider call on the hot path


def test_the_same_event_delivered_three_times_is_recorded_once(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str, ledger: DynamoDBLedger
) -> None:
    payment_id = captured_payment(api_module)
    opened = se.event("charge.dispute.created", se.dispute(payment_id))
    answers = [deliver(api_module, opened) for _ in range(3)]
    assert [outcome for _, outcome in answers] == [
        {"received": True, "outcome": "applied"},
        {"received": True, "outcome": "already_recorded"},
        {"received": True, "outcome": "already_recorded"},
    ]
    record = stored(ledger, payment_id)
    assert [entry.status for entry in record.history] == [S.AUTHORIZED, S.CAPTURED, S.DISPUTED]


def test_a_replay_inside_the_tolerance_changes_nothing(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str, ledger: DynamoDBLedger
) -> None:
    # A captured delivery sent again by someone else, same body and header, a minute later: it passes the signature
    # check (Stripe's scheme cannot tell) and the event id makes it a no-op.
    payment_id = captured_payment(api_module)
    body = se.payload(se.event("charge.dispute.created", se.dispute(payment_id)))
    headers = se.signed_headers(body, timestamp=int(time.time()) - 60)
    assert call(api_module, "/webhooks/stripe", raw_body=body, headers=headers)[0] == 200
    after_first = stored(ledger, payment_id)
    assert call(api_module, "/webhooks/stripe", raw_body=body, headers=headers) == (
        200,
        {"received": True, "outcome": "already_recorded"},
    )
    assert stored(ledger, payment_id) == after_first


def test_during_a_secret_rotation_both_secrets_are_accepted(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str, ledger: DynamoDBLedger
) -> None:
    payment_id = captured_payment(api_module)
    # Stripe signs with both live secrets while a rotation runs: two v1 signatures in one header
    body = se.payload(se.event("charge.dispute.created", se.dispute(payment_id)))
    now = int(time.time())
    both = (
        se.signature(body, timestamp=now)
        + ",v1="
        + se.signature(body, secret=se.OTHER_SECRET, timestamp=now).split("v1=")[1]
    )
    assert call(api_module, "/webhooks/stripe", raw_body=body, headers={"Stripe-Signature": both})[0] == 200
    # And with the parameter holding the new and the old secret, a delivery signed with the old one alone passes
    boto3.client("ssm").put_parameter(
        Name=SECRET_PARAMETER, Value=f"{se.OTHER_SECRET},{se.WEBHOOK_SECRET}", Type="SecureString", Overwrite=True
    )
    api_module.stripe_key_parameters.clear_cache()
    closed = se.event("charge.dispute.closed", se.dispute(payment_id, status="lost"))
    assert deliver(api_module, closed, secret=se.WEBHOOK_SECRET)[0] == 200
    assert (
        deliver(
            api_module,
            se.event("charge.dispute.updated", se.dispute(payment_id, status="under_review")),
            secret="whsec_gone",
        )[0]
        == 400
    )
    dispute = stored(ledger, payment_id).dispute
    assert dispute is not None
    assert (dispute.status, dispute.outcome) == ("lost", "lost")


def test_without_a_webhook_secret_deliveries_get_a_503_so_stripe_delivers_again(
    api_module: ModuleType, fake_provider: FakeProvider, aws: None
) -> None:
    body = se.payload(se.event("charge.dispute.created", se.dispute("ch_1")))
    status, answer = call(api_module, "/webhooks/stripe", raw_body=body, headers=se.signed_headers(body))
    assert (status, answer["code"]) == (503, "webhook_not_configured")


# --- each event type into the ledger ---------------------------------------------------------------------------------


def test_a_dispute_is_recorded_with_its_amount_reason_status_and_deadline_then_its_outcome(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str, ledger: DynamoDBLedger
) -> None:
    payment_id = captured_payment(api_module)
    assert deliver(api_module, se.event("charge.dispute.created", se.dispute(payment_id, amount=9000)))[0] == 200
    record = stored(ledger, payment_id)
    assert record.status is S.DISPUTED
    assert record.dispute is not None
    assert (record.dispute.dispute_id, record.dispute.amount, record.dispute.reason, record.dispute.status) == (
        f"dp_{payment_id}",
        9000,
        "fraudulent",
        "needs_response",
    )
    assert record.dispute.evidence_due_by is not None
    assert int(record.dispute.evidence_due_by.timestamp()) == 1_900_000_000
    assert record.history[-1].source is EntrySource.WEBHOOK
    assert record.dispute.outcome is None
    # When it is closed (won), the outcome is recorded; refunds stay refused while the record says disputed
    assert (
        deliver(api_module, se.event("charge.dispute.closed", se.dispute(payment_id, status="won", amount=9000)))[0]
        == 200
    )
    record = stored(ledger, payment_id)
    assert record.dispute is not None
    assert record.dispute.outcome == "won"
    assert [entry.status for entry in record.history][-2:] == [S.DISPUTED, S.DISPUTED]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("charge.dispute.closed", "lost"), ("charge.dispute.updated", "under_review")),
        (("charge.dispute.closed", "won"), ("charge.dispute.created", "needs_response")),
    ],
)
def test_a_late_dispute_update_never_reopens_a_closed_dispute(  # noqa: PLR0917 - fixtures and parameters
    api_module: ModuleType,
    fake_provider: FakeProvider,
    webhook_secret: str,
    ledger: DynamoDBLedger,
    first: tuple[str, str],
    second: tuple[str, str],
) -> None:
    payment_id = captured_payment(api_module)
    assert deliver(api_module, se.event(first[0], se.dispute(payment_id, status=first[1])))[0] == 200
    after_close = stored(ledger, payment_id)
    assert deliver(api_module, se.event(second[0], se.dispute(payment_id, status=second[1]))) == (
        200,
        {"received": True, "outcome": "out_of_order"},
    )
    assert stored(ledger, payment_id) == after_close


def test_a_hold_that_lapsed_becomes_expired_and_a_late_capture_event_cannot_revive_it(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str, ledger: DynamoDBLedger
) -> None:
    payment_id = held_payment(api_module)
    expired = se.event("charge.expired", {**se.charge(payment_id), "refunded": True, "amount_refunded": 12500})
    assert deliver(api_module, expired) == (200, {"received": True, "outcome": "applied"})
    assert stored(ledger, payment_id).status is S.EXPIRED
    late_capture = se.event("charge.captured", se.charge(payment_id, captured=12500))
    assert deliver(api_module, late_capture) == (200, {"received": True, "outcome": "out_of_order"})
    assert stored(ledger, payment_id).status is S.EXPIRED


def test_an_expiry_reported_after_our_own_capture_changes_nothing(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str, ledger: DynamoDBLedger
) -> None:
    payment_id = captured_payment(api_module)
    before = stored(ledger, payment_id)
    assert deliver(api_module, se.event("charge.expired", se.charge(payment_id)))[1]["outcome"] == "out_of_order"
    assert stored(ledger, payment_id) == before


def test_an_expiry_of_a_payment_captured_for_a_confirmed_booking_raises_the_uncollected_booking_alarm(
    api_module: ModuleType,
    fake_provider: FakeProvider,
    webhook_secret: str,
    ledger: DynamoDBLedger,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a payment Collect captured for a booking (so the saga confirmed it)
    payment_id = held_payment(api_module)
    assert call(api_module, "/capture", {"chargeId": payment_id, "bookingId": "bk_confirmed"})[0] == 200
    before = stored(ledger, payment_id)
    capsys.readouterr()
    # When Stripe says the hold expired after all
    assert deliver(api_module, se.event("charge.expired", se.charge(payment_id)))[1]["outcome"] == "out_of_order"
    # Then nothing is recorded (a capture never becomes an expiry), but the alarm's metric is published
    assert stored(ledger, payment_id) == before
    assert '"HoldExpiredForBooking":[1.0]' in capsys.readouterr().out


@pytest.mark.parametrize(
    ("reason", "status"), [("automatic", S.EXPIRED), ("expired", S.EXPIRED), ("requested_by_customer", S.RELEASED)]
)
def test_a_cancelled_payment_intent_is_expired_when_stripe_let_it_lapse_else_released(  # noqa: PLR0917 - fixtures
    api_module: ModuleType,
    fake_provider: FakeProvider,
    webhook_secret: str,
    ledger: DynamoDBLedger,
    reason: str,
    status: PaymentStatus,
) -> None:
    payment_id = held_payment(api_module)
    cancelled = se.event(
        "payment_intent.canceled",
        {**se.intent(payment_id, status="canceled", reason=reason), "id": payment_id, "object": "payment_intent"},
    )
    assert deliver(api_module, cancelled)[1]["outcome"] == "applied"
    record = stored(ledger, payment_id)
    assert record.status is status
    assert record.history[-1].amount == 12500


def test_a_capture_made_outside_the_service_is_recorded_once_with_its_amount(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str, ledger: DynamoDBLedger
) -> None:
    payment_id = held_payment(api_module)
    # Captured in the Dashboard: both events Stripe sends for it arrive
    assert (
        deliver(api_module, se.event("charge.captured", se.charge(payment_id, captured=9000)))[1]["outcome"]
        == "applied"
    )
    again = se.event("payment_intent.succeeded", {**se.intent("pi_other", received=9000), "id": payment_id})
    assert deliver(api_module, again)[1]["outcome"] == "already_recorded"
    record = stored(ledger, payment_id)
    assert (record.status, record.captured_amount) == (S.CAPTURED, 9000)
    assert [entry.status for entry in record.history] == [S.AUTHORIZED, S.CAPTURED]


def test_a_refund_made_outside_the_service_is_recorded_per_refund_and_never_twice(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str, ledger: DynamoDBLedger
) -> None:
    payment_id = captured_payment(api_module)
    # Our own refund of 3000 (recorded by /refund under Stripe's refund id) ...
    assert call(api_module, "/refund", {"chargeId": payment_id, "amount": 3000})[0] == 200
    # ... and one of 2000 made in the Dashboard (the provider knows both)
    fake_provider.refund(payment_id, amount=2000, idempotency_key="dashboard")
    # When Stripe reports the total of 5000 (twice: a redelivery), then a stale event of the first refund alone
    refunded = se.event("charge.refunded", se.charge(payment_id, captured=12500, refunded=5000))
    assert deliver(api_module, refunded)[1]["outcome"] == "applied"
    assert deliver(api_module, refunded)[1]["outcome"] == "already_recorded"
    stale = se.event("charge.refunded", se.charge(payment_id, captured=12500, refunded=3000))
    assert deliver(api_module, stale)[1]["outcome"] == "already_recorded"
    # Then the ledger counts each refund once: 5000 refunded in two entries
    record = stored(ledger, payment_id)
    assert (record.status, record.refunded_amount) == (S.PARTIALLY_REFUNDED, 5000)
    assert [(e.status, e.amount, e.source) for e in record.history[2:]] == [
        (S.PARTIALLY_REFUNDED, 3000, EntrySource.API),
        (S.PARTIALLY_REFUNDED, 2000, EntrySource.WEBHOOK),
    ]


def test_a_refund_the_webhook_recorded_first_is_not_counted_again_by_our_own_refund(
    api_module: ModuleType,
    fake_provider: FakeProvider,
    webhook_secret: str,
    ledger: DynamoDBLedger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Stripe's charge.refunded can arrive before /refund records its own refund: both use the refund's id
    payment_id = captured_payment(api_module)
    original_refund = fake_provider.refund

    def refund_then_webhook(payment: str, *, amount: int, idempotency_key: str) -> Any:
        answer = original_refund(payment, amount=amount, idempotency_key=idempotency_key)
        refunded = se.event("charge.refunded", se.charge(payment, captured=12500, refunded=amount))
        assert deliver(api_module, refunded)[1]["outcome"] == "applied"
        return answer

    monkeypatch.setattr(fake_provider, "refund", refund_then_webhook)
    status, body = call(api_module, "/refund", {"chargeId": payment_id, "amount": 4000})
    assert status == 200, body
    record = stored(ledger, payment_id)
    assert (record.status, record.refunded_amount) == (S.PARTIALLY_REFUNDED, 4000)
    assert len(record.history) == 3


def test_a_failed_refund_is_owed_again_and_counted_once_whichever_event_reports_it(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str, ledger: DynamoDBLedger
) -> None:
    payment_id = captured_payment(api_module)
    status, body = call(api_module, "/refund", {"chargeId": payment_id})
    assert status == 200, body
    refund_id = body["createdRefund"]["id"]
    # When the bank returns the refund (Stripe then counts it as not refunded) and Stripe reports it by three types
    fake_provider.refunded[payment_id] = [replace(r, status="failed") for r in fake_provider.refunded[payment_id]]
    fake_provider.payments[payment_id] = replace(fake_provider.payments[payment_id], amount_refunded=0, refunded=False)
    for event_type in ("refund.failed", "charge.refund.updated", "refund.updated"):
        deliver(api_module, se.event(event_type, se.refund(refund_id, payment_id, amount=12500)))
    record = stored(ledger, payment_id)
    # Then the money is owed again, once: refund_failed, nothing refunded, one entry saying why
    assert (record.status, record.refunded_amount) == (S.REFUND_FAILED, 0)
    assert [entry.status for entry in record.history].count(S.REFUND_FAILED) == 1
    assert record.reason == "refund_failed:lost_or_stolen_card"
    # And a stale charge.refunded of the failed refund does not count it back
    stale = se.event("charge.refunded", se.charge(payment_id, captured=12500, refunded=12500))
    deliver(api_module, stale)
    assert stored(ledger, payment_id).refunded_amount == 0
    # And a new /refund gives the money back
    status, body = call(api_module, "/refund", {"chargeId": payment_id}, headers={"Idempotency-Key": "second-try"})
    assert status == 200, body
    record = stored(ledger, payment_id)
    assert (record.status, record.refunded_amount) == (S.REFUNDED, 12500)


def test_a_refund_update_that_is_not_a_failure_changes_nothing(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str, ledger: DynamoDBLedger
) -> None:
    payment_id = captured_payment(api_module)
    before = stored(ledger, payment_id)
    pending = se.event("refund.updated", se.refund("re_1", payment_id, amount=100, status="pending"))
    assert deliver(api_module, pending)[1]["outcome"] == "not_a_payment_change"
    assert stored(ledger, payment_id) == before


def test_an_early_fraud_warning_is_recorded_on_the_payment_without_changing_its_status(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str, ledger: DynamoDBLedger
) -> None:
    payment_id = captured_payment(api_module)
    warning = se.event("radar.early_fraud_warning.created", se.fraud_warning(payment_id))
    assert deliver(api_module, warning)[1]["outcome"] == "applied"
    assert deliver(api_module, warning)[1]["outcome"] == "already_recorded"
    record = stored(ledger, payment_id)
    assert record.status is S.CAPTURED
    assert record.fraud_warning is not None
    assert (record.fraud_warning.fraud_type, record.fraud_warning.actionable) == ("made_with_stolen_card", True)
    assert [(e.status, e.previous_status) for e in record.history][-1] == (S.CAPTURED, S.CAPTURED)
    assert record.history[-1].fraud_warning == record.fraud_warning


def test_the_payment_view_shows_the_dispute_and_the_fraud_warning(
    api_module: ModuleType, fake_provider: FakeProvider, webhook_secret: str
) -> None:
    payment_id = captured_payment(api_module)
    deliver(api_module, se.event("radar.early_fraud_warning.created", se.fraud_warning(payment_id)))
    deliver(api_module, se.event("charge.dispute.created", se.dispute(payment_id)))
    response = api_module.handler(proxy_event(f"/payments/{payment_id}", method="GET"), FakeLambdaContext())
    view = json.loads(response["body"])["payment"]
    assert view["status"] == "disputed"
    assert view["dispute"]["id"] == f"dp_{payment_id}"
    assert view["dispute"]["evidenceDueBy"] == "2030-03-17T17:46:40.000Z"
    assert view["fraudWarning"] == {
        "id": f"issfr_{payment_id}",
        "fraudType": "made_with_stolen_card",
        "actionable": True,
    }
    assert view["history"][-1]["dispute"]["status"] == "needs_response"
