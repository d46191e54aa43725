"""What a provider's view of a payment means in ledger terms: its status, and the record or correction it implies."""

from __future__ import annotations

from datetime import UTC, datetime

from lambdas.payment_api.domain import Payment
from lambdas.payment_api.ledger import EntrySource, NewPayment, PaymentRecord, PaymentStatus, Transition

# PaymentIntent states in which the card holds nothing yet but may still be confirmed (3-D Secure, a new card).
_AWAITING_CUSTOMER = frozenset({"requires_action", "requires_payment_method", "requires_confirmation"})
# Stripe cancels a PaymentIntent itself when its authorisation lapses.
_LAPSED_CANCELLATIONS = frozenset({"automatic", "expired"})


def ledger_status(payment: Payment) -> PaymentStatus | None:
    """The ledger status of ``payment``; ``None`` for a payment that never held money (a failed charge)."""
    if payment.object == "payment_intent" and not payment.captured:
        return _uncaptured_intent_status(payment)
    if payment.status == "failed":
        return None
    if not payment.captured:
        return PaymentStatus.RELEASED if payment.refunded else PaymentStatus.AUTHORIZED
    if payment.disputed:
        return PaymentStatus.DISPUTED
    if payment.refunded:
        return PaymentStatus.REFUNDED
    return PaymentStatus.PARTIALLY_REFUNDED if payment.amount_refunded > 0 else PaymentStatus.CAPTURED


def _uncaptured_intent_status(intent: Payment) -> PaymentStatus:
    if intent.status in _AWAITING_CUSTOMER:
        return PaymentStatus.REQUIRES_ACTION
    if intent.status == "canceled":
        return PaymentStatus.EXPIRED if intent.cancellation_reason in _LAPSED_CANCELLATIONS else PaymentStatus.RELEASED
    return PaymentStatus.AUTHORIZED


def backfill(payment: Payment, status: PaymentStatus, *, provider: str, request_id: str | None) -> NewPayment:
    """The first record of a payment made before the ledger existed, as the provider reports it now."""
    created = datetime.fromtimestamp(payment.created, tz=UTC) if payment.created else datetime.now(tz=UTC)
    return NewPayment(
        payment_id=payment.id,
        status=status,
        provider=provider,
        currency=payment.currency.lower(),
        authorized_amount=payment.amount,
        captured_amount=payment.amount_captured,
        refunded_amount=payment.amount_refunded if payment.captured else 0,
        created_at=created,
        entry_id="provider:backfill",
        source=EntrySource.PROVIDER,
        request_id=request_id,
        idempotency_key=None,
    )


def correction(
    record: PaymentRecord, payment: Payment, status: PaymentStatus, *, at: datetime, request_id: str | None
) -> Transition:
    """The transition that brings a stale ``record`` to what the provider reports; its entry id names the state
    reached, so reading the same provider state twice records one correction."""
    refunded = payment.amount_refunded if payment.captured else 0
    delta = max(0, refunded - record.refunded_amount)
    return Transition(
        payment_id=record.payment_id,
        status=status,
        entry_id=f"provider:{status}:{payment.amount_captured}:{refunded}",
        at=at,
        amount=_moved(record, status, payment, delta),
        source=EntrySource.PROVIDER,
        request_id=request_id,
        idempotency_key=None,
        captured_amount=payment.amount_captured if payment.captured else None,
        refunded_delta=delta,
        reason="provider_state",
    )


def _moved(record: PaymentRecord, status: PaymentStatus, payment: Payment, refunded_delta: int) -> int:
    if status is PaymentStatus.CAPTURED:
        return payment.amount_captured
    if status in (PaymentStatus.RELEASED, PaymentStatus.EXPIRED):
        return record.authorized_amount
    return refunded_delta
