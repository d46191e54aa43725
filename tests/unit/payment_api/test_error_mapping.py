"""Error mapping of the payment API: every failure is a JSON ``{"message", "code"}`` with its documented status.

Three layers: the handler's answer to each ``ApiError`` (FakeProvider), the Stripe adapter's translation of real
``stripe`` exception objects built offline, and the two together (the real adapter over an offline Stripe transport).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests
import stripe

from lambdas.payment_api import stripe_provider
from lambdas.payment_api.domain import Payment
from lambdas.payment_api.errors import (
    ApiError,
    CardDeclined,
    InvalidRequest,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    RequestInProgress,
    StateConflict,
    UnknownPayment,
)
from tests.fixtures.payment_api import ApiClient, FakeProvider, sample_payment
from tests.support.api_events import FakeLambdaContext, proxy_event
from tests.support.emf import json_lines, metrics_emitted
from tests.support.stripe_stub import (
    UNIT_STRIPE_KEY,
    FakeStripeHttp,
    charge_object,
    stripe_error,
)

CHARGE_BODY = {"amount": 12500, "currency": "eur", "stripeToken": "tok_visa", "email": "jane@example.com"}
ROUTES = [
    pytest.param("/charge", CHARGE_BODY, id="charge"),
    pytest.param("/capture", {"chargeId": "ch_1"}, id="capture"),
    # ch_1 is unknown to the ledger: back-filled as FakeProvider's 12500 EUR hold, so a refund of it is a release
    pytest.param("/refund", {"chargeId": "ch_1"}, id="refund"),
]
# What the provider answers when a call decided from the ledger does not fit the payment's real state: the service
# then reads the provider before answering.
REFUSALS = (StateConflict, InvalidRequest)
NAMESPACE = "ServerlessAirline"
no_metrics_warning = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


# --- the handler's answer to each ApiError ----------------------------------------------------------------------

PROVIDER_ERRORS = [
    pytest.param(InvalidRequest("the payment provider rejected the request"), 400, "invalid_request", id="invalid"),
    pytest.param(
        InvalidRequest("amount must be at most the refundable 500", code="invalid_amount"), 400, "invalid_amount",
        id="invalid-amount",
    ),
    pytest.param(
        CardDeclined("Your card has insufficient funds.", decline_code="insufficient_funds"), 402, "card_declined",
        id="declined",
    ),
    pytest.param(UnknownPayment("no payment with this id"), 404, "payment_not_found", id="not-found"),
    pytest.param(StateConflict("the payment was already captured"), 409, "payment_state_conflict", id="conflict"),
    pytest.param(
        StateConflict("the payment was already captured", code="already_captured"), 409, "already_captured",
        id="already-captured",
    ),
    pytest.param(RequestInProgress("the same request is being processed"), 409, "request_in_progress", id="busy"),
    pytest.param(ProviderRateLimited("retry later"), 429, "provider_rate_limited", id="rate-limited"),
    pytest.param(ProviderUnavailable("the payment provider failed"), 502, "provider_error", id="unavailable"),
    pytest.param(ProviderTimeout("the payment provider did not answer in time"), 504, "provider_timeout", id="timeout"),
    pytest.param(ProviderNotConfigured("the payment provider is not configured"), 503, "provider_not_configured",
                 id="not-configured"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body"), ROUTES)
@pytest.mark.parametrize(("error", "status", "code"), PROVIDER_ERRORS)
def test_each_provider_error_is_its_status_and_json_code(
    *,
    api: ApiClient,
    fake_provider: FakeProvider,
    path: str,
    body: dict[str, Any],
    error: ApiError,
    status: int,
    code: str,
) -> None:
    # Given a provider failing with this error
    fake_provider.error = error
    # When the route is called
    answer_status, headers, answer = api.post(path, body)
    # Then the client gets the documented status and a JSON body with the message and the code, nothing else
    assert answer_status == status
    assert headers["content-type"] == "application/json"
    expected = {"message": str(error), "code": code}
    if isinstance(error, CardDeclined):
        expected["decline_code"] = "insufficient_funds"
    assert answer == expected
    # And the provider was asked to move money once: to hold, to capture, or to release the back-filled hold
    operation = {"/charge": "authorize", "/capture": "capture", "/refund": "release"}[path]
    assert [called for called, _, _ in fake_provider.calls] == [operation]
    # And it was read only to back-fill the unknown payment, and once more after a refusal (to correct the record)
    back_fill = [] if path == "/charge" else ["ch_1"]
    refused = path != "/charge" and isinstance(error, REFUSALS)
    assert fake_provider.reads == back_fill + (["ch_1"] if refused else [])


def test_a_decline_without_a_decline_code_says_generic_decline(api: ApiClient, fake_provider: FakeProvider) -> None:
    fake_provider.error = CardDeclined("the card was not authorised", decline_code=None)
    status, _, error = api.post("/charge", CHARGE_BODY)
    assert status == 402
    assert error == {
        "message": "the card was not authorised",
        "code": "card_declined",
        "decline_code": "generic_decline",
    }


@no_metrics_warning
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/nope"), ("GET", "/charge"), ("GET", "/capture"), ("PUT", "/refund"), ("DELETE", "/charge"),
     ("POST", "/charge/extra"), ("POST", "/")],
)  # fmt: skip
def test_unknown_routes_and_methods_are_404_json(
    api: ApiClient, fake_provider: FakeProvider, method: str, path: str
) -> None:
    status, headers, error = api.call(path, CHARGE_BODY, method=method)
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert error == {"message": "no such route", "code": "not_found"}
    assert fake_provider.calls == []


@pytest.mark.parametrize(("path", "body"), ROUTES)
@pytest.mark.parametrize(
    ("raw_body", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "invalid_request"),
        ("", "application/json", 400, "invalid_request"),
        ("[]", "application/json", 400, "invalid_request"),
        ('{"amount": NaN}', "application/json", 400, "invalid_request"),
        ("{}", "text/plain", 415, "unsupported_media_type"),
        ('{"a": "' + "x" * 9000 + '"}', "application/json", 413, "payload_too_large"),
    ],
)
def test_a_bad_body_is_refused_before_any_provider_call(
    *,
    api: ApiClient,
    fake_provider: FakeProvider,
    path: str,
    body: dict[str, Any],
    raw_body: str,
    content_type: str,
    status: int,
    code: str,
) -> None:
    answer_status, headers, error = api.post(path, raw_body=raw_body, headers={"Content-Type": content_type})
    assert (answer_status, error["code"]) == (status, code), error
    assert set(error) == {"message", "code"}
    assert headers["content-type"] == "application/json"
    assert fake_provider.calls == []


@pytest.mark.parametrize(
    "raw_body",
    [
        pytest.param("%%% not base64 %%%", id="invalid-base64"),
        pytest.param("eyJhbW91bnQiOv8=", id="base64-of-invalid-utf8"),  # {"amount":<0xff>
    ],
)
def test_a_base64_body_that_is_not_utf8_json_is_400(
    api_module: ModuleType, fake_provider: FakeProvider, raw_body: str
) -> None:
    event = proxy_event("/charge", raw_body=raw_body)
    event["isBase64Encoded"] = True
    response = api_module.handler(event, FakeLambdaContext())
    assert response["statusCode"] == 400
    assert '"code":"invalid_request"' in response["body"]
    assert fake_provider.calls == []


def test_a_base64_encoded_json_body_is_accepted(api_module: ModuleType, fake_provider: FakeProvider) -> None:
    event = proxy_event("/charge", raw_body="eyJhbW91bnQiOjEwMCwiY3VycmVuY3kiOiJ1c2QiLCJzdHJpcGVUb2tlbiI6InRva194In0=")
    event["isBase64Encoded"] = True
    assert api_module.handler(event, FakeLambdaContext())["statusCode"] == 200
    assert [operation for operation, _, _ in fake_provider.calls] == ["authorize"]


def test_an_unexpected_exception_is_500_without_internals(
    api: ApiClient, fake_provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a provider failing with a bug whose message holds something secret
    def broken_authorize(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret sk_live_abc internals")

    monkeypatch.setattr(fake_provider, "authorize", broken_authorize)
    # When a charge is attempted
    status, headers, error = api.post("/charge", CHARGE_BODY)
    # Then the client learns only that it failed
    assert status == 500
    assert headers["content-type"] == "application/json"
    assert error == {"message": "internal error", "code": "internal_error"}
    assert "sk_live" not in str(error)
    assert "RuntimeError" not in str(error)


def test_a_retry_arriving_while_the_first_request_runs_is_409_request_in_progress(
    api: ApiClient, fake_provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a capture that is still at the provider when the workflow's retry of it arrives
    retries: list[tuple[int, dict[str, str], Any]] = []
    capture = fake_provider.capture

    def slow_capture(payment_id: str, *, amount: int | None, idempotency_key: str) -> Payment:
        retries.append(api.post("/capture", {"chargeId": "ch_1"}))
        return capture(payment_id, amount=amount, idempotency_key=idempotency_key)

    monkeypatch.setattr(fake_provider, "capture", slow_capture)
    # When both are answered
    status, _, first = api.post("/capture", {"chargeId": "ch_1"})
    # Then the first captures, the retry is told to come back, and the provider is called once
    assert status == 200, first
    assert [(retry_status, retry["code"]) for retry_status, _, retry in retries] == [(409, "request_in_progress")]
    assert len(fake_provider.calls) == 1


def test_an_unreachable_idempotency_store_is_503_and_moves_no_money(
    api: ApiClient, fake_provider: FakeProvider
) -> None:
    # Given the idempotency table is gone (throttled, deleted, no permission: the store cannot record the request)
    boto3.client("dynamodb").delete_table(TableName="test-idempotency")
    status, _, error = api.post("/capture", {"chargeId": "ch_1"})
    assert (status, error["code"]) == (503, "service_unavailable")
    assert fake_provider.calls == []


# --- CORS -----------------------------------------------------------------------------------------------------------


def test_an_allowed_origin_gets_cors_headers(api: ApiClient, fake_provider: FakeProvider) -> None:
    status, headers, _ = api.post("/charge", CHARGE_BODY, headers={"Origin": "https://shop.example"})
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://shop.example"


def test_an_allowed_origin_can_read_error_answers(api: ApiClient, fake_provider: FakeProvider) -> None:
    # The front-end must read a decline's decline_code and a 400's message: the CORS header is on errors too
    fake_provider.error = CardDeclined("Your card was declined.", decline_code="insufficient_funds")
    status, headers, _ = api.post("/charge", CHARGE_BODY, headers={"Origin": "https://shop.example"})
    assert status == 402
    assert headers["access-control-allow-origin"] == "https://shop.example"
    status, headers, _ = api.post("/charge", raw_body="{", headers={"Origin": "https://shop.example"})
    assert status == 400
    assert headers["access-control-allow-origin"] == "https://shop.example"


@pytest.mark.parametrize("origin", ["https://evil.example", "https://shop.example.evil.example", "null", "*"])
def test_another_origin_gets_no_cors_header(api: ApiClient, fake_provider: FakeProvider, origin: str) -> None:
    status, headers, _ = api.post("/charge", CHARGE_BODY, headers={"Origin": origin})
    assert status == 200
    assert "access-control-allow-origin" not in headers


@no_metrics_warning
def test_the_preflight_allows_the_idempotency_key_header(api: ApiClient, fake_provider: FakeProvider) -> None:
    status, headers, _ = api.call(
        "/charge",
        method="OPTIONS",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
    )
    assert status == 204
    assert headers["access-control-allow-origin"] == "https://shop.example"
    assert "Idempotency-Key" in headers["access-control-allow-headers"].split(",")
    assert "POST" in headers["access-control-allow-methods"].split(",")
    assert fake_provider.calls == []


# --- metrics --------------------------------------------------------------------------------------------------------


SUCCESS_METRICS = ("ChargeAuthorized", "ChargeRequiresAction", "PaymentCaptured", "PaymentRefunded", "HoldReleased")


@pytest.mark.parametrize(
    ("path", "body", "captured", "metric"),
    [
        ("/charge", CHARGE_BODY, False, "ChargeAuthorized"),
        ("/capture", {"chargeId": "ch_1"}, False, "PaymentCaptured"),
        ("/refund", {"chargeId": "ch_1"}, True, "PaymentRefunded"),
        ("/refund", {"chargeId": "ch_1"}, False, "HoldReleased"),
    ],
)
def test_a_success_is_counted(
    *,
    api: ApiClient,
    fake_provider: FakeProvider,
    capsys: pytest.CaptureFixture[str],
    path: str,
    body: dict[str, Any],
    captured: bool,
    metric: str,
) -> None:
    # Given ch_1 is a captured payment at the provider, or still a hold
    fake_provider.payments["ch_1"] = sample_payment(12500, "eur", captured=captured, payment_id="ch_1")
    capsys.readouterr()
    assert api.post(path, body)[0] == 200
    emitted = metrics_emitted(capsys.readouterr().out)
    # Then exactly this success is counted: a refund of a hold is a release, not a refund
    assert emitted[(NAMESPACE, metric)] == [1.0]
    assert [name for name in SUCCESS_METRICS if (NAMESPACE, name) in emitted] == [metric]


@pytest.mark.parametrize(
    ("error", "metric"),
    [
        (CardDeclined("Your card was declined.", decline_code="insufficient_funds"), "ChargeDeclined"),
        (ProviderUnavailable("the payment provider failed"), "ProviderError"),
        (ProviderTimeout("the payment provider did not answer in time"), "ProviderError"),
        (ProviderRateLimited("retry later"), "ProviderError"),
        (UnknownPayment("no payment with this id"), "RejectedRequest"),
    ],
)
def test_a_failure_is_counted_by_kind(
    api: ApiClient,
    fake_provider: FakeProvider,
    capsys: pytest.CaptureFixture[str],
    error: ApiError,
    metric: str,
) -> None:
    fake_provider.error = error
    capsys.readouterr()
    api.post("/charge", CHARGE_BODY)
    emitted = metrics_emitted(capsys.readouterr().out)
    assert emitted[(NAMESPACE, metric)] == [1.0]
    assert (NAMESPACE, "ChargeAuthorized") not in emitted


def test_a_bug_is_counted_as_unexpected(
    api: ApiClient, fake_provider: FakeProvider, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_capture(*_args: object, **_kwargs: object) -> None:
        raise KeyError("id")

    monkeypatch.setattr(fake_provider, "capture", broken_capture)
    capsys.readouterr()
    assert api.post("/capture", {"chargeId": "ch_1"})[0] == 500
    assert metrics_emitted(capsys.readouterr().out)[(NAMESPACE, "UnexpectedError")] == [1.0]


# --- Stripe's exceptions, translated --------------------------------------------------------------------------------
# (stripe types most of its API but not these constructors: hence the `no-untyped-call` ignores)


def raised_from(cause: BaseException) -> stripe.APIConnectionError:
    """An APIConnectionError chained to ``cause``, as the SDK's RequestsClient raises it."""
    error = stripe.APIConnectionError("Unexpected error communicating with Stripe.")  # type: ignore[no-untyped-call]
    error.__cause__ = cause  # what `raise ... from cause` sets
    return error


