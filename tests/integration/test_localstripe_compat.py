"""Local mode's localstripe answers the production requests as Stripe does (``local_mode/localstripe_compat.py``):
``automatic_payment_methods`` on PaymentIntents, token ids as a Charge's source, and captures and refunds as Stripe
makes them since API 2025-03-31 (no refund object for a partial capture's released rest, refunds of what was taken).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.fixtures.payment_api import TEST_STRIPE_KEY, ApiClient
from tests.support import localstripe

CARD = {"card[number]": "4242424242424242", "card[exp_month]": "12", "card[exp_year]": "2034", "card[cvc]": "123"}
# What the adapter sends for a PaymentMethod (lambdas/payment_api/stripe_provider.py), flattened as the SDK sends it.
AUTOMATIC_CARDS_ONLY = {
    "automatic_payment_methods[enabled]": "true",
    "automatic_payment_methods[allow_redirects]": "never",
}


def post(localstripe_url: str, path: str, data: dict[str, str]) -> requests.Response:
    return localstripe.post(localstripe_url, path, data, key=TEST_STRIPE_KEY)


def ok(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def get(localstripe_url: str, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    return ok(localstripe.get(localstripe_url, path, params, key=TEST_STRIPE_KEY))


def error_of(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def token(localstripe_url: str, number: str = "4242424242424242") -> dict[str, Any]:
    return ok(post(localstripe_url, "tokens", {**CARD, "card[number]": number}))


def intent_hold(localstripe_url: str, amount: int = 5000, **extra: str) -> dict[str, Any]:
    """A confirmed, manually captured PaymentIntent, as the adapter creates it."""
    return ok(
        post(
            localstripe_url,
            "payment_intents",
            {
                "amount": str(amount),
                "currency": "usd",
                "payment_method": "pm_card_visa",
                "capture_method": "manual",
                "confirm": "true",
                **AUTOMATIC_CARDS_ONLY,
                **extra,
            },
        )
    )


def charge_hold(localstripe_url: str, amount: int = 5000) -> dict[str, Any]:
    """An uncaptured Charge of a token, as the adapter creates it."""
    source = token(localstripe_url)["id"]
    return ok(
        post(
            localstripe_url, "charges", {"amount": str(amount), "currency": "eur", "source": source, "capture": "false"}
        )
    )


def partially_captured(localstripe_url: str, kind: str) -> tuple[str, dict[str, str]]:
    """A 5000 hold captured for 3000: the charge's id and how a refund names the payment."""
    if kind == "charge":
        charge = ok(post(localstripe_url, f"charges/{charge_hold(localstripe_url)['id']}/capture", {"amount": "3000"}))
        return charge["id"], {"charge": charge["id"]}
    intent = intent_hold(localstripe_url)
    captured = ok(post(localstripe_url, f"payment_intents/{intent['id']}/capture", {"amount_to_capture": "3000"}))
    assert captured["amount_received"] == 3000
    return captured["latest_charge"]["id"], {"payment_intent": intent["id"]}


def refunds_of(localstripe_url: str, charge_id: str) -> list[dict[str, Any]]:
    refunds: list[dict[str, Any]] = get(localstripe_url, "refunds", {"charge": charge_id, "limit": "100"})["data"]
    return refunds


# --- automatic_payment_methods ---------------------------------------------------------------------------------------


def intent_request(localstripe_url: str, automatic_payment_methods: dict[str, str]) -> requests.Response:
    return post(
        localstripe_url,
        "payment_intents",
        {
            "amount": "5000",
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "capture_method": "manual",
            "confirm": "true",
            **automatic_payment_methods,
        },
    )


@pytest.mark.parametrize(
    "automatic_payment_methods",
    [
        pytest.param(AUTOMATIC_CARDS_ONLY, id="redirects-never"),
        pytest.param({"automatic_payment_methods[enabled]": "true"}, id="redirects-default"),
    ],
)
def test_a_payment_intent_with_automatic_payment_methods_is_held(
    localstripe_url: str, automatic_payment_methods: dict[str, str]
) -> None:
    # Given the adapter's PaymentIntent request, automatic_payment_methods included / When localstripe gets it
    intent = ok(intent_request(localstripe_url, automatic_payment_methods))
    # Then the card is held, as at Stripe
    assert intent["status"] == "requires_capture"
    assert intent["latest_charge"]["captured"] is False
    assert intent["latest_charge"]["amount"] == 5000


def test_redirect_based_methods_are_refused_with_the_parameter_named(localstripe_url: str) -> None:
    # localstripe has cards only: asking for redirects is a clear 400, not a silently different payment
    response = intent_request(
        localstripe_url,
        {"automatic_payment_methods[enabled]": "true", "automatic_payment_methods[allow_redirects]": "always"},
    )
    error = error_of(response)
    assert (error["param"], error["type"]) == ("automatic_payment_methods[allow_redirects]", "invalid_request_error")


# --- a token as a Charge's source ------------------------------------------------------------------------------------


def test_a_charge_of_a_token_charges_the_tokens_card(localstripe_url: str) -> None:
    # Given a token (what Stripe.js createToken gives the old front-end)
    created = token(localstripe_url)
    # When a Charge names the token itself as its source, as the adapter sends it
    charge = ok(
        post(
            localstripe_url,
            "charges",
            {"amount": "5000", "currency": "eur", "source": created["id"], "capture": "false"},
        )
    )
    # Then the token's card is held
    assert charge["payment_method"] == created["card"]["id"]
    assert (charge["status"], charge["captured"], charge["amount"]) == ("succeeded", False, 5000)


