"""Stripe-shaped webhook events for a payment, for the event types localstripe never sends, and their signature.

localstripe sends ``payment_intent.succeeded`` only (of the types the service handles) and has no expiry, disputes,
failed refunds or fraud warnings; ``build_event`` makes those events from what localstripe holds for the payment,
so that local mode (``make local-event``) and tests can drive the webhook as Stripe would. Builders are pure: the
payment's charge (and its PaymentIntent, refund) go in as localstripe answers them, the event comes out.

Objects carry the fields the service reads, filled as Stripe fills them (API 2025-03-31 and later: a partial
capture releases the remainder without a refund). ``amount`` overrides the amount an event moves (captured,
refunded, disputed, received); each builder says its default.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import stripe

DISPUTE_RESPONSE_DAYS = 7
DISPUTE_OUTCOMES = ("lost", "won")


class EventInputError(ValueError):
    """The payment cannot have this event (e.g. a PaymentIntent event for a charge without one, no refund)."""


def build_event(
    event_type: str,
    charge: Mapping[str, Any],
    *,
    intent: Mapping[str, Any] | None = None,
    refund: Mapping[str, Any] | None = None,
    amount: int | None = None,
    outcome: str = "lost",
    now: int | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The event of ``event_type`` for the payment whose charge is ``charge`` (its PaymentIntent: ``intent``).

    ``refund`` is the refund the ``refund.*`` events are about; ``outcome`` (lost/won) is a closed dispute's;
    ``now`` (epoch seconds) and ``event_id`` default to the clock and a random ``evt_`` id.
    Raises ``EventInputError`` for an unknown type or when the payment lacks what the event needs.
    """
    builder = _BUILDERS.get(event_type)
    if builder is None:
        raise EventInputError(f"unsupported event type {event_type!r}; supported: {', '.join(EVENT_TYPES)}")
    if outcome not in DISPUTE_OUTCOMES:
        raise EventInputError(f"a dispute's outcome is one of {', '.join(DISPUTE_OUTCOMES)}, not {outcome!r}")
    if amount is not None and amount <= 0:
        raise EventInputError("an event's amount is a positive integer in the currency's smallest unit")
    created = int(time.time()) if now is None else now
    facts = _Facts(
        event_type=event_type, charge=charge, intent=intent, refund=refund, amount=amount, outcome=outcome, now=created
    )
    return {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": stripe.api_version,
        "created": created,
        "livemode": False,
        "type": event_type,
        "data": {"object": builder(facts)},
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
    }


def signed_headers(payload: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Stripe sends with ``payload``: its ``Stripe-Signature`` (``t=<ts>,v1=<hmac>``) by ``secret``."""
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    return {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header}


@dataclass(frozen=True)
class _Facts:
    """What the builders read: the event asked for and the payment as localstripe holds it."""

    event_type: str
    charge: Mapping[str, Any]
    intent: Mapping[str, Any] | None
    refund: Mapping[str, Any] | None
    amount: int | None
    outcome: str
    now: int

    @property
    def charge_id(self) -> str:
        return str(self.charge["id"])

    @property
    def intent_id(self) -> str | None:
        if self.intent is not None:
            return str(self.intent["id"])
        linked = self.charge.get("payment_intent")
        return str(linked) if linked else None

    @property
    def currency(self) -> str:
        return str(self.charge["currency"])

    @property
    def authorized(self) -> int:
        return int(self.charge["amount"])

    @property
    def captured(self) -> int:
        """The captured amount; localstripe has no ``amount_captured`` and records a partial capture's remainder
        as a refund, so a captured charge's captured amount is its amount less its refunds (all of it when fully
        refunded)."""
        if isinstance(self.charge.get("amount_captured"), int):
            return int(self.charge["amount_captured"])
        if not self.charge.get("captured"):
            return 0
        refunded = int(self.charge.get("amount_refunded") or 0)
        return self.authorized - refunded if refunded < self.authorized else self.authorized

    def moved(self, default: int) -> int:
        return default if self.amount is None else self.amount

    def suffix(self) -> str:
        """A charge's id without its prefix: dispute and warning ids derived from it stay the same per charge."""
        return self.charge_id.removeprefix("ch_")


def _charge(facts: _Facts, *, captured: int, refunded: int, is_captured: bool) -> dict[str, Any]:
    return {
        "id": facts.charge_id,
        "object": "charge",
        "payment_intent": facts.intent_id,
        "amount": facts.authorized,
        "amount_captured": captured,
        "amount_refunded": refunded,
        "captured": is_captured,
        "refunded": refunded > 0 and refunded >= (captured if is_captured else facts.authorized),
        "currency": facts.currency,
        "status": "succeeded",
        "paid": True,
        "disputed": False,
        "created": facts.charge.get("created") or facts.now,
        "metadata": dict(facts.charge.get("metadata") or {}),
    }


