"""A canned HTTP server on 127.0.0.1 standing in for Stripe and for the payment API (HTTP/1.1, keep-alive).

Run as ``python -m benchmarks.stub_server``: it binds a free port, prints it on the first line of stdout and serves
until terminated. Answers:

- ``GET /v1/charges/<id>`` and ``POST /v1/charges/<id>/capture``: a Stripe Charge (uncaptured / captured);
- ``POST .../capture``, ``POST .../refund`` (payment API): ``{"capturedCharge"}`` / ``{"createdRefund"}``;
- ``GET /__stats``: for every request served so far, the client port of its connection (one port = one TCP
  connection), so a client can tell how many connections its requests used. Stats requests are not counted.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_STRIPE_CHARGE = re.compile(r"/v1/charges/(?P<id>[A-Za-z0-9_]+)(?P<capture>/capture)?")


def stripe_charge(charge_id: str, *, captured: bool) -> dict[str, Any]:
    """A Charge shaped like Stripe's (2024+ API), so the SDK parses as much as it does in production."""
    amount = 12500
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if captured else 0,
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


def api_answer(path: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """The payment API's 200 answers, as ``lambdas.payment_api.service`` shapes them."""
    charge_id = str(body.get("chargeId") or "ch_unknown")
    if path.endswith("/capture"):
        return {
            "capturedCharge": {
                "id": charge_id,
                "object": "charge",
                "amount": 12500,
                "amount_captured": 12500,
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
                "amount": 12500,
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
        path = self.path.split("?", 1)[0]
        if path == "/__stats":
            with self.server.lock:
                ports = list(self.server.request_ports)
            self._send(200, {"ports": ports}, count=False)
            return
        match = _STRIPE_CHARGE.fullmatch(path)
        if match and not match["capture"]:
            self._send(200, stripe_charge(match["id"], captured=False))
        else:
            self._send(404, {"error": {"type": "invalid_request_error", "message": "No such object"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        match = _STRIPE_CHARGE.fullmatch(path)
        if match and match["capture"]:
            self._send(200, stripe_charge(match["id"], captured=True))
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

    def _send(self, status: int, payload: dict[str, Any], *, count: bool = True) -> None:
        if count:
            with self.server.lock:
                self.server.request_ports.append(self.client_address[1])
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


def main() -> None:
    server = StubServer()
    sys.stdout.write(f"{server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
