"""A canned HTTP server on 127.0.0.1 standing in for Stripe and for the payment API (HTTP/1.1, keep-alive).

Run as ``python -m benchmarks.stub_server``: it binds a free port, prints it on the first line of stdout and serves
until terminated. It keeps no state: every answer is made from the request alone. Answers:

- Stripe, every call the API's adapter (``lambdas/payment_api/stripe_provider.py``) makes: ``POST /v1/charges``
  (an uncaptured Charge), ``POST /v1/payment_intents`` (a confirmed manual-capture PaymentIntent,
  ``requires_capture``), ``GET /v1/charges/<id>`` and ``GET /v1/payment_intents/<id>`` (an uncaptured hold),
  ``POST /v1/charges/<id>/capture`` and ``POST /v1/payment_intents/<id>/capture`` (captured, for the ``amount`` /
  ``amount_to_capture`` asked, else the whole 12500), ``POST /v1/payment_intents/<id>/cancel`` (cancelled) and
  ``POST /v1/refunds`` (a Refund of the ``charge`` or ``payment_intent`` for ``amount``, else the whole 12500);
- ``POST .../capture``, ``POST .../refund`` (payment API): ``{"capturedCharge"}`` / ``{"createdRefund"}``;
- ``GET /__stats``: for every request served so far, in order, the client port of its connection (``ports``: one
  port = one TCP connection, so a client can tell how many connections its requests used) and its method and path
  (``requests``, e.g. ``"POST /v1/refunds"``, so a client can count the calls an operation made). Stats requests
  are not counted.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

HOLD_AMOUNT = 12500
_ID = r"(?P<id>[A-Za-z0-9_]+)"
_CHARGE = re.compile(rf"/v1/charges/{_ID}")
_CHARGE_CAPTURE = re.compile(rf"/v1/charges/{_ID}/capture")
_INTENT = re.compile(rf"/v1/payment_intents/{_ID}")
_INTENT_CAPTURE = re.compile(rf"/v1/payment_intents/{_ID}/capture")
_INTENT_CANCEL = re.compile(rf"/v1/payment_intents/{_ID}/cancel")


def stripe_charge(charge_id: str, *, captured: bool, amount_captured: int | None = None) -> dict[str, Any]:
    """A Charge shaped like Stripe's (2024+ API), so the SDK parses as much as it does in production."""
    amount = HOLD_AMOUNT
    if amount_captured is None:
        amount_captured = amount if captured else 0
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount_captured,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": "txn_3Benchmark0000000" if captured else None,
        "billing_details": {
            "address": {
                "city": None,
                "country": None,
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": None,
            },
            "email": None,
            "name": None,
            "phone": None,
        },
        "calculated_statement_descriptor": "AIRLINE",
        "captured": captured,
        "created": 1_767_225_600,
        "currency": "eur",
        "customer": None,
        "description": "Flight booking",
        "disputed": False,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": {"email": "jane@example.com"},
        "on_behalf_of": None,
        "outcome": {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 32,
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "paid": True,
        "payment_intent": None,
        "payment_method": "card_1Benchmark000000000000",
        "payment_method_details": {
            "card": {
                "amount_authorized": amount,
                "brand": "visa",
                "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
                "country": "US",
                "exp_month": 12,
                "exp_year": 2030,
                "fingerprint": "BenchFingerprint",
                "funding": "credit",
                "last4": "4242",
                "network": "visa",
                "three_d_secure": None,
                "wallet": None,
            },
            "type": "card",
        },
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{charge_id}" if captured else None,
        "refunded": False,
        "refunds": {"object": "list", "data": [], "has_more": False, "total_count": 0, "url": "/v1/refunds"},
        "review": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }


def stripe_intent(intent_id: str, *, status: str, amount_received: int = 0) -> dict[str, Any]:
    """A manual-capture PaymentIntent shaped like Stripe's; ``latest_charge`` expanded, as the adapter asks."""
    captured = status == "succeeded"
    charge_id = f"ch_{intent_id.removeprefix('pi_')}"
    charge = stripe_charge(charge_id, captured=captured, amount_captured=amount_received if captured else 0)
    charge["payment_intent"] = intent_id
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": HOLD_AMOUNT,
        "amount_capturable": 0 if status in {"succeeded", "canceled"} else HOLD_AMOUNT,
        "amount_received": amount_received,
        "automatic_payment_methods": None,
        "canceled_at": 1_767_225_900 if status == "canceled" else None,
        "cancellation_reason": "requested_by_customer" if status == "canceled" else None,
        "capture_method": "manual",
        "client_secret": f"{intent_id}_secret_benchmark",
        "confirmation_method": "automatic",
        "created": 1_767_225_600,
        "currency": "eur",
        "customer": None,
        "description": None,
        "last_payment_error": None,
        "latest_charge": charge,
        "livemode": False,
        "metadata": {"email": "jane@example.com", "description": "Flight booking"},
        "next_action": None,
        "payment_method": "pm_1Benchmark000000000000",
        "payment_method_types": ["card"],
        "receipt_email": None,
        "status": status,
    }


