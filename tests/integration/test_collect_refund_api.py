"""Collect and Refund end to end: the real functions, SigV4-signed HTTP to a local API front that checks the
signature, the real payment API handler behind it, localstripe as Stripe and moto for AWS."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
import requests

from lambdas.collect import handler as collect_handler
from lambdas.refund import handler as refund_handler
from lambdas.shared.payment_errors import (
    CurrencyMismatch,
    FareUnavailable,
    HoldBelowFare,
    InvalidPaymentRequest,
    PaymentNotFound,
    PaymentServiceUnavailable,
)
from local_mode.api_front import LocalApiFront, Route
from tests.fixtures.payment_api import ApiClient
from tests.integration.test_payment_api_localstripe import card_token, old_front_end_body, stripe_get
from tests.support.api_events import FakeLambdaContext

ROUTES = (Route("POST", "/charge", "NONE"), Route("POST", "/capture", "AWS_IAM"), Route("POST", "/refund", "AWS_IAM"))


def current_secret(access_key: str) -> str | None:
    """The secret of the credentials in the environment (moto swaps in its own while it mocks)."""
    return os.environ["AWS_SECRET_ACCESS_KEY"] if access_key == os.environ["AWS_ACCESS_KEY_ID"] else None


@pytest.fixture
def front(stripe_api: ApiClient, api_module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The local API front on a free port; counts the requests that reached the payment API handler."""
    reached: list[dict[str, Any]] = []

    def invoke_api(event: dict[str, Any]) -> dict[str, Any]:
        reached.append(event)
        result: dict[str, Any] = api_module.handler(event, FakeLambdaContext())
        return result

    server = LocalApiFront(routes=ROUTES, handler=invoke_api, secret_for=current_secret).start()
    monkeypatch.setenv("PAYMENT_API_URL", server.url)
    for module in (collect_handler, refund_handler):
        module.client.cache_clear()
    yield {"url": server.url, "reached": reached}
    server.stop()
    for module in (collect_handler, refund_handler):
        module.client.cache_clear()


# The hold old_front_end_body pre-authorises.
HOLD = {"amount": 12500, "currency": "eur"}


def booking_state(charge_id: str, *, fare: dict[str, Any] | None = None) -> dict[str, Any]:
    """The workflow's state at Collect: the booking input, the booking id and the fare (by default the hold's)."""
    return {
        "outboundFlightId": "fl-1",
        "customerId": "cus-1",
        "chargeId": charge_id,
        "name": "exec-1",
        "createdAt": "2019-08-01T10:00:00Z",
        "bookingId": "exec-1",
        "fare": fare or HOLD,
    }


def new_hold(stripe_api: ApiClient, localstripe_url: str) -> str:
    status, _, body = stripe_api.post("/charge", old_front_end_body(card_token(localstripe_url)))
    assert status == 200, body
    return str(body["createdCharge"]["id"])


def run(module: ModuleType, state: object) -> Any:
    return module.handler(state, FakeLambdaContext(function_name=module.__name__.split(".")[1]))


def test_collect_captures_and_returns_the_old_contract(
    front: dict[str, Any], stripe_api: ApiClient, localstripe_url: str
) -> None:
    charge_id = new_hold(stripe_api, localstripe_url)
    # When the workflow runs Collect on the old booking state
    result = run(collect_handler, booking_state(charge_id))
    # Then the hold is captured and the answer is {"receiptUrl", "price"}
    assert result == {"receiptUrl": None, "price": 12500}  # localstripe issues no receipt_url
    assert stripe_get(localstripe_url, f"charges/{charge_id}")["captured"] is True
    assert front["reached"][0]["headers"]["Authorization"].startswith("AWS4-HMAC-SHA256")


def test_collect_twice_captures_once_and_answers_the_same(
    front: dict[str, Any], stripe_api: ApiClient, localstripe_url: str
) -> None:
    charge_id = new_hold(stripe_api, localstripe_url)
    first, second = run(collect_handler, booking_state(charge_id)), run(collect_handler, booking_state(charge_id))
    assert first == second
    charge = stripe_get(localstripe_url, f"charges/{charge_id}")
    assert charge["captured"] is True
    assert charge["amount_refunded"] == 0  # a second capture would have failed or partially refunded


