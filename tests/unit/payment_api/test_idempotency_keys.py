"""Idempotency keys: derived ones are stable across retries and distinct across operations, and reach the provider.

Through the real handler, the Powertools idempotency store (on moto's DynamoDB) answers replays with the first
result without calling the provider again.
"""

from __future__ import annotations

import itertools

import pytest

from lambdas.payment_api.domain import ChargeRequest, Operation, PaymentRequest
from lambdas.payment_api.errors import ProviderTimeout
from lambdas.payment_api.service import charge_command, payment_command
from tests.fixtures.payment_api import ApiClient, FakeProvider, sample_payment
from tests.support.stripe_stub import FakeStripeHttp, charge_object, intent_object, refund_object

CHARGE = ChargeRequest(amount=12500, currency="eur", source="tok_visa", description=None, email=None)
OLD_FRONT_END_BODY = {
    "amount": 12500,
    "currency": "eur",
    "stripeToken": "tok_visa",
    "description": "Payment by jane@example.com",
    "email": "jane@example.com",
}


def derived_key(operation: Operation, payment_id: str, amount: int | None = None) -> str:
    return payment_command(
        operation, PaymentRequest(payment_id=payment_id, amount=amount), client_key=None
    ).idempotency_key


# --- the keys, computed --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", [Operation.CAPTURE, Operation.REFUND])
@pytest.mark.parametrize("amount", [None, 1, 500])
def test_a_retried_capture_or_refund_derives_the_same_key(operation: Operation, amount: int | None) -> None:
    # Given two separately built, equal requests (a retry rebuilds everything from the body)
    first = payment_command(operation, PaymentRequest(payment_id="ch_1", amount=amount), client_key=None)
    retry = payment_command(operation, PaymentRequest(payment_id="ch_1", amount=amount), client_key=None)
    # Then both the key and the whole command (which the idempotency layer compares) are equal
    assert first.idempotency_key == retry.idempotency_key
    assert first == retry


def test_derived_keys_keep_their_format_across_deployments() -> None:
    # The keys are stored (idempotency table, Stripe): a new format would let a retry that spans a deployment
    # move money a second time.
    assert derived_key(Operation.CAPTURE, "ch_1") == "capture:ch_1:full"
    assert derived_key(Operation.CAPTURE, "pi_1", 500) == "capture:pi_1:500"
    assert derived_key(Operation.REFUND, "ch_1") == "refund:ch_1:full"


def test_derived_keys_differ_for_every_different_request() -> None:
    requests = list(
        itertools.product(
            [Operation.CAPTURE, Operation.REFUND], ["ch_1", "ch_2", "pi_1", "ch_10"], [None, 1, 10, 100, 500, 12500]
        )
    )
    keys = [derived_key(operation, payment_id, amount) for operation, payment_id, amount in requests]
    assert len(set(keys)) == len(requests)


def test_capture_and_refund_of_the_same_charge_have_different_keys() -> None:
    assert derived_key(Operation.CAPTURE, "ch_1") != derived_key(Operation.REFUND, "ch_1")
    assert derived_key(Operation.CAPTURE, "ch_1", 500) != derived_key(Operation.REFUND, "ch_1", 500)


def test_full_and_partial_amounts_have_different_keys() -> None:
    assert derived_key(Operation.CAPTURE, "ch_1") != derived_key(Operation.CAPTURE, "ch_1", 12500)
    assert derived_key(Operation.REFUND, "ch_1", 500) != derived_key(Operation.REFUND, "ch_1", 600)


def test_different_charges_have_different_keys() -> None:
    assert derived_key(Operation.CAPTURE, "ch_1") != derived_key(Operation.CAPTURE, "ch_2")
    assert derived_key(Operation.REFUND, "ch_1", 5) != derived_key(Operation.REFUND, "pi_1", 5)


