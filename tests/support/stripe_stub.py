"""An offline Stripe for unit tests: a ``stripe.HTTPClient`` that answers canned JSON and records every request.

It replaces only the HTTP transport, so the real Stripe SDK still builds the requests (form encoding, the
``Idempotency-Key`` header) and turns error answers into its exception classes, exactly as against api.stripe.com.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

UNIT_STRIPE_KEY = "sk_test_unit_secret_4f9c2e"  # what the unit tests put in (moto) SSM


@dataclass(frozen=True)
class StripeCall:
    """One HTTP request the SDK sent: ``params`` are the flattened form fields (``metadata[email]``...)."""

    method: str
    path: str
    idempotency_key: str | None
    params: dict[str, str]
    api_key: str | None


@dataclass
class OfflineStripeHttp(stripe.HTTPClient):
    """A Stripe transport that opens no connection: records every request in ``calls`` and lets ``answer`` say what
    Stripe would reply. Subclasses implement ``answer``. Nothing here streams (``request_stream`` is left to
    ``stripe.HTTPClient``'s, which raises ``NotImplementedError``)."""

    name = "offline-stripe"
    calls: list[StripeCall] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        split = urlsplit(url)
        form = post_data if isinstance(post_data, str) and post_data else split.query
        sent = dict(headers or {})
        call = StripeCall(
            method=method.upper(),
            path=split.path,
            idempotency_key=sent.get("Idempotency-Key"),
            params=dict(parse_qsl(form)),
            api_key=sent.get("Authorization", "").removeprefix("Bearer ") or None,
        )
        self.calls.append(call)
        status, body, answer_headers = self.answer(call)
        return json.dumps(body), status, {"request-id": f"req_fake_{len(self.calls)}", **answer_headers}

    def answer(self, call: StripeCall) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, JSON body, extra headers) for ``call``; raise to fail the request as the network would."""
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to close: no connection is ever opened."""

    def posts(self) -> list[StripeCall]:
        """The requests that change something at Stripe (its reads are GETs)."""
        return [call for call in self.calls if call.method == "POST"]


@dataclass
class FakeStripeHttp(OfflineStripeHttp):
    """Answers ``routes[(METHOD, path)]``: a ``(status, JSON body)`` pair, or an exception to raise.

    A request without a route gets Stripe's 404 ``resource_missing`` answer.
    """

    name = "fake-stripe"
    routes: dict[tuple[str, str], tuple[int, dict[str, Any]] | Exception] = field(default_factory=dict)
    timeouts: list[object] = field(default_factory=list)  # what each client built on this transport was given
    # Routes answered as Stripe answers a repeated Idempotency-Key: the first answer, marked Idempotent-Replayed.
    replayed: set[tuple[str, str]] = field(default_factory=set)

    def answer(self, call: StripeCall) -> tuple[int, dict[str, Any], dict[str, str]]:
        answer = self.routes.get((call.method, call.path))
        if isinstance(answer, Exception):
            raise answer
        status, body = answer or stripe_error(404, "invalid_request_error", "resource_missing", "No such object")
        headers = {"Idempotent-Replayed": "true"} if (call.method, call.path) in self.replayed else {}
        return status, body, headers


def stripe_error(
    status: int, error_type: str, code: str | None, message: str, *, decline_code: str | None = None
) -> tuple[int, dict[str, Any]]:
    error: dict[str, Any] = {"type": error_type, "message": message}
    if code is not None:
        error["code"] = code
    if decline_code is not None:
        error["decline_code"] = decline_code
    return status, {"error": error}


def charge_object(
    charge_id: str = "ch_stub1",
    *,
    amount: int = 12500,
    currency: str = "eur",
    captured: bool = False,
    refunded: bool = False,
    amount_refunded: int = 0,
    email: str | None = "jane@example.com",
) -> dict[str, Any]:
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if captured else 0,
        "amount_refunded": amount_refunded,
        "currency": currency,
        "status": "succeeded",
        "captured": captured,
        "refunded": refunded,
        "paid": True,
        "receipt_url": f"https://pay.stripe.com/receipts/{charge_id}" if captured else None,
        "metadata": {"email": email} if email else {},
        "description": "Flight booking",
        "created": 1_700_000_000,
    }


def intent_object(
    intent_id: str = "pi_stub1", *, status: str, amount: int = 5000, currency: str = "usd"
) -> dict[str, Any]:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": amount if status == "requires_capture" else 0,
        "amount_received": amount if status == "succeeded" else 0,
        "currency": currency,
        "status": status,
        "client_secret": f"{intent_id}_secret_stub",
        "metadata": {},
        "created": 1_700_000_000,
        "latest_charge": None,
    }


def refund_object(refund_id: str = "re_stub1", *, charge_id: str = "ch_stub1", amount: int = 12500) -> dict[str, Any]:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "charge": charge_id,
        "currency": "eur",
        "status": "succeeded",
    }