def _expired_charge(facts: _Facts) -> dict[str, Any]:
    # An uncaptured charge that lapses stays "succeeded", uncaptured, and is refunded in full.
    return _charge(facts, captured=0, refunded=facts.authorized, is_captured=False)


def _captured_charge(facts: _Facts) -> dict[str, Any]:
    # Default: what localstripe captured, or the whole hold for a charge localstripe has not captured.
    return _charge(facts, captured=facts.moved(facts.captured or facts.authorized), refunded=0, is_captured=True)


def _refunded_charge(facts: _Facts) -> dict[str, Any]:
    # Default: everything captured is refunded.
    captured = facts.captured or facts.authorized
    return _charge(facts, captured=captured, refunded=facts.moved(captured), is_captured=True)


def _intent(facts: _Facts, *, status: str, received: int, reason: str | None) -> dict[str, Any]:
    if facts.intent_id is None:
        raise EventInputError(f"{facts.event_type} needs a PaymentIntent; charge {facts.charge_id} has none")
    intent = facts.intent or {}
    return {
        "id": facts.intent_id,
        "object": "payment_intent",
        "amount": int(intent.get("amount") or facts.authorized),
        "amount_received": received,
        "amount_capturable": 0,
        "currency": facts.currency,
        "status": status,
        "cancellation_reason": reason,
        "capture_method": intent.get("capture_method") or "manual",
        "latest_charge": facts.charge_id,
        "created": intent.get("created") or facts.now,
        "metadata": dict(intent.get("metadata") or {}),
    }


def _canceled_intent(facts: _Facts) -> dict[str, Any]:
    # Stripe cancels an expired hold itself: cancellation_reason "automatic".
    return _intent(facts, status="canceled", received=0, reason="automatic")


def _succeeded_intent(facts: _Facts) -> dict[str, Any]:
    # Default: what localstripe captured, or the whole hold.
    return _intent(facts, status="succeeded", received=facts.moved(facts.captured or facts.authorized), reason=None)


def _failed_refund(facts: _Facts) -> dict[str, Any]:
    if facts.refund is None:
        raise EventInputError(f"{facts.event_type} needs a refund; charge {facts.charge_id} has none (refund it first)")
    return {
        "id": str(facts.refund["id"]),
        "object": "refund",
        "amount": facts.moved(int(facts.refund["amount"])),
        "currency": str(facts.refund.get("currency") or facts.currency),
        "charge": facts.charge_id,
        "payment_intent": facts.intent_id,
        "status": "failed",
        "failure_reason": "lost_or_stolen_card",
        "created": facts.refund.get("created") or facts.now,
        "metadata": dict(facts.refund.get("metadata") or {}),
    }


_DISPUTE_STATUS = {"charge.dispute.created": "needs_response", "charge.dispute.updated": "under_review"}


def _dispute(facts: _Facts) -> dict[str, Any]:
    # Default amount: what was captured (a dispute is about money the customer paid).
    status = _DISPUTE_STATUS.get(facts.event_type, facts.outcome)
    return {
        "id": f"dp_{facts.suffix()}",
        "object": "dispute",
        "amount": facts.moved(facts.captured or facts.authorized),
        "currency": facts.currency,
        "charge": facts.charge_id,
        "payment_intent": facts.intent_id,
        "reason": "fraudulent",
        "status": status,
        "is_charge_refundable": False,
        "evidence_details": {
            "due_by": facts.now + DISPUTE_RESPONSE_DAYS * 86400,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "created": facts.now,
        "livemode": False,
        "metadata": {},
    }


def _early_fraud_warning(facts: _Facts) -> dict[str, Any]:
    return {
        "id": f"issfr_{facts.suffix()}",
        "object": "radar.early_fraud_warning",
        "charge": facts.charge_id,
        "payment_intent": facts.intent_id,
        "fraud_type": "made_with_stolen_card",
        "actionable": True,
        "created": facts.now,
        "livemode": False,
    }


_BUILDERS: dict[str, Callable[[_Facts], dict[str, Any]]] = {
    "charge.expired": _expired_charge,
    "payment_intent.canceled": _canceled_intent,
    "charge.captured": _captured_charge,
    "payment_intent.succeeded": _succeeded_intent,
    "charge.refunded": _refunded_charge,
    "refund.failed": _failed_refund,
    "charge.refund.updated": _failed_refund,
    "refund.updated": _failed_refund,
    "charge.dispute.created": _dispute,
    "charge.dispute.updated": _dispute,
    "charge.dispute.closed": _dispute,
    "radar.early_fraud_warning.created": _early_fraud_warning,
}
# Every type the payment service handles (the contract's list, in its order): the ones ``make local-event`` sends
# and local mode registers its localstripe webhook for.
EVENT_TYPES = tuple(_BUILDERS)