@pytest.mark.parametrize("operation", [Operation.CAPTURE, Operation.REFUND])
def test_a_client_key_replaces_the_derived_one_namespaced_by_operation(operation: Operation) -> None:
    command = payment_command(operation, PaymentRequest(payment_id="ch_1", amount=500), client_key="order-7:try-1")
    assert command.idempotency_key == f"{operation.value}:order-7:try-1"
    assert command.payment == PaymentRequest(payment_id="ch_1", amount=500)


def test_one_client_key_on_each_operation_gives_three_different_keys() -> None:
    payment = PaymentRequest(payment_id="ch_1", amount=None)
    keys = {
        charge_command(CHARGE, client_key="k1").idempotency_key,
        payment_command(Operation.CAPTURE, payment, client_key="k1").idempotency_key,
        payment_command(Operation.REFUND, payment, client_key="k1").idempotency_key,
    }
    assert keys == {"charge:k1", "capture:k1", "refund:k1"}


def test_a_charge_with_a_client_key_is_stable() -> None:
    first = charge_command(CHARGE, client_key="checkout-7f3a")
    retry = charge_command(CHARGE, client_key="checkout-7f3a")
    assert first.idempotency_key == retry.idempotency_key == "charge:checkout-7f3a"
    assert first == retry


def test_a_charge_without_a_client_key_gets_a_fresh_key_each_time() -> None:
    # Two identical bodies without a key may be two real purchases: they must never be merged
    keys = [charge_command(CHARGE, client_key=None).idempotency_key for _ in range(200)]
    assert len(set(keys)) == 200
    assert all(key.startswith("charge:auto:") for key in keys)


# --- the keys, through the handler ----------------------------------------------------------------------------------


def test_the_provider_receives_the_derived_keys(api: ApiClient, fake_provider: FakeProvider) -> None:
    # When the booking workflow captures fully, captures partially, refunds fully and partially, and releases a hold
    # (every payment a 12500 EUR hold at first)
    assert api.post("/capture", {"chargeId": "ch_1"})[0] == 200
    assert api.post("/capture", {"chargeId": "ch_2", "amount": 500})[0] == 200
    assert api.post("/refund", {"chargeId": "ch_1"})[0] == 200
    assert api.post("/refund", {"chargeId": "ch_2", "amount": 300})[0] == 200
    assert api.post("/refund", {"chargeId": "pi_1"})[0] == 200
    # Then each provider call carries the key derived from its operation, payment and amount: a capture the command's
    # key as it is, a refund the command's key with the amount refunded, a release the command's key marked as one
    assert [(operation, key) for operation, _, key in fake_provider.calls] == [
        ("capture", "capture:ch_1:full"),
        ("capture", "capture:ch_2:500"),
        ("refund", "refund:ch_1:full:refund:12500"),
        ("refund", "refund:ch_2:300:refund:300"),
        ("release", "refund:pi_1:full:release"),
    ]


def test_the_provider_receives_the_client_key_namespaced(api: ApiClient, fake_provider: FakeProvider) -> None:
    headers = {"Idempotency-Key": "checkout-7f3a"}
    assert api.post("/charge", OLD_FRONT_END_BODY, headers=headers)[0] == 200
    assert api.post("/capture", {"chargeId": "ch_1"}, headers=headers)[0] == 200
    assert api.post("/refund", {"chargeId": "ch_1"}, headers={"idempotency-key": "checkout-7f3a"})[0] == 200
    assert [key for _, _, key in fake_provider.calls] == [
        "charge:checkout-7f3a",
        "capture:checkout-7f3a",
        "refund:checkout-7f3a:refund:12500",
    ]


def test_charges_without_a_key_are_each_sent_to_the_provider(api: ApiClient, fake_provider: FakeProvider) -> None:
    # Given the same body twice and no Idempotency-Key: two purchases, not a retry
    first = api.post("/charge", OLD_FRONT_END_BODY)
    second = api.post("/charge", OLD_FRONT_END_BODY)
    assert first[0] == second[0] == 200
    keys = [key for _, _, key in fake_provider.calls]
    assert len(keys) == 2
    assert keys[0] != keys[1]
    assert all(key.startswith("charge:auto:") for key in keys)


