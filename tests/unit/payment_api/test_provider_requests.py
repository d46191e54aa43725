"""What the payment API sends Stripe: one request per operation, each exactly as Stripe needs it.

The real handler and ``StripeProvider`` over an offline Stripe transport (``FakeStripeHttp``), so the real SDK
encodes every request. The ledger records what ``/charge`` made, so capture, refund and release are decided from it
and never read Stripe first; only a payment the ledger does not know, or a call Stripe refuses, costs one GET.

Every test runs twice: against Stripe's own URL and with an ``api_base`` configured (what local mode sets through
``STRIPE_API_BASE``), with the same assertions: the base URL is the only thing ``api_base`` changes, so local mode
sends localstripe exactly the production requests (``local_mode/localstripe_compat.py`` bridges what it lacks).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any, cast

import pytest

from lambdas.payment_api.dynamodb_ledger import DynamoDBLedger
from lambdas.payment_api.ledger import EntrySource, PaymentRecord, PaymentStatus
from lambdas.payment_api.service import HoldOutcome
from tests.fixtures.payment_api import ApiClient
from tests.support.stripe_stub import (
    FakeStripeHttp,
    StripeCall,
    charge_object,
    intent_object,
    refund_object,
    stripe_error,
)

S = PaymentStatus
TOKEN_CHARGE = {
    "amount": 12500,
    "currency": "eur",
    "stripeToken": "tok_visa",
    "description": "Flight LIS-FRA",
    "email": "jane@example.com",
}
METHOD_CHARGE = {"amount": 5000, "currency": "usd", "stripeToken": "pm_card_visa"}
CHARGE_PATH = "/v1/charges/ch_stub1"
INTENT_PATH = "/v1/payment_intents/pi_stub1"
STRIPE_URL = "https://api.stripe.com"
LOCAL_API_BASE = "http://127.0.0.1:8420"  # local mode's STRIPE_API_BASE (localstripe)


@pytest.fixture(params=[None, LOCAL_API_BASE], ids=["stripe", "api-base"])
def stripe_api_base(request: pytest.FixtureRequest) -> str | None:
    """Overrides conftest's: ``stripe_backed_api`` is built with and without an ``api_base``, and every test here
    holds for both."""
    return cast("str | None", request.param)


@pytest.fixture
def ledger(api_module: ModuleType) -> DynamoDBLedger:
    return cast("DynamoDBLedger", api_module.payment_ledger)


def stored(ledger: DynamoDBLedger, payment_id: str) -> PaymentRecord:
    record = ledger.get(payment_id)
    assert record is not None
    return record


def requests_sent(stripe: FakeStripeHttp) -> list[tuple[str, str, str | None, dict[str, str]]]:
    return [(call.method, call.path, call.idempotency_key, call.params) for call in stripe.calls]


def only_request(stripe: FakeStripeHttp) -> StripeCall:
    assert len(stripe.calls) == 1, stripe.calls
    return stripe.calls[0]


def captured_charge(amount_captured: int = 12500) -> dict[str, Any]:
    return {**charge_object(captured=True), "amount_captured": amount_captured}


def hold_recorded(api: ApiClient, stripe: FakeStripeHttp, *, intent: bool = False) -> str:
    """A hold made through /charge (so the ledger records it); Stripe's requests so far are forgotten."""
    if intent:
        stripe.routes[("POST", "/v1/payment_intents")] = (200, intent_object(status="requires_capture"))
        status, _, created = api.post("/charge", METHOD_CHARGE, headers={"Idempotency-Key": "checkout-pi"})
    else:
        stripe.routes[("POST", "/v1/charges")] = (200, charge_object())
        status, _, created = api.post("/charge", TOKEN_CHARGE, headers={"Idempotency-Key": "checkout-ch"})
    assert status == 200, created
    stripe.calls.clear()
    return str(created["createdCharge"]["id"])