def stripe_refund(params: dict[str, str]) -> dict[str, Any]:
    """A Refund of the ``charge`` or ``payment_intent`` named, for ``amount`` (else the whole hold)."""
    target = params.get("charge") or params.get("payment_intent") or "ch_unknown"
    return {
        "id": _new_id("re"),
        "object": "refund",
        "amount": _amount(params, "amount"),
        "balance_transaction": "txn_3Benchmark0000001",
        "charge": target if target.startswith("ch_") else f"ch_{target.removeprefix('pi_')}",
        "created": 1_767_225_900,
        "currency": "eur",
        "metadata": {},
        "payment_intent": target if target.startswith("pi_") else None,
        "reason": None,
        "status": "succeeded",
    }


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


StripeRoute = Callable[[re.Match[str], dict[str, str]], dict[str, Any]]
# (method, path pattern, answer): every call ``lambdas/payment_api/stripe_provider.py`` makes.
_STRIPE_ROUTES: tuple[tuple[str, re.Pattern[str], StripeRoute], ...] = (
    ("GET", _CHARGE, lambda match, _params: stripe_charge(match["id"], captured=False)),
    ("GET", _INTENT, lambda match, _params: stripe_intent(match["id"], status="requires_capture")),
    ("POST", re.compile("/v1/charges"), lambda _match, _params: stripe_charge(_new_id("ch"), captured=False)),
    (
        "POST",
        re.compile("/v1/payment_intents"),
        lambda _match, _params: stripe_intent(_new_id("pi"), status="requires_capture"),
    ),
    ("POST", re.compile("/v1/refunds"), lambda _match, params: stripe_refund(params)),
    (
        "POST",
        _CHARGE_CAPTURE,
        lambda match, params: stripe_charge(match["id"], captured=True, amount_captured=_amount(params, "amount")),
    ),
    (
        "POST",
        _INTENT_CAPTURE,
        lambda match, params: stripe_intent(
            match["id"], status="succeeded", amount_received=_amount(params, "amount_to_capture")
        ),
    ),
    ("POST", _INTENT_CANCEL, lambda match, _params: stripe_intent(match["id"], status="canceled")),
)


def stripe_answer(method: str, path: str, params: dict[str, str]) -> dict[str, Any] | None:
    """Stripe's answer to one of the adapter's calls, or ``None`` for a route Stripe would not know."""
    for route_method, pattern, answer in _STRIPE_ROUTES:
        if method == route_method and (match := pattern.fullmatch(path)):
            return answer(match, params)
    return None


def _amount(params: dict[str, str], name: str) -> int:
    value = params.get(name, "")
    return int(value) if value.isdigit() else HOLD_AMOUNT


def form_params(raw: bytes, query: str) -> dict[str, str]:
    """Stripe's form-encoded parameters (body and query string), first value of each."""
    parsed = parse_qs(query) | parse_qs(raw.decode(errors="replace"))
    return {name: values[0] for name, values in parsed.items()}


def api_answer(path: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """The payment API's 200 answers, as ``lambdas.payment_api.service`` shapes them."""
    charge_id = str(body.get("chargeId") or "ch_unknown")
    if path.endswith("/capture"):
        amount = body.get("amount")
        captured = amount if isinstance(amount, int) else HOLD_AMOUNT
        return {
            "capturedCharge": {
                "id": charge_id,
                "object": "charge",
                "amount": HOLD_AMOUNT,
                "amount_captured": captured,
                "amount_refunded": 0,
                "currency": "eur",
                "status": "succeeded",
                "captured": True,
                "refunded": False,
                "receipt_url": f"https://pay.stripe.com/receipts/payment/{charge_id}",
                "email": "jane@example.com",
                "description": "Flight booking",
                "created": 1_767_225_600,
                "requires_action": False,
            }
        }
    if path.endswith("/refund"):
        return {
            "createdRefund": {
                "id": f"re_{charge_id[3:]}",
                "object": "refund",
                "kind": "refund",
                "charge": charge_id,
                "amount": HOLD_AMOUNT,
                "currency": "eur",
                "status": "succeeded",
            }
        }
    return None


class StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway and Stripe offer
    timeout = 60  # an idle connection's thread ends after this
    # Headers and body leave in one write, without Nagle: no 40 ms delayed-ACK stall per answer.
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024  # flushed once per answer by handle_one_request
    server: StubServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: logging would only slow the stub down."""

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/__stats":
            with self.server.lock:
                stats = {"ports": list(self.server.request_ports), "requests": list(self.server.requests)}
            self._send(200, stats, count=False)
            return
        self._answer_stripe(path, form_params(b"", query))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        if path.startswith("/v1/"):
            self._answer_stripe(path, form_params(raw, query))
            return
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        answer = api_answer(path, body if isinstance(body, dict) else {})
        if answer is None:
            self._send(404, {"message": "no such route", "code": "not_found"})
        else:
            self._send(200, answer)

    def _answer_stripe(self, path: str, params: dict[str, str]) -> None:
        answer = stripe_answer(self.command, path, params)
        if answer is None:
            self._send(404, {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}})
        else:
            self._send(200, answer)

    def _send(self, status: int, payload: dict[str, Any], *, count: bool = True) -> None:
        if count:
            with self.server.lock:
                self.server.request_ports.append(self.client_address[1])
                self.server.requests.append(f"{self.command} {self.path.partition('?')[0]}")
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", "req_benchmark")
        self.end_headers()
        self.wfile.write(data)


class StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), StubHandler)
        self.lock = threading.Lock()
        self.request_ports: list[int] = []
        self.requests: list[str] = []  # "METHOD path" of each counted request, in the order of request_ports


def main() -> None:
    server = StubServer()
    sys.stdout.write(f"{server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
