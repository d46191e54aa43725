"""Collect and Refund, offline: input and fare validation, the body sent, signing, answer mapping, typed errors,
metrics and logging."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import botocore.session
import pytest
from aws_lambda_powertools.metrics.provider import cold_start
from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from lambdas.collect import handler as collect_handler
from lambdas.refund import handler as refund_handler
from lambdas.shared import payment_errors as errors
from lambdas.shared.payment_api_client import PaymentApiClient
from lambdas.shared.payment_task import TaskSettings
from tests.support.api_events import FakeLambdaContext
from tests.support.snapstart import run_after_restore_hooks

# The workflow's state when it runs Collect: the old booking input, the booking id, and the fare Read Fare wrote.
BOOKING_STATE = {
    "outboundFlightId": "fl-123",
    "customerId": "cus-42",
    "chargeId": "ch_1AbC",
    "name": "exec-0001",
    "createdAt": "2019-08-01T10:00:00Z",
    "bookingId": "bk-9",
    "seatReservation": {"taken": True, "flight": {"ticketPrice": {"N": "12500"}, "ticketCurrency": {"S": "EUR"}}},
    "fare": {"amount": 12500, "currency": "EUR"},
}
BOOKING_CONTEXT = {"bookingId": "bk-9", "customerId": "cus-42", "execution": "exec-0001"}
# A hold of 150.00 of which the fare, 125.00, was captured.
CAPTURED = {
    "capturedCharge": {
        "id": "ch_1AbC",
        "amount": 15000,
        "amount_captured": 12500,
        "receipt_url": "https://pay.example/r/1",
    }
}
REFUNDED = {"createdRefund": {"id": "re_77", "kind": "refund"}}


@dataclass(frozen=True)
class FakeResponse:
    """What the client reads of botocore's ``AWSResponse``."""

    status_code: int
    content: bytes


def response(status: int, body: object) -> FakeResponse:
    return FakeResponse(status, json.dumps(body).encode() if not isinstance(body, bytes) else body)


@dataclass
class FakeSession:
    """Stands in for botocore's URLLib3Session: records requests, answers from a script (a response or an error)."""

    answers: list[FakeResponse | Exception] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def send(self, request: AWSPreparedRequest) -> Any:
        self.calls.append({"url": request.url, "data": request.body, "headers": dict(request.headers.items())})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> FakeSession:
    fake = FakeSession()
    credentials = botocore.session.get_session().get_credentials()
    client = PaymentApiClient(
        base_url="https://api.example/Prod/",
        region="eu-west-1",
        credentials=credentials,
        http=fake,
    )
    for module in (collect_handler, refund_handler):
        monkeypatch.setattr(module, "client", lambda: client)
    return fake


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """What the functions' Powertools logger writes (its handler holds the stdout of import time)."""
    buffer = io.StringIO()
    handler = collect_handler.logger.registered_handler
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    yield buffer
    handler.setStream(previous)  # type: ignore[attr-defined]


def invoke(module: ModuleType, state: object) -> Any:
    return module.handler(state, FakeLambdaContext(function_name=module.__name__.split(".")[1]))


def emf_metrics(output: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"_aws"' in line]
    return [line for line in lines if "ColdStart" not in line]


def log_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"level"' in line]


def test_collect_captures_the_fare_and_returns_receipt_and_price(session: FakeSession) -> None:
    # Given the API captures the fare out of a larger hold
    session.answers.append(response(200, CAPTURED))
    # When Collect runs on the workflow's state
    result = invoke(collect_handler, BOOKING_STATE)
    # Then it returns the old contract, the price being what was captured
    assert result == {"receiptUrl": "https://pay.example/r/1", "price": 12500}
    # And it made one signed, idempotent call to /capture for exactly the fare, with the booking it belongs to
    (call,) = session.calls
    assert call["url"] == "https://api.example/Prod/capture"
    assert json.loads(call["data"]) == {"chargeId": "ch_1AbC", "amount": 12500, "currency": "eur", **BOOKING_CONTEXT}
    headers = call["headers"]
    assert headers["Idempotency-Key"] == "booking-collect-ch_1AbC"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]
    assert "X-Amz-Date" in headers


