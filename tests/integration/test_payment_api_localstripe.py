"""The real payment API handler against a real localstripe (and moto for SSM and the idempotency table)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from lambdas.payment_api import handler
from lambdas.payment_api.ledger import LedgerUnavailable
from tests.fixtures.payment_api import TEST_STRIPE_KEY, ApiClient
from tests.support import localstripe


def stripe_get(localstripe_url: str, path: str) -> dict[str, Any]:
    response = localstripe.get(localstripe_url, path, key=TEST_STRIPE_KEY)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def card_token(localstripe_url: str, number: str = "4242424242424242") -> str:
    """What Stripe.js gives the front-end: a token id for the card."""
    card = {"card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2034", "card[cvc]": "123"}
    response = localstripe.post(localstripe_url, "tokens", card, key=TEST_STRIPE_KEY)
    response.raise_for_status()
    return str(response.json()["id"])


def old_front_end_body(token: str) -> dict[str, Any]:
    return {
        "amount": 12500,
        "currency": "eur",
        "stripeToken": token,
        "description": "Payment by jane@example.com",
        "email": "jane@example.com",
    }


def test_old_front_end_body_pre_authorises_and_echoes_the_email(stripe_api: ApiClient, localstripe_url: str) -> None:
    # Given the exact body the old front-end sent / When it posts /charge
    status, headers, body = stripe_api.post(
        "/charge", old_front_end_body(card_token(localstripe_url)), headers={"Origin": "https://shop.example"}
    )
    # Then a hold exists at Stripe, not a capture, and the envelope carries what the front-end reads
    assert status == 200, body
    charge = body["createdCharge"]
    assert charge["id"].startswith("ch_")
    assert charge["amount"] == 12500
    assert charge["currency"] == "eur"
    assert charge["captured"] is False
    assert charge["email"] == "jane@example.com"
    assert "receipt_url" in charge
    assert headers["access-control-allow-origin"] == "https://shop.example"
    assert stripe_get(localstripe_url, f"charges/{charge['id']}")["captured"] is False


def test_charge_then_capture_then_refund(stripe_api: ApiClient, localstripe_url: str) -> None:
    _, _, created = stripe_api.post("/charge", old_front_end_body(card_token(localstripe_url)))
    charge_id = created["createdCharge"]["id"]
    # When the booking captures it
    status, _, captured = stripe_api.post("/capture", {"chargeId": charge_id})
    assert status == 200, captured
    assert captured["capturedCharge"]["captured"] is True
    assert captured["capturedCharge"]["amount"] == 12500
    assert "receipt_url" in captured["capturedCharge"]
    assert captured["capturedCharge"]["email"] == "jane@example.com"
    # And then refunds it
    status, _, refunded = stripe_api.post("/refund", {"chargeId": charge_id})
    assert status == 200, refunded
    assert refunded["createdRefund"]["id"].startswith("re_")
    assert refunded["createdRefund"]["kind"] == "refund"
    assert stripe_get(localstripe_url, f"charges/{charge_id}")["refunded"] is True


def test_refund_of_an_uncaptured_charge_releases_the_hold(stripe_api: ApiClient, localstripe_url: str) -> None:
    _, _, created = stripe_api.post("/charge", old_front_end_body(card_token(localstripe_url)))
    charge_id = created["createdCharge"]["id"]
    status, _, released = stripe_api.post("/refund", {"chargeId": charge_id})
    assert status == 200, released
    assert released["createdRefund"]["kind"] == "hold_released"
    charge = stripe_get(localstripe_url, f"charges/{charge_id}")
    assert charge["refunded"] is True
    assert charge["captured"] is False
    # And a later capture is refused from the ledger (released), not performed
    status, _, error = stripe_api.post("/capture", {"chargeId": charge_id})
    assert (status, error["code"]) == (409, "already_released")


def test_payment_method_flow_authorises_captures_partially_and_refunds(
    stripe_api: ApiClient, localstripe_url: str
) -> None:
    status, _, created = stripe_api.post(
        "/charge", {"amount": 5000, "currency": "usd", "stripeToken": "pm_card_visa", "email": "a@b.example"}
    )
    assert status == 200, created
    intent = created["createdCharge"]
    assert intent["id"].startswith("pi_")
    assert intent["status"] == "requires_capture"
    assert intent["requires_action"] is False
    assert "client_secret" not in intent
    status, _, captured = stripe_api.post("/capture", {"chargeId": intent["id"], "amount": 3000})
    assert status == 200, captured
    assert captured["capturedCharge"]["captured"] is True
    assert captured["capturedCharge"]["amount_captured"] == 3000
    # And localstripe (bridged by local mode) reports the captured amounts as Stripe does, webhooks included
    stored_intent = stripe_get(localstripe_url, f"payment_intents/{intent['id']}")
    assert stored_intent["amount_received"] == 3000
    assert stripe_get(localstripe_url, f"charges/{stored_intent['latest_charge']['id']}")["amount_captured"] == 3000
    status, _, refunded = stripe_api.post("/refund", {"chargeId": intent["id"], "amount": 1000})
    assert status == 200, refunded
    assert refunded["createdRefund"]["amount"] == 1000
    assert refunded["createdRefund"]["kind"] == "refund"


def test_payment_method_hold_is_released_by_cancelling(stripe_api: ApiClient, localstripe_url: str) -> None:
    _, _, created = stripe_api.post("/charge", {"amount": 5000, "currency": "usd", "stripeToken": "pm_card_visa"})
    intent_id = created["createdCharge"]["id"]
    status, _, released = stripe_api.post("/refund", {"chargeId": intent_id})
    assert status == 200, released
    assert released["createdRefund"]["kind"] == "hold_released"
    assert stripe_get(localstripe_url, f"payment_intents/{intent_id}")["status"] == "canceled"
    # A replay (same derived key) answers the first result; a new request meets the released state
    assert stripe_api.post("/refund", {"chargeId": intent_id})[2] == released
    status, _, error = stripe_api.post("/refund", {"chargeId": intent_id}, headers={"Idempotency-Key": "other"})
    assert (status, error["code"]) == (409, "already_released")


def test_three_d_secure_answer_carries_the_client_secret(stripe_api: ApiClient, localstripe_url: str) -> None:
    # Given a PaymentMethod for a card whose bank asks for 3-D Secure
    card = {"card[number]": "4000002760003184", "card[exp_month]": "12", "card[exp_year]": "2034", "card[cvc]": "123"}
    response = localstripe.post(localstripe_url, "payment_methods", {"type": "card", **card}, key=TEST_STRIPE_KEY)
    status, _, created = stripe_api.post(
        "/charge", {"amount": 5000, "currency": "usd", "stripeToken": response.json()["id"]}
    )
    assert status == 200, created
    intent = created["createdCharge"]
    assert intent["status"] == "requires_action"
    assert intent["requires_action"] is True
    assert intent["client_secret"].startswith(intent["id"])


def test_declines_are_402_with_the_decline_code(stripe_api: ApiClient, localstripe_url: str) -> None:
    status, _, error = stripe_api.post(
        "/charge", old_front_end_body(card_token(localstripe_url, number="4000000000000341"))
    )
    # 4000000000000341 attaches but declines when charged
    assert (status, error["code"]) == (402, "card_declined"), error
    assert error["decline_code"]
    status, _, error = stripe_api.post(
        "/charge", {"amount": 5000, "currency": "usd", "stripeToken": "pm_card_chargeCustomerFail"}
    )
    assert (status, error["code"]) == (402, "card_declined"), error


def test_second_capture_is_a_conflict_and_unknown_ids_are_not_found(
    stripe_api: ApiClient, localstripe_url: str
) -> None:
    _, _, created = stripe_api.post("/charge", old_front_end_body(card_token(localstripe_url)))
    charge_id = created["createdCharge"]["id"]
    assert stripe_api.post("/capture", {"chargeId": charge_id, "amount": 5000})[0] == 200
    status, _, error = stripe_api.post("/capture", {"chargeId": charge_id, "amount": 6000})
    assert (status, error["code"]) == (409, "already_captured")
    status, _, error = stripe_api.post("/capture", {"chargeId": "ch_doesnotexist"})
    assert (status, error["code"]) == (404, "payment_not_found")
    status, _, error = stripe_api.post("/refund", {"chargeId": "pi_doesnotexist"})
    assert (status, error["code"]) == (404, "payment_not_found")


def test_replayed_capture_returns_the_first_result_and_captures_once(
    stripe_api: ApiClient, localstripe_url: str
) -> None:
    _, _, created = stripe_api.post("/charge", old_front_end_body(card_token(localstripe_url)))
    charge_id = created["createdCharge"]["id"]
    answers = [stripe_api.post("/capture", {"chargeId": charge_id}) for _ in range(3)]
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert answers[0][2] == answers[1][2] == answers[2][2]
    assert stripe_get(localstripe_url, f"charges/{charge_id}")["amount_refunded"] == 0


def test_replayed_refund_refunds_once(stripe_api: ApiClient, localstripe_url: str) -> None:
    # localstripe itself allows refunding twice: only the service's idempotency stands in the way
    _, _, created = stripe_api.post("/charge", old_front_end_body(card_token(localstripe_url)))
    charge_id = created["createdCharge"]["id"]
    stripe_api.post("/capture", {"chargeId": charge_id})
    answers = [stripe_api.post("/refund", {"chargeId": charge_id, "amount": 1000}) for _ in range(3)]
    assert {answer[2]["createdRefund"]["id"] for answer in answers} == {answers[0][2]["createdRefund"]["id"]}
    refunds = stripe_get(localstripe_url, f"refunds?charge={charge_id}")["data"]
    assert len(refunds) == 1


def test_replayed_charge_with_the_same_key_holds_once(stripe_api: ApiClient, localstripe_url: str) -> None:
    token = card_token(localstripe_url)
    headers = {"Idempotency-Key": "checkout-7f3a"}
    first = stripe_api.post("/charge", old_front_end_body(token), headers=headers)
    second = stripe_api.post("/charge", old_front_end_body(token), headers=headers)
    assert first[0] == second[0] == 200
    assert first[2] == second[2]
    # The same key with another amount is refused instead of silently answering the old result
    changed = {**old_front_end_body(token), "amount": 99}
    status, _, error = stripe_api.post("/charge", changed, headers=headers)
    assert (status, error["code"]) == (409, "idempotency_key_reused")


def test_missing_stripe_key_is_503_provider_not_configured(api: ApiClient, localstripe_url: str) -> None:
    # Given no key in SSM (the `api` fixture puts none there)
    status, _, error = api.post("/capture", {"chargeId": "ch_123"})
    assert (status, error["code"]) == (503, "provider_not_configured")
    assert "sk_" not in error["message"]


# --- local mode's localstripe: Stripe's idempotency, and the ledger's no-lost-fact retry through it -------------------


def stripe_post(localstripe_url: str, path: str, key: str, data: dict[str, str] | None = None) -> requests.Response:
    return localstripe.post(localstripe_url, path, data, key=TEST_STRIPE_KEY, idempotency_key=key)


def fail_once(monkeypatch: pytest.MonkeyPatch, ledger: Any, method: str) -> None:
    """The handler's own ledger, whose next ``method`` call fails as DynamoDB failing would."""
    original = getattr(ledger, method)
    failures = iter([LedgerUnavailable("injected")])

    def failing_once(argument: Any) -> Any:
        for failure in failures:
            raise failure
        return original(argument)

    monkeypatch.setattr(ledger, method, failing_once)


