"""Faults below the service, with the real handlers: Stripe unreachable, slower than the timeout, answering 500 or
429; the payment API slower than Collect's timeout. Each ends in its designed error within its time budget."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import boto3
import pytest

from lambdas.collect import handler as collect_handler
from lambdas.shared.payment_errors import PaymentServiceUnavailable
from tests.fixtures.payment_api import TEST_STRIPE_KEY, ApiClient
from tests.support.api_events import FakeLambdaContext

READ_TIMEOUT = 0.5
SLOWER_THAN_TIMEOUT = 3.0
# The handler's own work around the provider call (idempotency store, SSM via moto) stays well below this.
OVERHEAD_BUDGET = 1.5


class FaultyServer:
    """An HTTP server on 127.0.0.1 that answers every request with one fault: a status, or silence."""

    def __init__(self) -> None:
        self.mode = "500"
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                server.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if server.mode == "slow":
                    time.sleep(SLOWER_THAN_TIMEOUT)
                status = {"500": 500, "429": 429, "slow": 200}[server.mode]
                kind = "rate_limit_error" if status == 429 else "api_error"
                body = json.dumps({"error": {"type": kind, "message": "injected fault"}}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first, as it should

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def faulty() -> Iterator[FaultyServer]:
    server = FaultyServer()
    yield server
    server.stop()


@pytest.fixture
def api_on(api_module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The real handler with its Stripe URL pointed at ``url`` and a short read timeout."""
    boto3.client("ssm").put_parameter(
        Name="/test/service/payment/stripe/secretKey", Value=TEST_STRIPE_KEY, Type="SecureString"
    )
    monkeypatch.setattr("lambdas.payment_api.wiring.STRIPE_READ_TIMEOUT_SECONDS", READ_TIMEOUT)

    def point_at(url: str) -> ApiClient:
        from dataclasses import replace  # noqa: PLC0415

        monkeypatch.setattr(api_module, "settings", replace(api_module.settings, stripe_api_base=url))
        api_module.payment_service.cache_clear()
        return ApiClient(api_module)

    return point_at


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [("500", 502, "provider_error"), ("429", 429, "provider_rate_limited"), ("slow", 504, "provider_timeout")],
)
def test_stripe_faults_get_their_designed_answer_in_time(
    api_on: Any, faulty: FaultyServer, mode: str, status: int, code: str
) -> None:
    faulty.mode = mode
    api = api_on(faulty.url)
    started = time.monotonic()
    answer_status, _, body = api.post("/capture", {"chargeId": "ch_fault1"})
    elapsed = time.monotonic() - started
    assert (answer_status, body["code"]) == (status, code), body
    assert "injected" not in body["message"]  # provider internals stay inside
    assert elapsed < READ_TIMEOUT + OVERHEAD_BUDGET, f"{mode}: answered after {elapsed:.2f} s"
    assert faulty.requests == 1  # no SDK retries: the caller decides, with the same idempotency key


def test_stripe_unreachable_is_a_fast_502(api_on: Any) -> None:
    api = api_on("http://127.0.0.1:9")  # the discard port: nothing listens
    started = time.monotonic()
    status, _, body = api.post("/capture", {"chargeId": "ch_fault2"})
    assert (status, body["code"]) == (502, "provider_error")
    assert time.monotonic() - started < OVERHEAD_BUDGET


def test_collect_gives_up_on_a_slow_payment_api_within_its_timeout(
    faulty: FaultyServer, monkeypatch: pytest.MonkeyPatch, aws: None
) -> None:
    faulty.mode = "slow"
    monkeypatch.setenv("PAYMENT_API_URL", f"{faulty.url}/Prod/")
    monkeypatch.setattr("lambdas.shared.payment_task.READ_TIMEOUT_SECONDS", READ_TIMEOUT)
    collect_handler.client.cache_clear()
    try:
        started = time.monotonic()
        with pytest.raises(PaymentServiceUnavailable) as raised:
            collect_handler.handler(
                {"chargeId": "ch_slow1", "customerId": "c", "fare": {"amount": 12500, "currency": "eur"}},
                FakeLambdaContext(),
            )
        assert time.monotonic() - started < READ_TIMEOUT + OVERHEAD_BUDGET
        assert raised.value.retryable is True
    finally:
        collect_handler.client.cache_clear()