def test_a_token_of_a_declining_card_is_declined(localstripe_url: str) -> None:
    declining = token(localstripe_url, number="4000000000000341")["id"]
    response = post(localstripe_url, "charges", {"amount": "5000", "currency": "eur", "source": declining})
    assert response.status_code == 402, response.text
    assert response.json()["error"]["code"] == "card_declined"


def test_an_unknown_token_is_stripes_resource_missing(localstripe_url: str) -> None:
    response = post(localstripe_url, "charges", {"amount": "5000", "currency": "eur", "source": "tok_unknown"})
    error = error_of(response)
    assert (error["code"], error["param"], error["type"]) == ("resource_missing", "source", "invalid_request_error")
    assert "tok_unknown" in error["message"]


# --- partial capture, then refunds -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["charge", "payment_intent"])
def test_a_partial_capture_creates_no_refund_and_a_refund_gives_back_what_was_captured(
    localstripe_url: str, kind: str
) -> None:
    # Given a 5000 hold captured for 3000
    charge_id, payment = partially_captured(localstripe_url, kind)
    # Then the released 2000 is no refund: nothing refunded, the charge's balance transaction is what was taken
    charge = get(localstripe_url, f"charges/{charge_id}")
    assert (charge["amount"], charge["amount_captured"], charge["amount_refunded"]) == (5000, 3000, 0)
    assert charge["refunded"] is False
    assert refunds_of(localstripe_url, charge_id) == []
    assert get(localstripe_url, f"balance/history/{charge['balance_transaction']}")["amount"] == 3000
    # When it is refunded without an amount
    refund = ok(post(localstripe_url, "refunds", payment))
    # Then what was captured comes back, by that one refund object
    assert refund["amount"] == 3000
    assert [r["id"] for r in refunds_of(localstripe_url, charge_id)] == [refund["id"]]
    charge = get(localstripe_url, f"charges/{charge_id}")
    assert (charge["amount_captured"], charge["amount_refunded"], charge["refunded"]) == (3000, 3000, True)


@pytest.mark.parametrize("kind", ["charge", "payment_intent"])
def test_a_refund_above_what_was_captured_is_refused(localstripe_url: str, kind: str) -> None:
    # Given a 5000 hold captured for 3000
    charge_id, payment = partially_captured(localstripe_url, kind)
    # When 4000 is refunded / Then Stripe's refusal, and nothing is refunded
    error = error_of(post(localstripe_url, "refunds", {**payment, "amount": "4000"}))
    assert (error["code"], error["param"]) == ("amount_too_large", "amount")
    assert refunds_of(localstripe_url, charge_id) == []
    # And once 1000 is refunded, at most the 2000 left
    ok(post(localstripe_url, "refunds", {**payment, "amount": "1000"}))
    assert error_of(post(localstripe_url, "refunds", {**payment, "amount": "2001"}))["code"] == "amount_too_large"
    assert ok(post(localstripe_url, "refunds", payment))["amount"] == 2000
    # And with nothing left, another refund is Stripe's charge_already_refunded
    assert error_of(post(localstripe_url, "refunds", payment))["code"] == "charge_already_refunded"
    assert sorted(r["amount"] for r in refunds_of(localstripe_url, charge_id)) == [1000, 2000]


def test_an_uncaptured_charge_is_still_released_whole_by_a_refund(localstripe_url: str) -> None:
    # Given an uncaptured 5000 hold / When refunded without an amount (the adapter's release)
    hold = charge_hold(localstripe_url)
    refund = ok(post(localstripe_url, "refunds", {"charge": hold["id"]}))
    # Then the whole hold is released, once
    assert refund["amount"] == 5000
    charge = get(localstripe_url, f"charges/{hold['id']}")
    assert (charge["captured"], charge["refunded"], charge["amount_captured"]) == (False, True, 0)
    assert error_of(post(localstripe_url, "refunds", {"charge": hold["id"]}))["code"] == "charge_already_refunded"


# --- through the payment API -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["token", "pm_card_visa"])
def test_the_api_refunds_what_a_partial_capture_took(stripe_api: ApiClient, localstripe_url: str, source: str) -> None:
    # Given a 5000 hold made through /charge (a token or a PaymentMethod, each sent as production sends it)
    stripe_token = token(localstripe_url)["id"] if source == "token" else source
    status, _, created = stripe_api.post("/charge", {"amount": 5000, "currency": "usd", "stripeToken": stripe_token})
    assert status == 200, created
    payment_id = created["createdCharge"]["id"]
    # When 3000 is captured, then the payment refunded in full
    status, _, captured = stripe_api.post("/capture", {"chargeId": payment_id, "amount": 3000})
    assert status == 200, captured
    assert (captured["capturedCharge"]["amount_captured"], captured["capturedCharge"]["amount_refunded"]) == (3000, 0)
    status, _, refunded = stripe_api.post("/refund", {"chargeId": payment_id})
    # Then 3000 comes back, by the only refund object, as at Stripe
    assert status == 200, refunded
    assert refunded["createdRefund"]["amount"] == 3000
    payment = get(localstripe_url, f"{'charges' if payment_id.startswith('ch_') else 'payment_intents'}/{payment_id}")
    charge_id = payment["id"] if payment_id.startswith("ch_") else payment["latest_charge"]["id"]
    assert [r["amount"] for r in refunds_of(localstripe_url, charge_id)] == [3000]
    status, _, read = stripe_api.call(f"/payments/{payment_id}", method="GET")
    assert status == 200, read
    assert (read["payment"]["status"], read["payment"]["capturedAmount"], read["payment"]["refundedAmount"]) == (
        "refunded",
        3000,
        3000,
    )