def test_refund_gives_everything_back_and_says_for_which_booking(session: FakeSession) -> None:
    session.answers.append(response(200, REFUNDED))
    assert invoke(refund_handler, BOOKING_STATE) == {"refundId": "re_77"}
    (call,) = session.calls
    assert call["url"] == "https://api.example/Prod/refund"
    assert call["headers"]["Idempotency-Key"] == "booking-refund-ch_1AbC"
    # No amount or currency, even with a fare in the state: whatever was taken goes back
    assert json.loads(call["data"]) == {"chargeId": "ch_1AbC", **BOOKING_CONTEXT}


def test_refund_needs_no_fare(session: FakeSession) -> None:
    session.answers.append(response(200, REFUNDED))
    state = {key: value for key, value in BOOKING_STATE.items() if key not in ("fare", "seatReservation")}
    assert invoke(refund_handler, state) == {"refundId": "re_77"}


def test_a_capture_without_receipt_url_still_answers(session: FakeSession) -> None:
    session.answers.append(response(200, {"capturedCharge": {"amount_captured": 500, "receipt_url": None}}))
    assert invoke(collect_handler, BOOKING_STATE) == {"receiptUrl": None, "price": 500}


def test_the_price_is_the_amount_only_when_the_api_gives_no_amount_captured(session: FakeSession) -> None:
    session.answers.append(response(200, {"capturedCharge": {"amount": 12500}}))
    assert invoke(collect_handler, BOOKING_STATE)["price"] == 12500