def test_refund_twice_refunds_once(front: dict[str, Any], stripe_api: ApiClient, localstripe_url: str) -> None:
    charge_id = new_hold(stripe_api, localstripe_url)
    run(collect_handler, booking_state(charge_id))
    answers = [run(refund_handler, booking_state(charge_id)) for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["refundId"].startswith("re_")
    # localstripe would happily refund again: one refund object proves no second refund was sent
    assert len(stripe_get(localstripe_url, f"refunds?charge={charge_id}")["data"]) == 1


def test_refund_releases_an_uncaptured_hold(front: dict[str, Any], stripe_api: ApiClient, localstripe_url: str) -> None:
    charge_id = new_hold(stripe_api, localstripe_url)
    assert run(refund_handler, booking_state(charge_id))["refundId"].startswith("re_")
    charge = stripe_get(localstripe_url, f"charges/{charge_id}")
    assert (charge["captured"], charge["refunded"]) == (False, True)


def test_collect_captures_only_the_fare_of_a_larger_hold(
    front: dict[str, Any], stripe_api: ApiClient, localstripe_url: str
) -> None:
    charge_id = new_hold(stripe_api, localstripe_url)
    result = run(collect_handler, booking_state(charge_id, fare={"amount": 9900, "currency": "EUR"}))
    assert result["price"] == 9900
    assert json.loads(front["reached"][0]["body"]) == {
        "chargeId": charge_id,
        "amount": 9900,
        "currency": "eur",
        "bookingId": "exec-1",
        "customerId": "cus-1",
        "execution": "exec-1",
    }


@pytest.mark.parametrize(
    ("fare", "error_class"),
    [({"amount": 12501, "currency": "eur"}, HoldBelowFare), ({"amount": 12500, "currency": "usd"}, CurrencyMismatch)],
)
def test_collect_refuses_a_fare_the_hold_does_not_cover_and_captures_nothing(
    front: dict[str, Any],
    stripe_api: ApiClient,
    localstripe_url: str,
    fare: dict[str, Any],
    error_class: type[Exception],
) -> None:
    charge_id = new_hold(stripe_api, localstripe_url)
    with pytest.raises(error_class):
        run(collect_handler, booking_state(charge_id, fare=fare))
    assert stripe_get(localstripe_url, f"charges/{charge_id}")["captured"] is False
    # And the hold can still be released
    assert run(refund_handler, booking_state(charge_id))["refundId"].startswith("re_")


def test_collect_without_a_fare_makes_no_http_call(front: dict[str, Any]) -> None:
    state = {key: value for key, value in booking_state("ch_123").items() if key != "fare"}
    with pytest.raises(FareUnavailable):
        run(collect_handler, state)
    assert front["reached"] == []


def test_unknown_charge_is_a_final_not_found(front: dict[str, Any]) -> None:
    with pytest.raises(PaymentNotFound) as raised:
        run(collect_handler, booking_state("ch_unknown123"))
    assert raised.value.retryable is False


def test_invalid_input_makes_no_http_call(front: dict[str, Any]) -> None:
    with pytest.raises(InvalidPaymentRequest):
        run(collect_handler, {"outboundFlightId": "fl-1", "customerId": "cus-1"})
    assert front["reached"] == []


def test_api_down_is_retryable(monkeypatch: pytest.MonkeyPatch, aws: None) -> None:
    monkeypatch.setenv("PAYMENT_API_URL", "http://127.0.0.1:9/Prod/")  # discard port: nothing listens
    collect_handler.client.cache_clear()
    try:
        with pytest.raises(PaymentServiceUnavailable) as raised:
            run(collect_handler, booking_state("ch_123"))
        assert raised.value.retryable is True
    finally:
        collect_handler.client.cache_clear()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer token"},
        {
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/eu-west-1/execute-api/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
            "X-Amz-Date": "20260101T000000Z",
        },
    ],
)
def test_the_front_refuses_unsigned_or_badly_signed_capture(front: dict[str, Any], headers: dict[str, str]) -> None:
    response = requests.post(f"{front['url']}capture", json={"chargeId": "ch_1"}, headers=headers, timeout=5)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert front["reached"] == []


def test_the_front_answers_unknown_routes_like_api_gateway(front: dict[str, Any]) -> None:
    response = requests.get(f"{front['url']}charge", timeout=5)
    assert (response.status_code, response.json()["code"]) == (403, "missing_authentication_token")


def test_the_public_charge_route_needs_no_signature(front: dict[str, Any], localstripe_url: str) -> None:
    response = requests.post(
        f"{front['url']}charge",
        data=json.dumps(old_front_end_body(card_token(localstripe_url))),
        timeout=10,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["createdCharge"]["id"].startswith("ch_")