def capture_recorded(api: ApiClient, stripe: FakeStripeHttp, *, intent: bool = False) -> str:
    """A hold made and captured through the API; Stripe's requests so far are forgotten."""
    payment_id = hold_recorded(api, stripe, intent=intent)
    if intent:
        stripe.routes[("POST", f"{INTENT_PATH}/capture")] = (200, intent_object(status="succeeded"))
    else:
        stripe.routes[("POST", f"{CHARGE_PATH}/capture")] = (200, captured_charge())
    status, _, captured = api.post("/capture", {"chargeId": payment_id})
    assert status == 200, captured
    stripe.calls.clear()
    return payment_id


# --- one request per operation --------------------------------------------------------------------------------------


def test_each_operation_is_one_stripe_request(stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp) -> None:
    fake_stripe.routes = {
        ("POST", "/v1/charges"): (200, charge_object()),
        ("POST", f"{CHARGE_PATH}/capture"): (200, captured_charge()),
        ("POST", "/v1/refunds"): (200, refund_object(amount=2000)),
    }
    sent: list[int] = []
    for path, body in [
        ("/charge", TOKEN_CHARGE),
        ("/capture", {"chargeId": "ch_stub1"}),
        ("/refund", {"chargeId": "ch_stub1", "amount": 2000}),
    ]:
        before = len(fake_stripe.calls)
        status, _, answer = stripe_backed_api.post(path, body)
        assert status == 200, answer
        sent.append(len(fake_stripe.calls) - before)
    assert sent == [1, 1, 1]
    assert [call.method for call in fake_stripe.calls] == ["POST", "POST", "POST"]


def test_reading_a_payment_sends_stripe_nothing(stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp) -> None:
    payment_id = hold_recorded(stripe_backed_api, fake_stripe)
    status, _, answer = stripe_backed_api.call(f"/payments/{payment_id}", method="GET")
    assert status == 200, answer
    assert answer["payment"]["status"] == "authorized"
    assert fake_stripe.calls == []


# --- the requests, exactly ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "params"),
    [
        pytest.param(
            TOKEN_CHARGE,
            {
                "amount": "12500",
                "currency": "eur",
                "source": "tok_visa",
                "capture": "false",
                "metadata[email]": "jane@example.com",
                "description": "Flight LIS-FRA",
            },
            id="token",
        ),
        pytest.param(
            {"amount": 900, "currency": "usd", "stripeToken": "card_1Abc"},
            {"amount": "900", "currency": "usd", "source": "card_1Abc", "capture": "false"},
            id="card-bare",
        ),
    ],
)
def test_a_token_is_held_with_one_uncaptured_charge(
    stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp, body: dict[str, Any], params: dict[str, str]
) -> None:
    fake_stripe.routes = {("POST", "/v1/charges"): (200, charge_object())}
    status, _, answer = stripe_backed_api.post("/charge", body, headers={"Idempotency-Key": "checkout-7f3a"})
    assert status == 200, answer
    call = only_request(fake_stripe)
    assert (call.method, call.path, call.idempotency_key) == ("POST", "/v1/charges", "charge:checkout-7f3a")
    # A hold only (capture=false) of the token id itself (never its card, with or without an api_base); the email
    # rides in metadata, no receipt_email (the airline sends its own)
    assert call.params == params