@pytest.mark.parametrize(
    ("state", "sent"),
    [
        # Long values are cut to 256 characters
        (
            {"bookingId": "b" * 300, "customerId": "c" * 257, "name": "n" * 256},
            {"bookingId": "b" * 256, "customerId": "c" * 256, "execution": "n" * 256},
        ),
        # Missing, empty or non-string values are left out
        ({"bookingId": "", "customerId": 42, "name": None}, {}),
        ({}, {}),
        # What the API would refuse (and with it the whole request) is left out: control characters, text that is
        # not valid Unicode
        ({"bookingId": "bk-1", "customerId": "\ud800", "name": "exec\n1"}, {"bookingId": "bk-1"}),
        ({"bookingId": "bk\x00", "customerId": "cus\x7f"}, {}),
        # Only what is sent is checked
        ({"customerId": "c" * 256 + "\n"}, {"customerId": "c" * 256}),
        # Characters, not bytes, are counted
        ({"customerId": "é" * 300}, {"customerId": "é" * 256}),
    ],
)
@pytest.mark.parametrize("module", [collect_handler, refund_handler])
def test_the_booking_context_sent_is_short_text_only(
    session: FakeSession, module: ModuleType, state: dict[str, Any], sent: dict[str, str]
) -> None:
    # Given a state with these booking fields (and a charge and a fare)
    session.answers.append(response(200, CAPTURED if module is collect_handler else REFUNDED))
    invoke(module, {"chargeId": "ch_1AbC", "fare": {"amount": 100, "currency": "usd"}, **state})
    # Then the body carries exactly the usable ones, under the API's names
    body = json.loads(session.calls[0]["data"])
    assert {key: body[key] for key in body if key in ("bookingId", "customerId", "execution")} == sent


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"chargeId": None},
        {"chargeId": 42},
        {"chargeId": ""},
        {"chargeId": "re_123"},
        {"chargeId": "tok_visa"},
        {"chargeId": "ch_"},
        {"chargeId": "ch_abc\n"},
        {"chargeId": "ch_abc;rm -rf"},
        {"chargeId": "ch_" + "a" * 181},
        {"paymentToken": "ch_123"},
        [],
        "ch_123",
        None,
    ],
)
@pytest.mark.parametrize("module", [collect_handler, refund_handler])
def test_bad_input_is_a_final_invalid_request_without_http_call(
    session: FakeSession, module: ModuleType, state: object, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(errors.InvalidPaymentRequest, match=r"chargeId|booking state") as raised:
        invoke(module, state)
    assert raised.value.retryable is False
    assert session.calls == []
    (metric,) = emf_metrics(capsys.readouterr().out)
    assert metric["InvalidPaymentRequest"] == [1.0]
    assert metric["operation"] == module.__name__.split(".")[1]


NO_FARE = object()


@pytest.mark.parametrize(
    "fare",
    [
        NO_FARE,
        None,
        "12500",
        [12500, "eur"],
        {},
        {"currency": "eur"},
        {"amount": 12500},
        {"amount": 0, "currency": "eur"},
        {"amount": -100, "currency": "eur"},
        {"amount": True, "currency": "eur"},
        {"amount": 125.0, "currency": "eur"},
        {"amount": "12500", "currency": "eur"},
        {"amount": 100_000_001, "currency": "eur"},
        {"amount": 12500, "currency": None},
        {"amount": 12500, "currency": "eu"},
        {"amount": 12500, "currency": "euro"},
        {"amount": 12500, "currency": "e1r"},
        {"amount": 12500, "currency": "ÉUR"},
        {"amount": 12500, "currency": "eur\n"},
    ],
)
def test_no_valid_fare_is_a_final_fare_unavailable_without_http_call(
    session: FakeSession, fare: object, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a state whose fare is missing (no key at all, or null) or unusable
    state: dict[str, Any] = {key: value for key, value in BOOKING_STATE.items() if key != "fare"}
    if fare is not NO_FARE:
        state["fare"] = fare
    # When Collect runs / Then it refuses before any call: the price is the server's, never the whole hold
    with pytest.raises(errors.FareUnavailable, match="fare") as raised:
        invoke(collect_handler, state)
    assert raised.value.retryable is False
    assert session.calls == []
    # And it counts as a payment that did not happen, not as a malformed request
    (metric,) = emf_metrics(capsys.readouterr().out)
    assert metric["FailedPayment"] == [1.0]
    assert "InvalidPaymentRequest" not in metric


@pytest.mark.parametrize(("amount", "currency"), [(1, "EUR"), (100_000_000, "jpy"), (42000, "Usd")])
def test_any_positive_fare_up_to_the_limit_is_sent_with_a_lower_case_currency(
    session: FakeSession, amount: int, currency: str
) -> None:
    session.answers.append(response(200, CAPTURED))
    invoke(collect_handler, {**BOOKING_STATE, "fare": {"amount": amount, "currency": currency}})
    body = json.loads(session.calls[0]["data"])
    assert (body["amount"], body["currency"]) == (amount, currency.lower())
    # The key stays per charge: a retry of the same booking replays the same capture
    assert session.calls[0]["headers"]["Idempotency-Key"] == "booking-collect-ch_1AbC"


@pytest.mark.parametrize("error_class", [errors.HoldBelowFare, errors.CurrencyMismatch, errors.FareUnavailable])
def test_fare_errors_are_final_and_not_conflicts(error_class: type[errors.PaymentError]) -> None:
    # Refund treats PaymentConflict as "nothing owed"; a fare error means the hold is still there to release
    assert error_class.retryable is False
    assert not issubclass(error_class, (errors.PaymentConflict, errors.InvalidPaymentRequest))


def raised_by(
    session: FakeSession, answer: FakeResponse | Exception, capsys: pytest.CaptureFixture[str]
) -> errors.PaymentError:
    """What Collect raises when the payment API answers ``answer``, after checking the message and the metric."""
    session.answers.append(answer)
    with pytest.raises(errors.PaymentError) as raised:
        invoke(collect_handler, BOOKING_STATE)
    # The message says what happened, never empty
    assert str(raised.value)
    (metric,) = emf_metrics(capsys.readouterr().out)
    invalid = type(raised.value) is errors.InvalidPaymentRequest
    assert metric["InvalidPaymentRequest" if invalid else "FailedPayment"] == [1.0]
    return raised.value


@pytest.mark.parametrize(
    ("answer", "error_class"),
    [
        (response(400, {"message": "bad", "code": "invalid_chargeId"}), errors.InvalidPaymentRequest),
        (response(402, {"message": "declined", "code": "card_declined"}), errors.PaymentDeclined),
        (response(403, {"message": "Missing Authentication Token"}), errors.PaymentForbidden),
        (response(404, {"message": "no payment", "code": "payment_not_found"}), errors.PaymentNotFound),
        (response(409, {"message": "done", "code": "already_refunded"}), errors.PaymentConflict),
        (response(409, {"message": "hold too small", "code": "amount_exceeds_hold"}), errors.HoldBelowFare),
        (response(409, {"message": "not EUR", "code": "currency_mismatch"}), errors.CurrencyMismatch),
        (response(409, {"message": "?", "code": "something_new"}), errors.PaymentConflict),
        (response(422, {"message": "?"}), errors.InvalidPaymentRequest),
        (response(200, {"unexpected": True}), errors.UnexpectedPaymentResponse),
        (response(200, b"not json"), errors.UnexpectedPaymentResponse),
        (response(200, {"capturedCharge": {"amount": "12500"}}), errors.UnexpectedPaymentResponse),
        (
            response(200, {"capturedCharge": {"amount_captured": None, "amount": 12500}}),
            errors.UnexpectedPaymentResponse,
        ),
        (response(200, {"capturedCharge": {"amount_captured": True}}), errors.UnexpectedPaymentResponse),
    ],
)
def test_final_answers_map_to_typed_final_errors(
    session: FakeSession,
    answer: FakeResponse,
    error_class: type[errors.PaymentError],
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = raised_by(session, answer, capsys)
    # The class name is the workflow's error name
    assert type(error) is error_class
    assert error.retryable is False


@pytest.mark.parametrize(
    "answer",
    [
        response(409, {"message": "busy", "code": "request_in_progress"}),
        response(429, {"message": "slow down", "code": "throttled"}),
        response(500, {"message": "internal error", "code": "internal_error"}),
        response(502, {"message": "provider", "code": "provider_error"}),
        response(503, b"<html>unavailable</html>"),
        response(504, {"message": "timeout", "code": "provider_timeout"}),
        ConnectTimeoutError(endpoint_url="https://api.example"),
        ReadTimeoutError(endpoint_url="https://api.example"),
        EndpointConnectionError(endpoint_url="https://api.example"),
    ],
)
def test_busy_failing_and_unreachable_answers_are_retryable(
    session: FakeSession, answer: FakeResponse | Exception, capsys: pytest.CaptureFixture[str]
) -> None:
    error = raised_by(session, answer, capsys)
    assert type(error) is errors.PaymentServiceUnavailable
    assert error.retryable is True


def test_success_metric_and_booking_context_on_every_log_line(
    session: FakeSession, capsys: pytest.CaptureFixture[str], logs: io.StringIO
) -> None:
    session.answers.append(response(200, REFUNDED))
    invoke(refund_handler, BOOKING_STATE)
    (metric,) = emf_metrics(capsys.readouterr().out)
    assert metric["SuccessfulPayment"] == [1.0]
    assert metric["operation"] == "refund"
    assert metric["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ServerlessAirline"
    lines = log_lines(logs.getvalue())
    assert lines
    for line in lines:
        assert line["customer_id"] == "cus-42"
        assert line["booking_id"] == "bk-9"
        assert line["charge_id"] == "ch_1AbC"
        assert line["outbound_flight_id"] == "fl-123"
        assert line["state_machine_execution_id"] == "exec-0001"
        assert "testing" not in json.dumps(line)  # no credential or signature material


def test_booking_keys_do_not_leak_into_the_next_invocation(session: FakeSession, logs: io.StringIO) -> None:
    session.answers.append(response(200, REFUNDED))
    invoke(refund_handler, BOOKING_STATE)
    logs.truncate(0)
    logs.seek(0)
    with pytest.raises(errors.InvalidPaymentRequest):
        invoke(refund_handler, {"customerId": "other"})
    lines = log_lines(logs.getvalue())
    assert lines
    for line in lines:
        assert line.get("customer_id") == "other"
        assert "charge_id" not in line


def test_cold_start_metric_is_published(
    session: FakeSession, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    session.answers.append(response(200, CAPTURED))
    monkeypatch.setattr(cold_start, "is_cold_start", True)
    invoke(collect_handler, BOOKING_STATE)
    assert '"ColdStart"' in capsys.readouterr().out


@pytest.mark.parametrize("module", [collect_handler, refund_handler])
def test_the_http_client_is_built_at_init_once_per_container(module: ModuleType) -> None:
    # Given a fresh interpreter (a new container) / When it imports the handler (the init)
    check = (
        f"import {module.__name__} as handler; "
        "assert handler.client.cache_info().currsize == 1, 'not built at init'; "
        "first = handler.client(); "
        "assert handler.client() is first and first._http is handler.client()._http"
    )
    project_root = Path(__file__).resolve().parents[3]
    completed = subprocess.run(
        [sys.executable, "-c", check], cwd=project_root, capture_output=True, text=True, check=False
    )
    # Then the client already exists before the first invocation, and every invocation shares it and its pool
    assert completed.returncode == 0, completed.stderr[-2000:]


@pytest.mark.parametrize("module", [collect_handler, refund_handler])
def test_a_snapstart_restore_builds_a_fresh_client(module: ModuleType) -> None:
    # Given the client in the snapshot
    in_snapshot = module.client()
    # When Lambda runs the after-restore hooks, in order, as it does after restoring a snapshot
    run_after_restore_hooks()
    # Then the restored environment has its own client (own connection pool, credentials resolved again), ready
    restored = module.client()
    assert module.client.cache_info().currsize == 1
    assert restored is not in_snapshot
    assert restored._http is not in_snapshot._http


# --- settings, validated once at init -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["https://abc.execute-api.eu-west-1.amazonaws.com/Prod/", "http://127.0.0.1:3000/Prod/"]
)
def test_task_settings_take_the_apis_base_url_and_the_region(url: str) -> None:
    settings = TaskSettings.from_environ({"PAYMENT_API_URL": url, "AWS_REGION": "eu-west-1"})
    assert (settings.payment_api_url, settings.region) == (url, "eu-west-1")


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"AWS_REGION": "eu-west-1"}, "PAYMENT_API_URL is not set"),
        ({"PAYMENT_API_URL": "", "AWS_REGION": "eu-west-1"}, "PAYMENT_API_URL is not set"),
        ({"PAYMENT_API_URL": "abc.execute-api.amazonaws.com/Prod/", "AWS_REGION": "eu-west-1"}, "PAYMENT_API_URL"),
        ({"PAYMENT_API_URL": "ftp://host/Prod/", "AWS_REGION": "eu-west-1"}, "PAYMENT_API_URL"),
        ({"PAYMENT_API_URL": "https:///Prod/", "AWS_REGION": "eu-west-1"}, "PAYMENT_API_URL"),
        ({"PAYMENT_API_URL": "https://host/Prod/?x=1", "AWS_REGION": "eu-west-1"}, "PAYMENT_API_URL"),
        ({"PAYMENT_API_URL": "https://host/Prod/"}, "AWS_REGION"),
    ],
)
def test_a_broken_deployment_is_refused_at_init_naming_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        TaskSettings.from_environ(environ)


def test_task_settings_made_directly_are_validated_too() -> None:
    with pytest.raises(ValueError, match="PAYMENT_API_URL must be"):
        TaskSettings(payment_api_url="https://host/Prod/#part", region="eu-west-1")
    with pytest.raises(ValueError, match="AWS_REGION"):
        TaskSettings(payment_api_url="https://host/Prod/", region="")
