"""Stripe-shaped webhook events for tests: the fields the service reads, as Stripe's current API version sends them,
signed as Stripe signs them (the stripe SDK's own ``generate_signature_header``)."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import stripe

WEBHOOK_SECRET = "whsec_unit_test_secret"
OTHER_SECRET = "whsec_unit_other_secret"
_numbers = itertools.count(1)


def event(
    event_type: str, obj: dict[str, Any], *, event_id: str | None = None, created: int | None = None
) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_unit{next(_numbers)}",
        "object": "event",
        "api_version": stripe.api_version,
        "created": created or int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": obj},
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
    }


def charge(
    charge_id: str, *, amount: int = 12500, captured: int = 0, refunded: int = 0, intent: str | None = None
) -> dict[str, Any]:
    return {
        "id": charge_id,
        "object": "charge",
        "payment_intent": intent,
        "amount": amount,
        "amount_captured": captured,
        "amount_refunded": refunded,
        "captured": captured > 0,
        "refunded": refunded > 0 and refunded >= (captured or amount),
        "currency": "eur",
        "status": "succeeded",
    }


def intent(
    intent_id: str, *, amount: int = 12500, received: int = 0, status: str = "succeeded", reason: str | None = None
) -> dict[str, Any]:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": received,
        "amount_capturable": 0,
        "currency": "eur",
        "status": status,
        "cancellation_reason": reason,
        "latest_charge": f"ch_of_{intent_id}",
    }


def refund(refund_id: str, charge_id: str, *, amount: int, status: str = "failed") -> dict[str, Any]:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "currency": "eur",
        "charge": charge_id,
        "payment_intent": None,
        "status": status,
        "failure_reason": "lost_or_stolen_card" if status == "failed" else None,
    }


def dispute(
    charge_id: str, *, status: str = "needs_response", amount: int = 12500, due_by: int = 1_900_000_000
) -> dict[str, Any]:
    return {
        "id": f"dp_{charge_id}",
        "object": "dispute",
        "amount": amount,
        "currency": "eur",
        "charge": charge_id,
        "payment_intent": None,
        "reason": "fraudulent",
        "status": status,
        "evidence_details": {"due_by": due_by, "has_evidence": False, "past_due": False, "submission_count": 0},
    }


def fraud_warning(charge_id: str) -> dict[str, Any]:
    return {
        "id": f"issfr_{charge_id}",
        "object": "radar.early_fraud_warning",
        "charge": charge_id,
        "payment_intent": None,
        "fraud_type": "made_with_stolen_card",
        "actionable": True,
    }


def payload(stripe_event: dict[str, Any]) -> str:
    return json.dumps(stripe_event)


def signature(body: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    return str(stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp))


def signed_headers(body: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> dict[str, str]:
    return {"Stripe-Signature": signature(body, secret=secret, timestamp=timestamp)}
