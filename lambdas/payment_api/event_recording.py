"""What the provider reports on its own, recorded in the ledger: the service half of the webhook event table.

Each provider event becomes at most one ledger change, compared with what the record already holds, so a
redelivery, a replay or an event that arrives after a later one never moves a payment backwards:

- ``HoldExpired`` -> ``expired``, ``HoldCancelled`` -> ``released`` (both only from a hold); an expiry of a payment
  the ledger holds as captured for a booking is recorded nowhere (a capture never becomes an expiry) but flagged
  (``Recorded.uncollected_booking_id``): that booking was confirmed on money never collected;
- ``Captured`` -> ``captured`` (only from a hold; an own capture already recorded is left as it is);
- ``Refunded`` -> ``partially_refunded``/``refunded``, one entry per provider refund not yet recorded (the refunds
  are listed at the provider: the event gives only the total, and an own refund recorded meanwhile must not count
  twice); an uncaptured hold refunded is ``released``;
- ``RefundFailed`` -> ``refund_failed``, the failed amount taken off the refunded total (owed again);
- ``DisputeReported`` -> ``disputed`` with the dispute (a closed dispute is never reopened by a late update);
- ``FraudWarned`` -> the warning recorded on the payment, status unchanged.

Entries are keyed by the provider's ids (``webhook:<event id>``, ``refund:<refund id>``, ``refund-failed:<refund
id>``, ``fraud-warning:<warning id>``), so the ledger's entry check makes every event count once. Ledger or
provider failures propagate (the webhook answers 5xx and the provider delivers again); nothing else is an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from aws_lambda_powertools import Logger

from lambdas.payment_api.decisions import status_after_refund
from lambdas.payment_api.ledger import (
    HOLD_STATUSES,
    Dispute,
    EntrySource,
    FraudWarningNote,
    Ledger,
    PaymentRecord,
    PaymentRecordMissing,
    PaymentStatus,
    Transition,
    TransitionRefused,
)
from lambdas.payment_api.provider import PaymentProvider
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
from lambdas.payment_api.service import refund_entry_id

logger = Logger(child=True)
S = PaymentStatus
# Refund statuses whose money left (or is leaving) the merchant's balance.
_MONEY_SENT = frozenset({"succeeded", "pending"})
EXPIRED_REASON = "expired"
REFUND_FAILED_STATUSES = frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.REFUND_FAILED})


class Outcome(StrEnum):
    APPLIED = "applied"  # the ledger changed
    ALREADY_RECORDED = "already_recorded"  # the record already holds this fact (a redelivery, or our own change)
    OUT_OF_ORDER = "out_of_order"  # the record has moved past what this event says: left as it is
    UNKNOWN_PAYMENT = "unknown_payment"  # no record under any of the event's payment ids
    NOT_A_PAYMENT_CHANGE = "not_a_payment_change"  # a type, or a variant, the service does not act on


@dataclass(frozen=True, kw_only=True)
class Recorded:
    outcome: Outcome
    payment_id: str | None = None
    status: PaymentStatus | None = None
    # The provider says a hold lapsed that the ledger holds as captured for a booking: the booking was confirmed on
    # money that was never collected (nothing can be recorded: a capture never becomes an expiry). Names the booking.
    uncollected_booking_id: str | None = None


class ProviderEventRecorder:
    """Records ``ProviderEvent``s in ``ledger``; ``provider`` is called only to list refunds (``Refunded``)."""

    def __init__(self, ledger: Ledger, provider: PaymentProvider, *, clock: Callable[[], datetime]) -> None:
        self._ledger = ledger
        self._provider = provider
        self._clock = clock

    def record(self, event: ProviderEvent) -> Recorded:
        """Apply ``event`` to its payment's record; raises ``LedgerUnavailable`` / ``ApiError`` (provider) only."""
        if isinstance(event, NotAPaymentChange):
            return Recorded(outcome=Outcome.NOT_A_PAYMENT_CHANGE)
        record = self._find(event.payment_ids)
        if record is None:
            return Recorded(outcome=Outcome.UNKNOWN_PAYMENT)
        try:
            return self._record(event, record)
        except TransitionRefused as refused:
            # The record moved on between our read and our write (e.g. an own capture): it is the newer fact.
            return Recorded(outcome=Outcome.OUT_OF_ORDER, payment_id=record.payment_id, status=refused.record.status)
        except PaymentRecordMissing:
            return Recorded(outcome=Outcome.UNKNOWN_PAYMENT)

    def _find(self, payment_ids: tuple[str, ...]) -> PaymentRecord | None:
        for payment_id in payment_ids:
            record = self._ledger.get(payment_id)
            if record is not None:
                return record
        return None

    def _record(self, event: ProviderEvent, record: PaymentRecord) -> Recorded:  # noqa: PLR0911 - one per event kind
        if isinstance(event, HoldExpired | HoldCancelled):
            return self._hold_ended(event, record)
        if isinstance(event, Captured):
            return self._captured(event, record)
        if isinstance(event, Refunded):
            return self._refunded(event, record)
        if isinstance(event, RefundFailed):
            return self._refund_failed(event, record)
        if isinstance(event, DisputeReported):
            return self._disputed(event, record)
        if isinstance(event, FraudWarned):
            return self._fraud_warned(event, record)
        return Recorded(outcome=Outcome.NOT_A_PAYMENT_CHANGE, payment_id=record.payment_id, status=record.status)

    def _hold_ended(self, event: HoldExpired | HoldCancelled, record: PaymentRecord) -> Recorded:
        target = S.EXPIRED if isinstance(event, HoldExpired) else S.RELEASED
        if record.status not in HOLD_STATUSES:
            if isinstance(event, HoldExpired) and record.captured_amount > 0:
                return self._expired_but_captured(event, record)
            return self._not_applied(event, record, already=record.status == target)
        reason = EXPIRED_REASON if isinstance(event, HoldExpired) else f"cancelled:{event.reason or 'unknown'}"
        return self._apply(event, record, status=target, amount=record.authorized_amount, reason=reason)

    def _expired_but_captured(self, event: HoldExpired, record: PaymentRecord) -> Recorded:
        booking_id = None if record.booking is None else record.booking.booking_id
        logger.error(
            "the provider reports a hold expired that the ledger holds as captured: the money was never collected",
            extra={"event_id": event.event_id, "payment_id": record.payment_id, "booking_id": booking_id},
        )
        return Recorded(
            outcome=Outcome.OUT_OF_ORDER,
            payment_id=record.payment_id,
            status=record.status,
            uncollected_booking_id=booking_id,
        )

    def _captured(self, event: Captured, record: PaymentRecord) -> Recorded:
        if record.status not in HOLD_STATUSES:
            return self._not_applied(event, record, already=record.captured_amount == event.amount_captured)
        return self._apply(
            event, record, status=S.CAPTURED, amount=event.amount_captured, captured_amount=event.amount_captured
        )

    def _refunded(self, event: Refunded, record: PaymentRecord) -> Recorded:
        if not event.captured:
            # The Charges API releases an uncaptured hold by refunding it.
            if record.status not in HOLD_STATUSES:
                return self._not_applied(event, record, already=record.status == S.RELEASED)
            return self._apply(event, record, status=S.RELEASED, amount=record.authorized_amount, reason="refunded")
        if event.amount_refunded <= record.refunded_amount:
            return self._not_applied(event, record, already=True)
        current, applied = record, False
        for refund in reversed(self._provider.refunds(record.payment_id)):  # oldest first
            entry_id = refund_entry_id(refund.id)
            if refund.status not in _MONEY_SENT or current.has_entry(entry_id):
                continue
            current = self._ledger.apply(
                Transition(
                    payment_id=current.payment_id,
                    status=status_after_refund(current, refund.amount),
                    entry_id=entry_id,
                    at=self._clock(),
                    amount=refund.amount,
                    source=EntrySource.WEBHOOK,
                    request_id=event.event_id,
                    idempotency_key=None,
                    refunded_delta=refund.amount,
                    occurred_at=event.occurred_at,
                )
            )
            applied = True
        if not applied:
            return self._not_applied(event, current, already=True)
        return Recorded(outcome=Outcome.APPLIED, payment_id=current.payment_id, status=current.status)

    def _refund_failed(self, event: RefundFailed, record: PaymentRecord) -> Recorded:
        entry_id = f"refund-failed:{event.refund_id}"
        if record.has_entry(entry_id):
            return self._not_applied(event, record, already=True)
        if record.status not in REFUND_FAILED_STATUSES:
            return self._not_applied(event, record, already=False)
        # Never below zero: a refund the ledger never counted (made outside, its event lost) gives back nothing here.
        owed = min(event.amount, record.refunded_amount)
        return self._apply(
            event,
            record,
            status=S.REFUND_FAILED,
            amount=event.amount,
            refunded_delta=-owed,
            reason=f"refund_failed:{event.failure_reason or 'unknown'}",
            entry_id=entry_id,
        )

    def _disputed(self, event: DisputeReported, record: PaymentRecord) -> Recorded:
        known = record.dispute
        if known is not None and known.dispute_id == event.dispute.dispute_id:
            if known == event.dispute:
                return self._not_applied(event, record, already=True)
            if known.closed and not event.dispute.closed:
                return self._not_applied(event, record, already=False)
        return self._apply(
            event,
            record,
            status=S.DISPUTED,
            amount=event.dispute.amount,
            reason=f"dispute:{event.dispute.reason or 'unknown'}",
            dispute=event.dispute,
        )

    def _fraud_warned(self, event: FraudWarned, record: PaymentRecord) -> Recorded:
        if record.fraud_warning is not None and record.fraud_warning.warning_id == event.warning.warning_id:
            return self._not_applied(event, record, already=True)
        updated = self._ledger.record_fraud_warning(
            FraudWarningNote(
                payment_id=record.payment_id,
                entry_id=f"fraud-warning:{event.warning.warning_id}",
                at=self._clock(),
                occurred_at=event.occurred_at,
                source=EntrySource.WEBHOOK,
                warning=event.warning,
            )
        )
        return Recorded(outcome=Outcome.APPLIED, payment_id=updated.payment_id, status=updated.status)

    def _apply(
        self,
        event: ProviderEvent,
        record: PaymentRecord,
        *,
        status: PaymentStatus,
        amount: int,
        entry_id: str | None = None,
        captured_amount: int | None = None,
        refunded_delta: int = 0,
        reason: str | None = None,
        dispute: Dispute | None = None,
    ) -> Recorded:
        transition = Transition(
            payment_id=record.payment_id,
            status=status,
            entry_id=entry_id or f"webhook:{event.event_id}",
            at=self._clock(),
            amount=amount,
            source=EntrySource.WEBHOOK,
            request_id=event.event_id,
            idempotency_key=None,
            occurred_at=event.occurred_at,
            captured_amount=captured_amount,
            refunded_delta=refunded_delta,
            reason=reason,
            dispute=dispute,
        )
        before = len(record.history)
        updated = self._ledger.apply(transition)
        outcome = Outcome.APPLIED if len(updated.history) > before else Outcome.ALREADY_RECORDED
        return Recorded(outcome=outcome, payment_id=updated.payment_id, status=updated.status)

    def _not_applied(self, event: ProviderEvent, record: PaymentRecord, *, already: bool) -> Recorded:
        if not already:
            logger.warning(
                "provider event does not fit the ledger's record: left as it is",
                extra={"event_type": event.event_type, "payment_id": record.payment_id, "status": record.status},
            )
        outcome = Outcome.ALREADY_RECORDED if already else Outcome.OUT_OF_ORDER
        return Recorded(outcome=outcome, payment_id=record.payment_id, status=record.status)