@pytest.mark.parametrize(
    ("body", "metadata"),
    [
        pytest.param(METHOD_CHARGE, {}, id="bare"),
        pytest.param(
            {**METHOD_CHARGE, "email": "jane@example.com", "description": "Flight LIS-FRA"},
            {"metadata[email]": "jane@example.com", "metadata[description]": "Flight LIS-FRA"},
            id="email-description",
        ),
    ],
)
def test_a_payment_method_is_held_with_one_confirmed_manual_capture_intent(
    stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp, body: dict[str, Any], metadata: dict[str, str]
) -> None:
    fake_stripe.routes = {("POST", "/v1/payment_intents"): (200, intent_object(status="requires_capture"))}
    status, _, answer = stripe_backed_api.post("/charge", body, headers={"Idempotency-Key": "k-42"})
    assert status == 200, answer
    call = only_request(fake_stripe)
    assert (call.method, call.path, call.idempotency_key) == ("POST", "/v1/payment_intents", "charge:k-42")
    # Cards only, never a redirect (so no return_url): automatic_payment_methods with or without an api_base
    assert call.params == {
        "amount": "5000",
        "currency": "usd",
        "payment_method": "pm_card_visa",
        "capture_method": "manual",
        "confirm": "true",
        "automatic_payment_methods[enabled]": "true",
        "automatic_payment_methods[allow_redirects]": "never",
        **metadata,
    }


@pytest.mark.parametrize(
    ("body", "params", "key"),
    [
        pytest.param({}, {}, "capture:ch_stub1:full", id="full"),
        pytest.param({"amount": 9000}, {"amount": "9000"}, "capture:ch_stub1:9000", id="partial"),
    ],
)
def test_a_charge_is_captured_with_one_post(
    *,
    stripe_backed_api: ApiClient,
    fake_stripe: FakeStripeHttp,
    ledger: DynamoDBLedger,
    body: dict[str, int],
    params: dict[str, str],
    key: str,
) -> None:
    payment_id = hold_recorded(stripe_backed_api, fake_stripe)
    fake_stripe.routes[("POST", f"{CHARGE_PATH}/capture")] = (200, captured_charge(body.get("amount", 12500)))
    status, _, answer = stripe_backed_api.post("/capture", {"chargeId": payment_id, **body})
    assert status == 200, answer
    call = only_request(fake_stripe)
    assert (call.method, call.path, call.idempotency_key, call.params) == (
        "POST",
        f"{CHARGE_PATH}/capture",
        key,
        params,
    )
    record = stored(ledger, payment_id)
    assert (record.status, record.captured_amount) == (S.CAPTURED, body.get("amount", 12500))


@pytest.mark.parametrize(
    ("body", "params", "key"),
    [
        pytest.param({}, {"expand[0]": "latest_charge"}, "capture:pi_stub1:full", id="full"),
        pytest.param(
            {"amount": 3000},
            {"expand[0]": "latest_charge", "amount_to_capture": "3000"},
            "capture:pi_stub1:3000",
            id="partial",
        ),
    ],
)
def test_a_payment_intent_is_captured_with_one_post_that_expands_its_charge(
    *,
    stripe_backed_api: ApiClient,
    fake_stripe: FakeStripeHttp,
    body: dict[str, int],
    params: dict[str, str],
    key: str,
) -> None:
    payment_id = hold_recorded(stripe_backed_api, fake_stripe, intent=True)
    fake_stripe.routes[("POST", f"{INTENT_PATH}/capture")] = (200, intent_object(status="succeeded"))
    status, _, answer = stripe_backed_api.post("/capture", {"chargeId": payment_id, **body})
    assert status == 200, answer
    call = only_request(fake_stripe)
    assert (call.method, call.path, call.idempotency_key, call.params) == (
        "POST",
        f"{INTENT_PATH}/capture",
        key,
        params,
    )