@pytest.mark.parametrize(
    ("path", "body", "captured"),
    [
        pytest.param("/capture", {"chargeId": "ch_1"}, False, id="capture"),
        pytest.param("/refund", {"chargeId": "ch_1", "amount": 500}, True, id="partial-refund"),
        pytest.param("/refund", {"chargeId": "ch_1"}, False, id="release"),
    ],
)
def test_a_request_sent_three_times_reaches_the_provider_once(
    api: ApiClient, fake_provider: FakeProvider, path: str, body: dict[str, object], captured: bool
) -> None:
    # Given ch_1 is a 12500 EUR hold, or a captured payment (a partial refund needs money taken)
    fake_provider.payments["ch_1"] = sample_payment(12500, "eur", captured=captured, payment_id="ch_1")
    # When the workflow retries the same request three times
    answers = [api.post(path, body) for _ in range(3)]
    # Then the provider was called once and every answer is the first one
    assert len(fake_provider.calls) == 1
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert answers[0][2] == answers[1][2] == answers[2][2]


def test_a_charge_replayed_with_its_key_reaches_the_provider_once(api: ApiClient, fake_provider: FakeProvider) -> None:
    headers = {"Idempotency-Key": "checkout-7f3a"}
    first = api.post("/charge", OLD_FRONT_END_BODY, headers=headers)
    # The same body, only spelled differently (upper-case currency): still the same request
    second = api.post("/charge", {**OLD_FRONT_END_BODY, "currency": "EUR"}, headers=headers)
    assert first[0] == second[0] == 200
    assert first[2] == second[2]
    assert len(fake_provider.calls) == 1


def test_a_key_reused_for_a_different_charge_is_409_and_not_sent(api: ApiClient, fake_provider: FakeProvider) -> None:
    headers = {"Idempotency-Key": "checkout-7f3a"}
    assert api.post("/charge", OLD_FRONT_END_BODY, headers=headers)[0] == 200
    # When the same key comes with another amount
    status, response_headers, error = api.post("/charge", {**OLD_FRONT_END_BODY, "amount": 99}, headers=headers)
    # Then it is refused instead of answering the first charge, and the provider is not called again
    assert (status, error["code"]) == (409, "idempotency_key_reused")
    assert response_headers["content-type"] == "application/json"
    assert len(fake_provider.calls) == 1


def test_a_key_reused_for_another_charge_id_is_409(api: ApiClient, fake_provider: FakeProvider) -> None:
    headers = {"Idempotency-Key": "capture-batch-1"}
    assert api.post("/capture", {"chargeId": "ch_1"}, headers=headers)[0] == 200
    status, _, error = api.post("/capture", {"chargeId": "ch_2"}, headers=headers)
    assert (status, error["code"]) == (409, "idempotency_key_reused")
    assert len(fake_provider.calls) == 1


def test_capture_then_refunds_of_one_charge_are_all_executed(api: ApiClient, fake_provider: FakeProvider) -> None:
    # When one charge is captured, partially refunded, then refunded in full (three different derived keys)
    assert api.post("/capture", {"chargeId": "ch_1"})[0] == 200
    assert api.post("/refund", {"chargeId": "ch_1", "amount": 500})[0] == 200
    assert api.post("/refund", {"chargeId": "ch_1"})[0] == 200
    # Then none is mistaken for a replay of another: each reached the provider, the last one refunding what was left
    assert [(operation, request) for operation, request, _ in fake_provider.calls] == [
        ("capture", PaymentRequest(payment_id="ch_1", amount=None)),
        ("refund", PaymentRequest(payment_id="ch_1", amount=500)),
        ("refund", PaymentRequest(payment_id="ch_1", amount=12000)),
    ]
    # And a capture of the refunded charge (yet another key) is refused by the ledger, without a provider call
    status, _, error = api.post("/capture", {"chargeId": "ch_1", "amount": 500})
    assert (status, error["code"]) == (409, "already_refunded")
    assert len(fake_provider.calls) == 3