def test_localstripe_replays_a_repeated_idempotency_key_as_stripe_does(localstripe_url: str) -> None:
    # Given a hold
    intent = stripe_post(
        localstripe_url,
        "payment_intents",
        f"create-{uuid.uuid4().hex}",
        {
            "amount": "5000",
            "currency": "eur",
            "payment_method": "pm_card_visa",
            "capture_method": "manual",
            "confirm": "true",
        },
    ).json()
    key = f"capture-{uuid.uuid4().hex}"
    # When the capture is sent twice with one key (a retry), then the key is reused for another amount
    first = stripe_post(localstripe_url, f"payment_intents/{intent['id']}/capture", key)
    retry = stripe_post(localstripe_url, f"payment_intents/{intent['id']}/capture", key)
    reused = stripe_post(localstripe_url, f"payment_intents/{intent['id']}/capture", key, {"amount_to_capture": "10"})
    # Then the retry gets the first answer (localstripe alone refuses a second capture) and the reuse is refused
    assert (first.status_code, retry.status_code) == (200, 200)
    assert first.json() == retry.json()
    assert (reused.status_code, reused.json()["error"]["type"]) == (400, "idempotency_error")


def test_a_capture_whose_ledger_write_fails_is_recorded_once_by_the_retry(
    stripe_api: ApiClient, localstripe_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a hold, and a ledger whose next write fails once (after Stripe captured)
    _, _, created = stripe_api.post("/charge", {**old_front_end_body("pm_card_visa"), "amount": 8000})
    intent_id = created["createdCharge"]["id"]
    ledger = handler.payment_ledger
    fail_once(monkeypatch, ledger, "apply")
    # When Collect captures: the first answer is a retryable 503, and its retry (same key) succeeds
    key = {"Idempotency-Key": f"booking-collect-{intent_id}"}
    first_status, _, first = stripe_api.post("/capture", {"chargeId": intent_id, "amount": 8000}, headers=key)
    status, _, captured = stripe_api.post("/capture", {"chargeId": intent_id, "amount": 8000}, headers=key)
    # Then Stripe captured once, and the ledger shows exactly one capture
    assert (first_status, first["code"]) == (503, "ledger_unavailable")
    assert status == 200
    assert captured["capturedCharge"]["status"] == "succeeded"
    balance = stripe_get(localstripe_url, "balance_transactions?limit=1000000")["data"]
    latest_charge = stripe_get(localstripe_url, f"payment_intents/{intent_id}")["latest_charge"]
    charge_id = latest_charge["id"] if isinstance(latest_charge, dict) else latest_charge
    assert [t["type"] for t in balance if t["source"] == charge_id] == ["charge"]
    record = ledger.get(intent_id)
    assert record is not None
    assert record.status == "captured"
    assert [entry.status for entry in record.history] == ["authorized", "captured"]


def test_a_charge_the_ledger_could_not_record_is_released_and_its_retry_is_told_to_start_again(
    stripe_api: ApiClient, localstripe_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a ledger whose next record cannot be written
    ledger = handler.payment_ledger
    fail_once(monkeypatch, ledger, "create")
    key = {"Idempotency-Key": f"checkout-{uuid.uuid4().hex}"}
    body = {**old_front_end_body("pm_card_visa"), "amount": 6100}
    # When the front-end pre-authorises, then retries with the same key
    first_status, _, first = stripe_api.post("/charge", body, headers=key)
    status, _, retried = stripe_api.post("/charge", body, headers=key)
    # Then the hold was released at once (503), and the retry, replayed by Stripe, is told to start again (409)
    assert (first_status, first["code"]) == (503, "ledger_unavailable")
    assert (status, retried["code"]) == (409, "already_released")
    released = [
        intent
        for intent in stripe_get(localstripe_url, "payment_intents?limit=100")["data"]
        if intent["amount"] == 6100 and intent["status"] == "canceled"
    ]
    assert len(released) == 1
    record = ledger.get(released[0]["id"])
    assert record is not None
    assert record.status == "released"
