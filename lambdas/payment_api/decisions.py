"""What a capture or a refund must do, decided from the payment's ledger record alone (no provider read).

Each function returns the one provider call to make, or raises the ``ApiError`` the client gets. The provider
stays the authority: when it refuses a call decided here, the service reads it, corrects the record and decides
again (``PaymentService``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lambdas.payment_api.domain import PaymentRequest
from lambdas.payment_api.errors import InvalidRequest, StateConflict
from lambdas.payment_api.ledger import HOLD_STATUSES, PaymentRecord, PaymentStatus

S = PaymentStatus
# Why a payment that is no longer a hold cannot be captured: (code, message).
_NOT_CAPTURABLE = {
    S.CAPTURED: ("already_captured", "the payment was already captured"),
    S.PARTIALLY_REFUNDED: ("already_captured", "the payment was already captured"),
    S.DISPUTED: ("already_captured", "the payment was already captured"),
    S.REFUND_FAILED: ("already_captured", "the payment was already captured"),
    S.REFUNDED: ("already_refunded", "the payment was refunded or released and cannot be captured"),
    S.RELEASED: ("already_released", "the payment was released and cannot be captured"),
    S.EXPIRED: ("authorization_expired", "the authorisation expired and cannot be captured"),
}
# Why a payment cannot be refunded: (code, message). For Refund in the booking saga a 409 means nothing is owed,
# so only states where the money is back (or was never taken) are listed; a dispute is answered separately.
_NOT_REFUNDABLE = {
    S.REFUNDED: ("already_refunded", "the payment was already refunded"),
    S.RELEASED: ("already_released", "the payment was already released"),
    S.EXPIRED: ("authorization_expired", "the authorisation expired: nothing was taken"),
}


class Action(StrEnum):
    CAPTURE = "capture"
    REFUND = "refund"
    RELEASE = "release"


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The provider call to make: ``amount`` to capture (None = the whole hold) or to refund."""

    action: Action
    amount: int | None


def decide_capture(record: PaymentRecord, request: PaymentRequest) -> Decision:
    """Capture a hold, fully or ``request.amount`` of it (the rest of the hold is released by the provider).

    409 when the payment is no longer a hold, ``currency_mismatch`` when the request names another currency,
    ``amount_exceeds_hold`` when more than the hold is asked for (a fare above the pre-authorised amount),
    ``booking_mismatch`` when the payment was taken for another booking.
    """
    _check_booking(record, request)
    if record.status not in HOLD_STATUSES:
        code, message = _NOT_CAPTURABLE[record.status]
        raise StateConflict(message, code=code)
    _check_currency(record, request)
    if request.amount is not None and request.amount > record.authorized_amount:
        raise StateConflict(
            f"amount {request.amount} is more than the {record.authorized_amount} {record.currency} held",
            code="amount_exceeds_hold",
        )
    return Decision(action=Action.CAPTURE, amount=request.amount)


def decide_refund(record: PaymentRecord, request: PaymentRequest) -> Decision:
    """Give the money back: release a hold whole, or refund (all that is left, or ``request.amount``) of a capture.

    409 ``booking_mismatch`` when the payment was captured for another booking: a second booking started with the
    same charge must never give back the money of the first (for its compensation, nothing is owed).
    """
    _check_booking(record, request)
    _check_currency(record, request)
    if record.status in HOLD_STATUSES:
        if request.amount is not None and request.amount != record.authorized_amount:
            raise InvalidRequest(
                "an uncaptured hold is released whole: omit amount or send the authorised amount",
                code="invalid_amount",
            )
        return Decision(action=Action.RELEASE, amount=None)
    if record.status is S.DISPUTED:
        raise StateConflict("the payment is disputed: it cannot be refunded now", code="payment_disputed")
    if record.status in _NOT_REFUNDABLE:
        code, message = _NOT_REFUNDABLE[record.status]
        raise StateConflict(message, code=code)
    refundable = record.refundable_amount
    if refundable <= 0:
        raise StateConflict("the payment was already refunded", code="already_refunded")
    if request.amount is not None and request.amount > refundable:
        raise InvalidRequest(f"amount must be at most the refundable {refundable}", code="invalid_amount")
    return Decision(action=Action.REFUND, amount=request.amount or refundable)


def status_after_refund(record: PaymentRecord, amount: int) -> PaymentStatus:
    return S.REFUNDED if record.refunded_amount + amount >= record.captured_amount else S.PARTIALLY_REFUNDED


def _check_booking(record: PaymentRecord, request: PaymentRequest) -> None:
    recorded = None if record.booking is None else record.booking.booking_id
    requested = None if request.booking is None else request.booking.booking_id
    if recorded is not None and requested is not None and recorded != requested:
        raise StateConflict("the payment belongs to another booking", code="booking_mismatch")


def _check_currency(record: PaymentRecord, request: PaymentRequest) -> None:
    if request.currency is not None and request.currency != record.currency:
        raise StateConflict(f"the payment is in {record.currency}, not {request.currency}", code="currency_mismatch")