@pytest.mark.parametrize(
    ("intent", "body", "amount", "key"),
    [
        pytest.param(False, {}, 12500, "refund:ch_stub1:full:refund:12500", id="charge-full"),
        pytest.param(False, {"amount": 4000}, 4000, "refund:ch_stub1:4000:refund:4000", id="charge-partial"),
        pytest.param(True, {}, 5000, "refund:pi_stub1:full:refund:5000", id="intent-full"),
        pytest.param(True, {"amount": 1500}, 1500, "refund:pi_stub1:1500:refund:1500", id="intent-partial"),
    ],
)
def test_a_captured_payment_is_refunded_with_one_post_naming_the_amount(
    *,
    stripe_backed_api: ApiClient,
    fake_stripe: FakeStripeHttp,
    ledger: DynamoDBLedger,
    intent: bool,
    body: dict[str, int],
    amount: int,
    key: str,
) -> None:
    # Given a payment the API captured (so the ledger knows how much was taken)
    payment_id = capture_recorded(stripe_backed_api, fake_stripe, intent=intent)
    fake_stripe.routes[("POST", "/v1/refunds")] = (200, refund_object(charge_id=payment_id, amount=amount))
    # When it is refunded
    status, _, answer = stripe_backed_api.post("/refund", {"chargeId": payment_id, **body})
    # Then one POST names the payment (a Charge, or a PaymentIntent: Stripe refunds its charge) and an explicit
    # amount: what is left unless the client named less
    assert status == 200, answer
    call = only_request(fake_stripe)
    params = {"payment_intent" if intent else "charge": payment_id, "amount": str(amount)}
    assert (call.method, call.path, call.idempotency_key, call.params) == ("POST", "/v1/refunds", key, params)
    assert answer["createdRefund"]["kind"] == "refund"
    assert stored(ledger, payment_id).refunded_amount == amount


def test_a_payment_intent_hold_is_released_by_cancelling_it(
    stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp, ledger: DynamoDBLedger
) -> None:
    payment_id = hold_recorded(stripe_backed_api, fake_stripe, intent=True)
    fake_stripe.routes[("POST", f"{INTENT_PATH}/cancel")] = (200, intent_object(status="canceled"))
    status, _, answer = stripe_backed_api.post("/refund", {"chargeId": payment_id})
    assert status == 200, answer
    call = only_request(fake_stripe)
    assert (call.method, call.path, call.idempotency_key, call.params) == (
        "POST",
        f"{INTENT_PATH}/cancel",
        "refund:pi_stub1:full:release",
        {},
    )
    assert answer["createdRefund"]["kind"] == "hold_released"
    assert stored(ledger, payment_id).status is S.RELEASED


def test_an_uncaptured_charge_is_read_then_released_by_refunding_it_without_an_amount(
    stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp, ledger: DynamoDBLedger
) -> None:
    payment_id = hold_recorded(stripe_backed_api, fake_stripe)
    fake_stripe.routes[("GET", CHARGE_PATH)] = (200, charge_object())
    fake_stripe.routes[("POST", "/v1/refunds")] = (200, refund_object())
    status, _, answer = stripe_backed_api.post("/refund", {"chargeId": payment_id})
    assert status == 200, answer
    # The Charges API's one release that costs a read: a refund would also give back a charge captured meanwhile
    read, release = fake_stripe.calls
    assert (read.method, read.path, read.idempotency_key) == ("GET", CHARGE_PATH, None)
    # No amount: Stripe releases an uncaptured charge's hold whole
    assert (release.method, release.path, release.idempotency_key, release.params) == (
        "POST",
        "/v1/refunds",
        "refund:ch_stub1:full:release",
        {"charge": "ch_stub1"},
    )
    assert answer["createdRefund"]["kind"] == "hold_released"
    assert stored(ledger, payment_id).status is S.RELEASED


def test_a_charge_captured_behind_the_ledgers_back_is_never_released_by_a_refund(
    stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp, ledger: DynamoDBLedger, api_module: ModuleType
) -> None:
    # Given a hold the ledger records, then captured in the Stripe Dashboard
    payment_id = hold_recorded(stripe_backed_api, fake_stripe)
    fake_stripe.routes[("GET", CHARGE_PATH)] = (200, captured_charge())
    fake_stripe.routes[("POST", "/v1/refunds")] = (200, refund_object())
    # When the abandoned-hold sweeper releases it
    record = stored(ledger, payment_id)
    outcome = api_module.payment_service().release_abandoned(record, request_id="req-sweep")
    # Then nothing is refunded: the capture stands and the record learns it
    assert outcome is HoldOutcome.SETTLED
    assert [call.method for call in fake_stripe.calls] == ["GET", "GET"]
    assert stored(ledger, payment_id).status is S.CAPTURED


