"""Collect and Refund, offline: input validation, signing, answer mapping, typed errors, metrics and logging."""

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
from lambdas.shared.payment_api_client import PaymentApiClient
from lambdas.shared.payment_errors import (
    InvalidPaymentRequest,
    PaymentConflict,
    PaymentDeclined,
    PaymentError,
    PaymentForbidden,
    PaymentNotFound,
    PaymentServiceUnavailable,
    UnexpectedPaymentResponse,
)
from tests.api_events import FakeLambdaContext
from tests.snapstart_support import run_after_restore_hooks

OLD_BOOKING_STATE = {
    "outboundFlightId": "fl-123",
    "customerId": "cus-42",
    "chargeId": "ch_1AbC",
    "name": "exec-0001",
    "createdAt": "2019-08-01T10:00:00Z",
    "bookingId": "bk-9",
}
CAPTURED = {"capturedCharge": {"id": "ch_1AbC", "amount": 12500, "receipt_url": "https://pay.example/r/1"}}
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


def test_old_booking_state_collects_receipt_and_price(session: FakeSession) -> None:
    # Given the API captures the charge
    session.answers.append(response(200, CAPTURED))
    # When Collect runs on the old state machine's state
    result = invoke(collect_handler, OLD_BOOKING_STATE)
    # Then it returns the old contract and made one signed, idempotent call to /capture
    assert result == {"receiptUrl": "https://pay.example/r/1", "price": 12500}
    (call,) = session.calls
    assert call["url"] == "https://api.example/Prod/capture"
    assert json.loads(call["data"]) == {"chargeId": "ch_1AbC"}
    headers = call["headers"]
    assert headers["Idempotency-Key"] == "booking-collect-ch_1AbC"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]
    assert "X-Amz-Date" in headers


def test_old_booking_state_refunds(session: FakeSession) -> None:
    session.answers.append(response(200, REFUNDED))
    assert invoke(refund_handler, OLD_BOOKING_STATE) == {"refundId": "re_77"}
    assert session.calls[0]["url"] == "https://api.example/Prod/refund"
    assert session.calls[0]["headers"]["Idempotency-Key"] == "booking-refund-ch_1AbC"


def test_a_capture_without_receipt_url_still_answers(session: FakeSession) -> None:
    session.answers.append(response(200, {"capturedCharge": {"amount": 500, "receipt_url": None}}))
    assert invoke(collect_handler, OLD_BOOKING_STATE) == {"receiptUrl": None, "price": 500}


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
    with pytest.raises(InvalidPaymentRequest, match=r"chargeId|booking state") as raised:
        invoke(module, state)
    assert raised.value.retryable is False
    assert session.calls == []
    (metric,) = emf_metrics(capsys.readouterr().out)
    assert metric["InvalidPaymentRequest"] == [1.0]
    assert metric["operation"] == module.__name__.split(".")[1]


@pytest.mark.parametrize(
    ("answer", "error_class", "retryable"),
    [
        (response(400, {"message": "bad", "code": "invalid_chargeId"}), InvalidPaymentRequest, False),
        (response(402, {"message": "declined", "code": "card_declined"}), PaymentDeclined, False),
        (response(403, {"message": "Missing Authentication Token"}), PaymentForbidden, False),
        (response(404, {"message": "no payment", "code": "payment_not_found"}), PaymentNotFound, False),
        (response(409, {"message": "done", "code": "already_refunded"}), PaymentConflict, False),
        (response(409, {"message": "busy", "code": "request_in_progress"}), PaymentServiceUnavailable, True),
        (response(422, {"message": "?"}), InvalidPaymentRequest, False),
        (response(429, {"message": "slow down", "code": "throttled"}), PaymentServiceUnavailable, True),
        (response(500, {"message": "internal error", "code": "internal_error"}), PaymentServiceUnavailable, True),
        (response(502, {"message": "provider", "code": "provider_error"}), PaymentServiceUnavailable, True),
        (response(503, b"<html>unavailable</html>"), PaymentServiceUnavailable, True),
        (response(504, {"message": "timeout", "code": "provider_timeout"}), PaymentServiceUnavailable, True),
        (response(200, {"unexpected": True}), UnexpectedPaymentResponse, False),
        (response(200, b"not json"), UnexpectedPaymentResponse, False),
        (response(200, {"capturedCharge": {"amount": "12500"}}), UnexpectedPaymentResponse, False),
        (ConnectTimeoutError(endpoint_url="https://api.example"), PaymentServiceUnavailable, True),
        (ReadTimeoutError(endpoint_url="https://api.example"), PaymentServiceUnavailable, True),
        (EndpointConnectionError(endpoint_url="https://api.example"), PaymentServiceUnavailable, True),
    ],
)
def test_answers_map_to_typed_errors(
    session: FakeSession,
    answer: FakeResponse | Exception,
    error_class: type[PaymentError],
    retryable: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    session.answers.append(answer)
    with pytest.raises(error_class) as raised:
        invoke(collect_handler, OLD_BOOKING_STATE)
    # The class name is the workflow's error name; the message says what happened, never empty
    assert type(raised.value) is error_class
    assert raised.value.retryable is retryable
    assert str(raised.value)
    (metric,) = emf_metrics(capsys.readouterr().out)
    expected = "InvalidPaymentRequest" if error_class is InvalidPaymentRequest else "FailedPayment"
    assert metric[expected] == [1.0]


def test_success_metric_and_booking_context_on_every_log_line(
    session: FakeSession, capsys: pytest.CaptureFixture[str], logs: io.StringIO
) -> None:
    session.answers.append(response(200, REFUNDED))
    invoke(refund_handler, OLD_BOOKING_STATE)
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
    invoke(refund_handler, OLD_BOOKING_STATE)
    logs.truncate(0)
    logs.seek(0)
    with pytest.raises(InvalidPaymentRequest):
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
    invoke(collect_handler, OLD_BOOKING_STATE)
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