def card_error(decline_code: str | None, code: str = "card_declined") -> stripe.CardError:
    body: dict[str, Any] = {"type": "card_error", "code": code, "message": "Your card was declined."}
    if decline_code is not None:
        body["decline_code"] = decline_code
    return stripe.CardError(  # type: ignore[no-untyped-call]
        "Your card was declined.",
        param=None,
        code=code,
        http_status=402,
        json_body={"error": body},
        headers={"request-id": "req_card"},
    )


def invalid_request(code: str | None, http_status: int = 400, message: str = "Invalid request") -> stripe.StripeError:
    return stripe.InvalidRequestError(  # type: ignore[no-untyped-call]
        message,
        param="charge",
        code=code,
        http_status=http_status,
        json_body={"error": {"type": "invalid_request_error", "code": code, "message": message}},
        headers={"request-id": "req_invalid"},
    )


STRIPE_ERRORS: list[Any] = [
    pytest.param(card_error("insufficient_funds"), CardDeclined, 402, "card_declined", id="card-insufficient-funds"),
    pytest.param(card_error(None), CardDeclined, 402, "card_declined", id="card-no-decline-code"),
    pytest.param(card_error("expired_card", "expired_card"), CardDeclined, 402, "card_declined", id="card-expired"),
    pytest.param(invalid_request("resource_missing", 404, "No such charge: 'ch_x'"), UnknownPayment, 404,
                 "payment_not_found", id="resource-missing"),
    pytest.param(invalid_request(None, 404), UnknownPayment, 404, "payment_not_found", id="any-404"),
    pytest.param(invalid_request("resource_missing", 400), UnknownPayment, 404, "payment_not_found",
                 id="resource-missing-400"),
    pytest.param(invalid_request("charge_already_captured", message="Charge ch_1 has already been captured."),
                 StateConflict, 409, "already_captured", id="already-captured"),
    pytest.param(invalid_request("charge_already_refunded"), StateConflict, 409, "already_refunded",
                 id="already-refunded"),
    pytest.param(invalid_request("payment_intent_unexpected_state"), StateConflict, 409, "payment_state_conflict",
                 id="intent-state"),
    pytest.param(invalid_request("charge_expired_for_capture"), StateConflict, 409, "authorization_expired",
                 id="expired-for-capture"),
    pytest.param(invalid_request("amount_too_small", message="Amount must be at least 50 cents."), InvalidRequest,
                 400, "invalid_amount", id="amount-too-small"),
    pytest.param(invalid_request("parameter_unknown", message="Received unknown parameter: foo"), InvalidRequest, 400,
                 "provider_rejected_request", id="parameter-unknown"),
    pytest.param(invalid_request(None, message="Invalid API call"), InvalidRequest, 400, "provider_rejected_request",
                 id="no-code"),
    pytest.param(stripe.IdempotencyError("Keys for idempotent requests can only be used with the same parameters",
                                         http_status=400), StateConflict, 409, "idempotency_key_reused",
                 id="idempotency"),
    pytest.param(stripe.RateLimitError("Too many requests", http_status=429), ProviderRateLimited, 429,
                 "provider_rate_limited", id="rate-limit"),
    pytest.param(stripe.AuthenticationError("Invalid API Key provided: sk_live_****abcd", http_status=401),
                 ProviderNotConfigured, 503, "provider_not_configured", id="authentication"),
    pytest.param(stripe.PermissionError("The provided key 'rk_live_****' does not have access", http_status=403),
                 ProviderNotConfigured, 503, "provider_not_configured", id="permission"),
    pytest.param(raised_from(requests.exceptions.ReadTimeout()), ProviderTimeout, 504, "provider_timeout",
                 id="read-timeout"),
    pytest.param(raised_from(requests.exceptions.Timeout()), ProviderTimeout, 504, "provider_timeout", id="timeout"),
    pytest.param(raised_from(requests.exceptions.ConnectTimeout()), ProviderUnavailable, 502, "provider_error",
                 id="connect-timeout"),
    pytest.param(raised_from(requests.exceptions.ConnectionError()), ProviderUnavailable, 502, "provider_error",
                 id="connection-error"),
    pytest.param(raised_from(requests.exceptions.SSLError()), ProviderUnavailable, 502, "provider_error", id="ssl"),
    pytest.param(stripe.APIConnectionError("no cause"), ProviderUnavailable, 502, "provider_error",  # type: ignore[no-untyped-call]
                 id="no-cause"),
    pytest.param(stripe.APIError("An unknown error occurred", http_status=500), ProviderUnavailable, 502,
                 "provider_error", id="api-error"),
    pytest.param(stripe.StripeError("something new"), ProviderUnavailable, 502, "provider_error", id="base-error"),
]  # fmt: skip


