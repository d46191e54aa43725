"""What clients see: curated projections of provider results and ledger records, never card data.

Results keep the old app's envelopes (``createdCharge``, ``capturedCharge``, ``createdRefund``); a ledger record is
answered as ``{"payment": {...}}`` by ``GET /payments/{id}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lambdas.payment_api.domain import Payment, Refund
from lambdas.payment_api.ledger import BookingContext, Dispute, FraudWarning, HistoryEntry, PaymentRecord


def payment_view(payment: Payment, *, fallback_email: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": payment.id,
        "object": payment.object,
        "amount": payment.amount,
        "amount_captured": payment.amount_captured,
        "amount_refunded": payment.amount_refunded,
        "currency": payment.currency,
        "status": payment.status,
        "captured": payment.captured,
        "refunded": payment.refunded,
        "receipt_url": payment.receipt_url,
        "email": payment.email or fallback_email,
        "description": payment.description,
        "created": payment.created,
        "requires_action": payment.requires_action,
    }
    if payment.requires_action:
        view["client_secret"] = payment.client_secret
    return view


def refund_view(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "object": "refund",
        "kind": refund.kind,
        "charge": refund.payment_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "status": refund.status,
    }


def record_view(record: PaymentRecord) -> dict[str, Any]:
    """A ledger record and its history (oldest first), amounts in the currency's smallest unit."""
    return {
        "id": record.payment_id,
        "status": str(record.status),
        "provider": record.provider,
        "currency": record.currency,
        "authorizedAmount": record.authorized_amount,
        "capturedAmount": record.captured_amount,
        "refundedAmount": record.refunded_amount,
        "reason": record.reason,
        "createdAt": timestamp_view(record.created_at),
        "updatedAt": timestamp_view(record.updated_at),
        "booking": _booking_view(record.booking),
        "dispute": _dispute_view(record.dispute),
        "fraudWarning": _fraud_warning_view(record.fraud_warning),
        "history": [_entry_view(entry) for entry in record.history],
    }


def _booking_view(booking: BookingContext | None) -> dict[str, str | None] | None:
    if booking is None or booking.empty:
        return None
    return {"bookingId": booking.booking_id, "customerId": booking.customer_id, "execution": booking.execution}


def _entry_view(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "status": str(entry.status),
        "previousStatus": None if entry.previous_status is None else str(entry.previous_status),
        "at": timestamp_view(entry.at),
        "amount": entry.amount,
        "authorizedAmount": entry.authorized_amount,
        "capturedAmount": entry.captured_amount,
        "refundedAmount": entry.refunded_amount,
        "source": str(entry.source),
        "reason": entry.reason,
        "requestId": entry.request_id,
        "idempotencyKey": entry.idempotency_key,
        "occurredAt": None if entry.occurred_at is None else timestamp_view(entry.occurred_at),
        "dispute": _dispute_view(entry.dispute),
        "fraudWarning": _fraud_warning_view(entry.fraud_warning),
    }


def dispute_view(dispute: Dispute) -> dict[str, Any]:
    """A dispute as clients and payment events show it (``outcome`` set once it is closed)."""
    return {
        "id": dispute.dispute_id,
        "amount": dispute.amount,
        "reason": dispute.reason,
        "status": dispute.status,
        "evidenceDueBy": None if dispute.evidence_due_by is None else timestamp_view(dispute.evidence_due_by),
        "outcome": dispute.outcome,
    }


def fraud_warning_view(warning: FraudWarning) -> dict[str, Any]:
    return {"id": warning.warning_id, "fraudType": warning.fraud_type, "actionable": warning.actionable}


def _dispute_view(dispute: Dispute | None) -> dict[str, Any] | None:
    return None if dispute is None else dispute_view(dispute)


def _fraud_warning_view(warning: FraudWarning | None) -> dict[str, Any] | None:
    return None if warning is None else fraud_warning_view(warning)


def timestamp_view(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and a ``Z``, as every time in an answer or an event."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