def test_a_failed_attempt_does_not_lock_its_key(api: ApiClient, fake_provider: FakeProvider) -> None:
    # Given a capture that timed out at the provider
    fake_provider.error = ProviderTimeout("the payment provider did not answer in time")
    assert api.post("/capture", {"chargeId": "ch_1"})[0] == 504
    # When the workflow retries once the provider is back
    fake_provider.error = None
    status, _, body = api.post("/capture", {"chargeId": "ch_1"})
    # Then the retry reaches the provider with the same key (Stripe de-duplicates it) and succeeds
    assert status == 200, body
    assert [key for _, _, key in fake_provider.calls] == ["capture:ch_1:full", "capture:ch_1:full"]


def test_an_invalid_key_is_400_and_nothing_is_sent(api: ApiClient, fake_provider: FakeProvider) -> None:
    status, _, error = api.post("/charge", OLD_FRONT_END_BODY, headers={"Idempotency-Key": "two words"})
    assert (status, error["code"]) == (400, "invalid_idempotency_key")
    assert fake_provider.calls == []


# --- the keys, on the wire to Stripe ------------------------------------------------------------------------------


def test_stripe_receives_the_key_on_every_money_moving_request(
    stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp
) -> None:
    # Given a Stripe that holds, then captures, then refunds charge ch_stub1
    fake_stripe.routes = {
        ("POST", "/v1/charges"): (200, charge_object()),
        ("GET", "/v1/charges/ch_stub1"): (200, charge_object()),
        ("POST", "/v1/charges/ch_stub1/capture"): (200, charge_object(captured=True)),
        ("POST", "/v1/refunds"): (200, refund_object(amount=200)),
    }
    headers = {"Idempotency-Key": "checkout-7f3a"}
    assert stripe_backed_api.post("/charge", OLD_FRONT_END_BODY, headers=headers)[0] == 200
    assert stripe_backed_api.post("/capture", {"chargeId": "ch_stub1", "amount": 500})[0] == 200
    assert stripe_backed_api.post("/refund", {"chargeId": "ch_stub1", "amount": 200})[0] == 200
    # Then every POST carries its key, and nothing is read first: the ledger recorded the charge it made
    assert [(call.method, call.path, call.idempotency_key) for call in fake_stripe.calls] == [
        ("POST", "/v1/charges", "charge:checkout-7f3a"),
        ("POST", "/v1/charges/ch_stub1/capture", "capture:ch_stub1:500"),
        ("POST", "/v1/refunds", "refund:ch_stub1:200:refund:200"),
    ]


def test_a_back_fill_read_carries_no_key(stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp) -> None:
    # Given a hold made before the ledger existed
    fake_stripe.routes = {
        ("GET", "/v1/charges/ch_stub1"): (200, charge_object()),
        ("POST", "/v1/charges/ch_stub1/capture"): (200, charge_object(captured=True)),
    }
    assert stripe_backed_api.post("/capture", {"chargeId": "ch_stub1"})[0] == 200
    # Then it is read once, without a key, and the capture carries the derived key
    assert [(call.method, call.path, call.idempotency_key) for call in fake_stripe.calls] == [
        ("GET", "/v1/charges/ch_stub1", None),
        ("POST", "/v1/charges/ch_stub1/capture", "capture:ch_stub1:full"),
    ]


def test_a_payment_method_is_authorised_in_one_stripe_call_with_the_clients_key(
    stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp
) -> None:
    # Given Stripe confirms the PaymentIntent as it creates it
    fake_stripe.routes = {("POST", "/v1/payment_intents"): (200, intent_object(status="requires_capture"))}
    body = {"amount": 5000, "currency": "usd", "stripeToken": "pm_card_visa"}
    # When the front-end pre-authorises a PaymentMethod
    status, _, created = stripe_backed_api.post("/charge", body, headers={"Idempotency-Key": "k-42"})
    # Then one POST created and confirmed a manual-capture intent, under the request's key
    assert status == 200, created
    (call,) = fake_stripe.posts()
    assert (call.path, call.idempotency_key) == ("/v1/payment_intents", "charge:k-42")
    assert (call.params["confirm"], call.params["capture_method"]) == ("true", "manual")