@pytest.mark.parametrize(("error", "expected", "status", "code"), STRIPE_ERRORS)
def test_stripe_errors_translate_to_the_api_errors(
    error: stripe.StripeError, expected: type[ApiError], status: int, code: str
) -> None:
    translated = stripe_provider._translate(error)
    assert type(translated) is expected
    assert (translated.status, translated.code) == (status, code)
    # Stripe's internals stay out of the client's message: no request id, no key, no raw parameter names
    message = str(translated)
    assert "req_" not in message
    assert "sk_" not in message
    assert "rk_" not in message
    assert "unknown parameter" not in message


def test_a_card_error_keeps_the_user_message_and_the_decline_code() -> None:
    translated = stripe_provider._translate(card_error("insufficient_funds"))
    assert isinstance(translated, CardDeclined)
    assert translated.body() == {
        "message": "Your card was declined.",
        "code": "card_declined",
        "decline_code": "insufficient_funds",
    }


def test_a_card_error_without_a_body_is_a_generic_decline() -> None:
    bare = stripe.CardError("", param=None, code=None, http_status=402)  # type: ignore[no-untyped-call]
    translated = stripe_provider._translate(bare)
    assert isinstance(translated, CardDeclined)
    assert translated.body() == {
        "message": "the card was declined",
        "code": "card_declined",
        "decline_code": "generic_decline",
    }


