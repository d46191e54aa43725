"""Stripe's webhook events read as provider events (``provider_events``): the Stripe half of the event table.

``WEBHOOK_EVENT_TYPES`` is every type the service acts on, and exactly what ``make stripe-webhook`` subscribes the
endpoint to. Field names are those of the API version the endpoint is pinned to (the SDK's). A field of the wrong
type raises ``WebhookRejected`` (a 400: Stripe never sends one, so it is not Stripe).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from lambdas.payment_api.errors import WebhookRejected
from lambdas.payment_api.ledger import Dispute, FraudWarning
from lambdas.payment_api.provider_events import (
    Captured,
    DisputeReported,
    FraudWarned,
    HoldCancelled,
    HoldExpired,
    NotAPaymentChange,
    ProviderEvent,
    Refunded,
    RefundFailed,
)

# Stripe cancels a PaymentIntent itself with these reasons when its authorisation lapses.
EXPIRY_CANCELLATION_REASONS = frozenset({"automatic", "expired"})
FAILED = "failed"


def _ids(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """The payment ids an object may be recorded under: its PaymentIntent's first, then its charge's."""
    candidates = (obj.get("payment_intent"), obj.get("charge"))
    return tuple(value for value in candidates if isinstance(value, str) and value)


def _own_ids(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """For a charge or a PaymentIntent: its PaymentIntent, then itself."""
    own = obj.get("id")
    intent = obj.get("payment_intent") if obj.get("object") == "charge" else None
    return tuple(value for value in (intent, own) if isinstance(value, str) and value)


def _int(obj: Mapping[str, Any], name: str) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise WebhookRejected(f"the event's {name} is not a non-negative integer")
    return value


def _text(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) and value else None


def _required_text(obj: Mapping[str, Any], name: str) -> str:
    value = _text(obj, name)
    if value is None:
        raise WebhookRejected(f"the event's {name} is missing")
    return value


def _time(value: object) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def _charge_expired(common: dict[str, Any], charge: Mapping[str, Any]) -> ProviderEvent:
    return HoldExpired(**common, payment_ids=_own_ids(charge))


def _intent_cancelled(common: dict[str, Any], intent: Mapping[str, Any]) -> ProviderEvent:
    reason = _text(intent, "cancellation_reason")
    if reason in EXPIRY_CANCELLATION_REASONS:
        return HoldExpired(**common, payment_ids=_own_ids(intent))
    return HoldCancelled(**common, payment_ids=_own_ids(intent), reason=reason)


def _charge_captured(common: dict[str, Any], charge: Mapping[str, Any]) -> ProviderEvent:
    return Captured(**common, payment_ids=_own_ids(charge), amount_captured=_int(charge, "amount_captured"))


def _intent_succeeded(common: dict[str, Any], intent: Mapping[str, Any]) -> ProviderEvent:
    return Captured(**common, payment_ids=_own_ids(intent), amount_captured=_int(intent, "amount_received"))


def _charge_refunded(common: dict[str, Any], charge: Mapping[str, Any]) -> ProviderEvent:
    return Refunded(
        **common,
        payment_ids=_own_ids(charge),
        amount_refunded=_int(charge, "amount_refunded"),
        captured=charge.get("captured") is True,
    )


def _refund_changed(common: dict[str, Any], refund: Mapping[str, Any]) -> ProviderEvent:
    if refund.get("status") != FAILED:
        return NotAPaymentChange(**common, payment_ids=_ids(refund), why=f"refund status {refund.get('status')}")
    return RefundFailed(
        **common,
        payment_ids=_ids(refund),
        refund_id=_required_text(refund, "id"),
        amount=_int(refund, "amount"),
        failure_reason=_text(refund, "failure_reason"),
    )


def _dispute(common: dict[str, Any], dispute: Mapping[str, Any]) -> ProviderEvent:
    evidence = dispute.get("evidence_details")
    due_by = _time(evidence.get("due_by")) if isinstance(evidence, dict) else None
    return DisputeReported(
        **common,
        payment_ids=_ids(dispute),
        dispute=Dispute(
            dispute_id=_required_text(dispute, "id"),
            amount=_int(dispute, "amount"),
            reason=_text(dispute, "reason"),
            status=_required_text(dispute, "status"),
            evidence_due_by=due_by,
        ),
    )


def _fraud_warning(common: dict[str, Any], warning: Mapping[str, Any]) -> ProviderEvent:
    return FraudWarned(
        **common,
        payment_ids=_ids(warning),
        warning=FraudWarning(
            warning_id=_required_text(warning, "id"),
            fraud_type=_text(warning, "fraud_type"),
            actionable=warning.get("actionable") is True,
        ),
    )


_READERS: Mapping[str, Callable[[dict[str, Any], Mapping[str, Any]], ProviderEvent]] = {
    "charge.expired": _charge_expired,
    "payment_intent.canceled": _intent_cancelled,
    "charge.captured": _charge_captured,
    "payment_intent.succeeded": _intent_succeeded,
    "charge.refunded": _charge_refunded,
    "refund.failed": _refund_changed,
    "charge.refund.updated": _refund_changed,
    "refund.updated": _refund_changed,
    "charge.dispute.created": _dispute,
    "charge.dispute.updated": _dispute,
    "charge.dispute.closed": _dispute,
    "radar.early_fraud_warning.created": _fraud_warning,
}
WEBHOOK_EVENT_TYPES: tuple[str, ...] = tuple(_READERS)


def provider_event(event: Mapping[str, Any]) -> ProviderEvent:
    """The provider event a verified Stripe event (``webhook_verification.verified_event``) reports."""
    common: dict[str, Any] = {
        "event_id": event["id"],
        "event_type": event["type"],
        "occurred_at": _time(event["created"]) or datetime.now(UTC),
    }
    reader = _READERS.get(event["type"])
    if reader is None:
        return NotAPaymentChange(**common, payment_ids=(), why="event type not handled")
    return reader(common, event["data"]["object"])