def test_an_api_base_changes_only_where_the_requests_go(
    stripe_backed_api: ApiClient,
    fake_stripe: FakeStripeHttp,
    stripe_api_base: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the transport's URLs recorded (the other tests assert the requests, identical for both configurations)
    urls: list[str] = []
    send = fake_stripe.request

    def recording(
        method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None, **kwargs: Any
    ) -> tuple[str, int, Mapping[str, str]]:
        urls.append(url)
        return send(method, url, headers, post_data, **kwargs)

    monkeypatch.setattr(fake_stripe, "request", recording)
    fake_stripe.routes = {
        ("POST", "/v1/charges"): (200, charge_object()),
        ("POST", "/v1/payment_intents"): (200, intent_object(status="requires_capture")),
    }
    # When a token and a PaymentMethod are held
    for body in (TOKEN_CHARGE, METHOD_CHARGE):
        status, _, answer = stripe_backed_api.post("/charge", body)
        assert status == 200, answer
    # Then each is one request to the configured base URL (Stripe's own without one), and nothing else
    base = stripe_api_base or STRIPE_URL
    assert urls == [f"{base}/v1/charges", f"{base}/v1/payment_intents"]


# --- when the ledger cannot decide alone: one GET ------------------------------------------------------------------


def test_a_refund_of_a_payment_the_ledger_does_not_know_reads_it_once_then_posts_once(
    stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp, ledger: DynamoDBLedger
) -> None:
    # Given a payment captured before the ledger existed
    fake_stripe.routes = {
        ("GET", CHARGE_PATH): (200, captured_charge()),
        ("POST", "/v1/refunds"): (200, refund_object()),
    }
    status, _, answer = stripe_backed_api.post("/refund", {"chargeId": "ch_stub1"})
    assert status == 200, answer
    assert requests_sent(fake_stripe) == [
        ("GET", CHARGE_PATH, None, {}),
        ("POST", "/v1/refunds", "refund:ch_stub1:full:refund:12500", {"charge": "ch_stub1", "amount": "12500"}),
    ]
    assert stored(ledger, "ch_stub1").history[0].source is EntrySource.PROVIDER


def test_a_stale_capture_costs_exactly_one_extra_get(
    stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp, ledger: DynamoDBLedger
) -> None:
    # Given a hold the ledger records, captured meanwhile in the Stripe Dashboard
    payment_id = hold_recorded(stripe_backed_api, fake_stripe)
    fake_stripe.routes[("POST", f"{CHARGE_PATH}/capture")] = stripe_error(
        400, "invalid_request_error", "charge_already_captured", "Charge ch_stub1 has already been captured."
    )
    fake_stripe.routes[("GET", CHARGE_PATH)] = (200, captured_charge())
    # When Collect captures it
    status, _, answer = stripe_backed_api.post("/capture", {"chargeId": payment_id})
    # Then Stripe's refusal is followed by one read, which corrects the record
    assert (status, answer["code"]) == (409, "already_captured"), answer
    assert requests_sent(fake_stripe) == [
        ("POST", f"{CHARGE_PATH}/capture", "capture:ch_stub1:full", {}),
        ("GET", CHARGE_PATH, None, {}),
    ]
    record = stored(ledger, payment_id)
    assert (record.status, record.history[-1].source) == (S.CAPTURED, EntrySource.PROVIDER)


def test_a_stale_capture_is_answered_from_the_corrected_record(
    stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp, ledger: DynamoDBLedger
) -> None:
    # Given a PaymentIntent hold the ledger records, which Stripe let lapse meanwhile (cancelled automatically)
    payment_id = hold_recorded(stripe_backed_api, fake_stripe, intent=True)
    fake_stripe.routes[("POST", f"{INTENT_PATH}/capture")] = stripe_error(
        400,
        "invalid_request_error",
        "payment_intent_unexpected_state",
        "This PaymentIntent could not be captured because it has a status of canceled.",
    )
    fake_stripe.routes[("GET", INTENT_PATH)] = (
        200,
        {**intent_object(status="canceled"), "cancellation_reason": "automatic"},
    )
    # When Collect captures it
    status, _, answer = stripe_backed_api.post("/capture", {"chargeId": payment_id})
    # Then the client learns why from the corrected record (the authorisation expired), not Stripe's generic refusal
    assert (status, answer["code"]) == (409, "authorization_expired"), answer
    assert [(call.method, call.path) for call in fake_stripe.calls] == [
        ("POST", f"{INTENT_PATH}/capture"),
        ("GET", INTENT_PATH),
    ]
    record = stored(ledger, payment_id)
    assert (record.status, record.history[-1].source) == (S.EXPIRED, EntrySource.PROVIDER)


def test_a_stale_release_costs_one_extra_get_and_the_money_is_refunded(
    stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp, ledger: DynamoDBLedger
) -> None:
    # Given a PaymentIntent hold the ledger records, captured meanwhile in the Dashboard
    payment_id = hold_recorded(stripe_backed_api, fake_stripe, intent=True)
    fake_stripe.routes.update(
        {
            ("POST", f"{INTENT_PATH}/cancel"): stripe_error(
                400,
                "invalid_request_error",
                "payment_intent_unexpected_state",
                "You cannot cancel this PaymentIntent because it has a status of succeeded.",
            ),
            ("GET", INTENT_PATH): (200, intent_object(status="succeeded")),
            ("POST", "/v1/refunds"): (200, refund_object(charge_id=payment_id, amount=5000)),
        }
    )
    # When Refund gives the money back
    status, _, answer = stripe_backed_api.post("/refund", {"chargeId": payment_id}, headers={"Idempotency-Key": "r-1"})
    # Then the refused cancel is followed by one read and one refund of what was taken, under a key of its own
    assert status == 200, answer
    assert requests_sent(fake_stripe) == [
        ("POST", f"{INTENT_PATH}/cancel", "refund:r-1:release", {}),
        ("GET", INTENT_PATH, None, {"expand[0]": "latest_charge"}),
        ("POST", "/v1/refunds", "refund:r-1:refund:5000", {"payment_intent": "pi_stub1", "amount": "5000"}),
    ]
    assert answer["createdRefund"]["kind"] == "refund"
    record = stored(ledger, payment_id)
    assert [entry.status for entry in record.history] == [S.AUTHORIZED, S.CAPTURED, S.REFUNDED]


def test_a_replayed_charge_is_read_once_and_a_released_one_is_refused(
    stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp, ledger: DynamoDBLedger
) -> None:
    # Given Stripe replaying a /charge's first answer (a hold) for a PaymentIntent released since
    fake_stripe.routes[("POST", "/v1/payment_intents")] = (200, intent_object(status="requires_capture"))
    fake_stripe.replayed.add(("POST", "/v1/payment_intents"))
    fake_stripe.routes[("GET", INTENT_PATH)] = (200, intent_object(status="canceled"))
    # When the front-end's retry reaches it
    status, _, answer = stripe_backed_api.post("/charge", METHOD_CHARGE, headers={"Idempotency-Key": "checkout-9"})
    # Then the service read the payment as it is now (one GET) and answered that it is no longer held
    assert (status, answer["code"]) == (409, "already_released"), answer
    assert [(call.method, call.path) for call in fake_stripe.calls] == [
        ("POST", "/v1/payment_intents"),
        ("GET", INTENT_PATH),
    ]
    assert stored(ledger, "pi_stub1").status is S.RELEASED
