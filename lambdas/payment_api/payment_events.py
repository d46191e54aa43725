"""The payment events other services receive: one per ledger transition, whatever caused it (API, sweeper, webhook).

``latest_event`` turns a record as written (a stream image: each write appends exactly one history entry) into the
event of its last entry. Source ``serverless-airline.payment``; the detail types and the detail's fields are listed in
docs/api.md ("Payment events for other services"), and the stack's ``PaymentEvents`` construct declares the same names
(a test keeps them in step). ``eventId`` (payment id and entry id) is the same for every delivery of one transition:
consumers deduplicate on it (EventBridge and the stream both deliver at least once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from lambdas.payment_api.ledger import HistoryEntry, PaymentRecord, PaymentStatus
from lambdas.payment_api.views import dispute_view, fraud_warning_view, timestamp_view

SOURCE = "serverless-airline.payment"
S = PaymentStatus


class DetailType(StrEnum):
    PAYMENT_AUTHORIZED = "Payment Authorized"
    PAYMENT_CAPTURED = "Payment Captured"
    PAYMENT_REFUNDED = "Payment Refunded"
    HOLD_RELEASED = "Hold Released"
    HOLD_EXPIRED = "Hold Expired"
    REFUND_FAILED = "Refund Failed"
    PAYMENT_DISPUTED = "Payment Disputed"
    DISPUTE_CLOSED = "Dispute Closed"
    EARLY_FRAUD_WARNING = "Early Fraud Warning"


_BY_STATUS = {
    S.REQUIRES_ACTION: DetailType.PAYMENT_AUTHORIZED,
    S.AUTHORIZED: DetailType.PAYMENT_AUTHORIZED,
    S.CAPTURED: DetailType.PAYMENT_CAPTURED,
    S.PARTIALLY_REFUNDED: DetailType.PAYMENT_REFUNDED,
    S.REFUNDED: DetailType.PAYMENT_REFUNDED,
    S.RELEASED: DetailType.HOLD_RELEASED,
    S.EXPIRED: DetailType.HOLD_EXPIRED,
    S.REFUND_FAILED: DetailType.REFUND_FAILED,
    S.DISPUTED: DetailType.PAYMENT_DISPUTED,
}


@dataclass(frozen=True, kw_only=True)
class PaymentEvent:
    """One event for the bus: ``detail`` is JSON-ready; ``time`` is when the transition happened."""

    detail_type: DetailType
    detail: dict[str, Any]
    time: datetime

    @property
    def event_id(self) -> str:
        return str(self.detail["eventId"])


def detail_type_of(entry: HistoryEntry) -> DetailType:
    """What the transition of ``entry`` was, as consumers name it."""
    if entry.fraud_warning is not None:
        return DetailType.EARLY_FRAUD_WARNING
    if entry.status is S.DISPUTED and entry.dispute is not None and entry.dispute.closed:
        return DetailType.DISPUTE_CLOSED
    return _BY_STATUS[entry.status]


def latest_event(record: PaymentRecord) -> PaymentEvent:
    """The event of ``record``'s last history entry (the transition the write that produced ``record`` made)."""
    entry = record.history[-1]
    booking = record.booking
    occurred_at = entry.occurred_at or entry.at
    detail: dict[str, Any] = {
        "eventId": f"{record.payment_id}:{entry.entry_id}",
        "paymentId": record.payment_id,
        "bookingId": None if booking is None else booking.booking_id,
        "customerId": None if booking is None else booking.customer_id,
        "status": str(entry.status),
        "previousStatus": None if entry.previous_status is None else str(entry.previous_status),
        "amount": entry.amount,
        "authorizedAmount": entry.authorized_amount,
        "capturedAmount": entry.captured_amount,
        "refundedAmount": entry.refunded_amount,
        "currency": record.currency,
        "source": str(entry.source),
        "reason": entry.reason,
        "occurredAt": timestamp_view(occurred_at),
        "recordedAt": timestamp_view(entry.at),
        "dispute": None if entry.dispute is None else dispute_view(entry.dispute),
        "fraudWarning": None if entry.fraud_warning is None else fraud_warning_view(entry.fraud_warning),
    }
    return PaymentEvent(detail_type=detail_type_of(entry), detail=detail, time=occurred_at)


def is_new_dispute(event: PaymentEvent) -> bool:
    """A dispute opened (not an update of one already recorded)."""
    return event.detail_type is DetailType.PAYMENT_DISPUTED and event.detail["previousStatus"] != S.DISPUTED