def test_a_translated_error_is_logged_with_stripes_request_id_and_raised(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    # When a Stripe call fails inside the adapter's translation block
    with pytest.raises(UnknownPayment) as caught, stripe_provider._translated_errors("capture"):
        raise invalid_request("resource_missing", 404, "No such charge: 'ch_x'")
    # Then the API's error is raised without the Stripe exception chained to it
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True
    # And one warning (a client-side failure) carries Stripe's request id and error details
    [record] = [record for record in caplog.records if record.getMessage() == "Stripe call failed"]
    assert record.levelno == logging.WARNING
    fields = record.__dict__
    assert fields["stripe_request_id"] == "req_invalid"
    assert fields["operation"] == "capture"
    assert fields["stripe_error_type"] == "InvalidRequestError"
    assert fields["stripe_error_code"] == "resource_missing"
    assert fields["http_status"] == 404
    assert fields["answered_with"] == "payment_not_found"


def test_a_provider_failure_is_logged_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    error = stripe.APIError("An unknown error occurred", http_status=500, headers={"request-id": "req_boom"})
    with pytest.raises(ProviderUnavailable), stripe_provider._translated_errors("authorize"):
        raise error
    [record] = [record for record in caplog.records if record.getMessage() == "Stripe call failed"]
    assert record.levelno == logging.ERROR
    assert record.__dict__["stripe_request_id"] == "req_boom"


@pytest.mark.parametrize("error", [StateConflict("already", code="already_captured"), KeyError("id")])
def test_errors_that_are_not_stripes_pass_through_unchanged(error: Exception, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(type(error)) as caught, stripe_provider._translated_errors("capture"):
        raise error
    assert caught.value is error
    assert not [record for record in caplog.records if record.getMessage() == "Stripe call failed"]


# --- the real adapter over an offline Stripe, through the handler ---------------------------------------------------


def connection_failure(cause: BaseException) -> Callable[[], stripe.APIConnectionError]:
    return lambda: raised_from(cause)


STRIPE_ANSWERS_TO_A_CHARGE: list[Any] = [
    pytest.param(stripe_error(402, "card_error", "card_declined", "Your card has insufficient funds.",
                              decline_code="insufficient_funds"), 402, "card_declined", id="402-declined"),
    pytest.param(stripe_error(400, "invalid_request_error", "parameter_unknown", "Received unknown parameter: x"),
                 400, "provider_rejected_request", id="400-invalid"),
    pytest.param(stripe_error(400, "idempotency_error", None, "Keys for idempotent requests can only be used..."),
                 409, "idempotency_key_reused", id="400-idempotency"),
    pytest.param(stripe_error(429, "invalid_request_error", "rate_limit", "Too many requests"), 429,
                 "provider_rate_limited", id="429"),
    pytest.param(stripe_error(401, "invalid_request_error", None, "Invalid API Key provided: sk_test_****2e"), 503,
                 "provider_not_configured", id="401"),
    pytest.param(stripe_error(403, "invalid_request_error", None, "The provided key does not have access"), 503,
                 "provider_not_configured", id="403"),
    pytest.param(stripe_error(500, "api_error", None, "An unknown error occurred"), 502, "provider_error", id="500"),
    pytest.param((200, {"object": "charge", "amount": 12500}), 502, "provider_error", id="200-without-id"),
    pytest.param(connection_failure(requests.exceptions.ReadTimeout()), 504, "provider_timeout", id="read-timeout"),
    pytest.param(connection_failure(requests.exceptions.ConnectTimeout()), 502, "provider_error",
                 id="connect-timeout"),
    pytest.param(connection_failure(requests.exceptions.ConnectionError()), 502, "provider_error", id="refused"),
]  # fmt: skip


@pytest.mark.parametrize(("answer", "status", "code"), STRIPE_ANSWERS_TO_A_CHARGE)
def test_stripe_answers_reach_the_client_as_documented(
    stripe_backed_api: ApiClient,
    fake_stripe: FakeStripeHttp,
    answer: tuple[int, dict[str, Any]] | Callable[[], Exception],
    status: int,
    code: str,
) -> None:
    # Given Stripe answering a charge this way
    fake_stripe.routes = {("POST", "/v1/charges"): answer if isinstance(answer, tuple) else answer()}
    # When the front-end charges
    answer_status, headers, error = stripe_backed_api.post("/charge", CHARGE_BODY)
    # Then the client gets the documented status and code, and nothing of Stripe's internals or the key
    assert (answer_status, error["code"]) == (status, code), error
    assert headers["content-type"] == "application/json"
    assert UNIT_STRIPE_KEY not in str(error)
    assert "sk_test" not in str(error)
    assert "req_fake" not in str(error)


@pytest.mark.parametrize(
    ("routes", "status", "code", "posts"),
    [
        pytest.param({}, 404, "payment_not_found", 0, id="unknown-charge"),
        pytest.param(
            {("GET", "/v1/charges/ch_stub1"): (200, charge_object(captured=True))}, 409, "already_captured", 0,
            id="already-captured",
        ),
        pytest.param(
            {("GET", "/v1/charges/ch_stub1"): (200, charge_object(refunded=True))}, 409, "already_released", 0,
            id="already-released",
        ),
        pytest.param(
            {("GET", "/v1/charges/ch_stub1"): (200, charge_object(captured=True, refunded=True,
                                                                   amount_refunded=12500))},
            409, "already_refunded", 0, id="already-refunded",
        ),
        pytest.param(
            {
                ("GET", "/v1/charges/ch_stub1"): (200, charge_object()),
                ("POST", "/v1/charges/ch_stub1/capture"): stripe_error(
                    400, "invalid_request_error", "charge_expired_for_capture", "This charge has expired"
                ),
            },
            409, "authorization_expired", 1, id="expired",
        ),
        pytest.param(
            {
                ("GET", "/v1/charges/ch_stub1"): (200, charge_object()),
                ("POST", "/v1/charges/ch_stub1/capture"): stripe_error(
                    400, "invalid_request_error", "charge_already_captured", "Charge ch_stub1 is captured."
                ),
            },
            409, "already_captured", 1, id="captured-meanwhile",
        ),
    ],
)  # fmt: skip
def test_capture_failures_reach_the_client_as_documented(
    *,
    stripe_backed_api: ApiClient,
    fake_stripe: FakeStripeHttp,
    routes: dict[tuple[str, str], tuple[int, dict[str, Any]]],
    status: int,
    code: str,
    posts: int,
) -> None:
    # Given a charge the ledger does not know yet (so it is read from Stripe once, to back-fill its record)
    fake_stripe.routes = dict(routes)
    answer_status, _, error = stripe_backed_api.post("/capture", {"chargeId": "ch_stub1"})
    assert (answer_status, error["code"]) == (status, code), error
    assert len(fake_stripe.posts()) == posts
    # And a refused capture is followed by one more read (the record is corrected from Stripe before answering)
    reads = [call for call in fake_stripe.calls if call.method == "GET"]
    assert len(reads) == 1 + posts


def test_a_capture_above_the_authorised_amount_is_409_and_not_sent(
    stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp
) -> None:
    # Given a 12500 EUR hold (read from Stripe once, to back-fill the ledger)
    fake_stripe.routes = {("GET", "/v1/charges/ch_stub1"): (200, charge_object(amount=12500))}
    # When more than the hold is asked for (a fare above the pre-authorised amount)
    status, _, error = stripe_backed_api.post("/capture", {"chargeId": "ch_stub1", "amount": 12501})
    # Then it is a conflict with the payment's state, not a malformed request, and Stripe is never asked
    assert (status, error["code"]) == (409, "amount_exceeds_hold")
    assert "12500" in error["message"]
    assert fake_stripe.posts() == []


def test_a_capture_in_another_currency_is_409_and_not_sent(
    stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp
) -> None:
    fake_stripe.routes = {("GET", "/v1/charges/ch_stub1"): (200, charge_object(currency="eur"))}
    status, _, error = stripe_backed_api.post("/capture", {"chargeId": "ch_stub1", "currency": "USD"})
    assert (status, error["code"]) == (409, "currency_mismatch")
    assert fake_stripe.posts() == []


def test_stripe_is_called_with_explicit_timeouts_and_the_key_from_ssm(
    ssm_wired_api: ApiClient, fake_stripe: FakeStripeHttp
) -> None:
    # Given the handler's own wiring, with the key in SSM
    fake_stripe.routes = {("POST", "/v1/charges"): (200, charge_object())}
    # When two charges are made
    assert ssm_wired_api.post("/charge", CHARGE_BODY)[0] == 200
    assert ssm_wired_api.post("/charge", CHARGE_BODY)[0] == 200
    # Then one Stripe client, with (connect, read) timeouts, sent the key from SSM, and only a hold was asked for
    assert fake_stripe.timeouts == [(2.0, 8.0)]
    assert [call.api_key for call in fake_stripe.calls] == [UNIT_STRIPE_KEY, UNIT_STRIPE_KEY]
    call = fake_stripe.calls[0]
    assert call.params["capture"] == "false"
    assert call.params["metadata[email]"] == "jane@example.com"


def test_a_missing_stripe_key_is_503_and_nothing_is_sent(
    api: ApiClient, fake_stripe: FakeStripeHttp, powertools_log: io.StringIO
) -> None:
    # Given no key in SSM (the `api` fixture puts none there)
    status, _, error = api.post("/capture", {"chargeId": "ch_1"})
    assert (status, error["code"]) == (503, "provider_not_configured")
    assert fake_stripe.calls == []
    # And an operator finds one clear error line naming the parameter, without a stack trace
    [line] = [line for line in json_lines(powertools_log.getvalue()) if line["level"] == "ERROR"]
    assert line["parameter_name"] == "/test/service/payment/stripe/secretKey"
    assert "exception" not in line


def test_logs_carry_the_api_request_id_and_stripes_request_id_but_never_the_key(
    stripe_backed_api: ApiClient, api_module: ModuleType, fake_stripe: FakeStripeHttp, powertools_log: io.StringIO
) -> None:
    # Given a capture of an unknown charge (Stripe answers 404 with its request id)
    event = proxy_event("/capture", {"chargeId": "ch_unknown"})
    response = api_module.handler(event, FakeLambdaContext())
    assert response["statusCode"] == 404
    # Then the failure's log line carries both request ids
    lines = json_lines(powertools_log.getvalue())
    [failure] = [line for line in lines if line["message"] == "Stripe call failed"]
    assert failure["correlation_id"] == event["requestContext"]["requestId"]
    assert failure["stripe_request_id"] == "req_fake_1"
    assert failure["answered_with"] == "payment_not_found"
    assert UNIT_STRIPE_KEY not in powertools_log.getvalue()


def test_a_description_that_is_not_unicode_is_400_not_500(
    stripe_backed_api: ApiClient, fake_stripe: FakeStripeHttp
) -> None:
    # Given a body whose description is a lone UTF-16 surrogate escape: JSON syntax, but no text
    fake_stripe.routes = {("POST", "/v1/charges"): (200, charge_object())}
    raw_body = '{"amount": 12500, "currency": "eur", "stripeToken": "tok_visa", "description": "\\ud800"}'
    # When it is posted to /charge
    status, _, error = stripe_backed_api.post("/charge", raw_body=raw_body)
    # Then it is a client error like any malformed field (today Stripe's form encoding raises UnicodeEncodeError,
    # which no handler translates: a 500 internal_error)
    assert status == 400, error
    assert fake_stripe.calls == []
