"""The payment ledger port: what the service records of every payment it handles, and the transitions it allows.

One record per payment id (``ch_``/``pi_``): its status, the authorised, captured and refunded amounts, the currency,
the provider, when it was created and last changed, the booking it belongs to when known, and a history entry for
every transition. ``ALLOWED_TRANSITIONS`` is the one place in code that says which status may follow which (the
docs/api.md's table is this one); adapters enforce it with conditional writes, so a replay, a retry or an out-of-order
write never moves a payment backwards and never adds a history entry twice (entries are keyed by ``entry_id``).

The DynamoDB adapter (``lambdas.payment_api.dynamodb_ledger``) is the only code that knows the table's layout.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class PaymentStatus(StrEnum):
    REQUIRES_ACTION = "requires_action"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    RELEASED = "released"
    EXPIRED = "expired"
    DISPUTED = "disputed"
    # A refund the provider reported failed (e.g. the card was closed): its amount is owed to the customer again.
    REFUND_FAILED = "refund_failed"


S = PaymentStatus
# Status -> the statuses it may move to. A status missing from a value's set can never follow it: terminal states
# (released, expired) have none. ``partially_refunded -> partially_refunded`` is a further partial refund,
# ``disputed -> disputed`` an update of the dispute and ``refund_failed -> refund_failed`` a second failed refund;
# each still needs a new entry id. A refund may fail after the fact (the provider says so days later), so even
# ``refunded`` has a way out; a failed refund's money is refundable again. A customer may dispute a refunded payment
# too. A hold waiting for 3-D Secure may be captured directly: the customer authenticates with Stripe, not with us, so
# Stripe's capture is the proof.
ALLOWED_TRANSITIONS: Mapping[PaymentStatus, frozenset[PaymentStatus]] = {
    S.REQUIRES_ACTION: frozenset({S.AUTHORIZED, S.CAPTURED, S.RELEASED, S.EXPIRED}),
    S.AUTHORIZED: frozenset({S.CAPTURED, S.RELEASED, S.EXPIRED}),
    S.CAPTURED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED, S.REFUND_FAILED}),
    S.DISPUTED: frozenset({S.DISPUTED, S.CAPTURED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.REFUNDED: frozenset({S.REFUND_FAILED, S.DISPUTED}),
    S.REFUND_FAILED: frozenset({S.REFUND_FAILED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
    S.RELEASED: frozenset(),
    S.EXPIRED: frozenset(),
}
# A hold: money blocked on the card but not taken. The sweeper releases holds nobody captured in time.
HOLD_STATUSES = frozenset({S.REQUIRES_ACTION, S.AUTHORIZED})
# Where a payment's record may start: made by /charge, or back-filled from the provider in whatever state it is.
INITIAL_STATUSES = frozenset(PaymentStatus)


def allowed_sources(target: PaymentStatus) -> frozenset[PaymentStatus]:
    """The statuses from which a payment may move to ``target``."""
    return frozenset(source for source, targets in ALLOWED_TRANSITIONS.items() if target in targets)


def is_allowed(source: PaymentStatus, target: PaymentStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[source]


class EntrySource(StrEnum):
    """What caused a transition."""

    API = "api"  # a /charge, /capture or /refund request
    SWEEPER = "sweeper"  # the abandoned-hold sweeper
    PROVIDER = "provider"  # read back from the provider: a back-fill, or a correction of a stale record
    WEBHOOK = "webhook"  # an event the provider sent on its own (a signed webhook)


# Dispute statuses after which the dispute is over (Stripe's: the card network decided, or an inquiry was closed).
CLOSED_DISPUTE_STATUSES = frozenset({"won", "lost", "warning_closed"})


@dataclass(frozen=True, kw_only=True)
class Dispute:
    """A customer's dispute (chargeback) of a captured payment, as the provider last reported it.

    ``amount`` is what the customer disputes (smallest unit of the payment's currency); ``status`` is the provider's
    (e.g. ``needs_response``, ``under_review``, ``won``, ``lost``); ``evidence_due_by`` is when our evidence must be in.
    """

    dispute_id: str
    amount: int
    reason: str | None
    status: str
    evidence_due_by: datetime | None

    @property
    def closed(self) -> bool:
        return self.status in CLOSED_DISPUTE_STATUSES

    @property
    def outcome(self) -> str | None:
        """``won``, ``lost`` or ``warning_closed`` once the dispute is over, else ``None``."""
        return self.status if self.closed else None


@dataclass(frozen=True, kw_only=True)
class FraudWarning:
    """An early fraud warning the card issuer raised on a payment (e.g. ``made_with_stolen_card``): a dispute is
    likely; ``actionable`` says a refund now would still avoid it."""

    warning_id: str
    fraud_type: str | None
    actionable: bool


@dataclass(frozen=True, kw_only=True)
class BookingContext:
    """The booking a payment belongs to, as Collect and Refund forward it (each field optional)."""

    booking_id: str | None = None
    customer_id: str | None = None
    execution: str | None = None

    @property
    def empty(self) -> bool:
        return self.booking_id is None and self.customer_id is None and self.execution is None


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    """One transition as it was recorded. ``amount`` is what this transition moved (held, captured, refunded or
    released), in the currency's smallest unit; the three totals are the record's after it."""

    entry_id: str
    status: PaymentStatus
    previous_status: PaymentStatus | None
    at: datetime
    amount: int
    authorized_amount: int
    captured_amount: int
    refunded_amount: int
    source: EntrySource
    request_id: str | None
    idempotency_key: str | None
    reason: str | None = None
    # When the provider says it happened (a webhook event's creation time); ``at`` is when the ledger recorded it.
    occurred_at: datetime | None = None
    dispute: Dispute | None = None
    # Set on the entry of an early fraud warning: an entry that records the warning and leaves the status as it was.
    fraud_warning: FraudWarning | None = None


@dataclass(frozen=True, kw_only=True)
class PaymentRecord:
    """A payment as the ledger holds it; ``history`` is oldest first."""

    payment_id: str
    status: PaymentStatus
    provider: str
    currency: str
    authorized_amount: int
    captured_amount: int
    refunded_amount: int
    created_at: datetime
    updated_at: datetime
    booking: BookingContext | None
    history: tuple[HistoryEntry, ...]
    reason: str | None = None
    # The payment's latest dispute and early fraud warning, as last reported.
    dispute: Dispute | None = None
    fraud_warning: FraudWarning | None = None

    @property
    def capturable_amount(self) -> int:
        return self.authorized_amount if self.status in HOLD_STATUSES else 0

    @property
    def refundable_amount(self) -> int:
        return max(0, self.captured_amount - self.refunded_amount)

    def has_entry(self, entry_id: str) -> bool:
        return any(entry.entry_id == entry_id for entry in self.history)


@dataclass(frozen=True, kw_only=True)
class NewPayment:
    """The first record of a payment: made by /charge (``authorized`` or ``requires_action``) or back-filled."""

    payment_id: str
    status: PaymentStatus
    provider: str
    currency: str
    authorized_amount: int
    captured_amount: int = 0
    refunded_amount: int = 0
    # When the hold was made: the provider's creation time for a back-fill, so the sweeper ages it correctly.
    created_at: datetime
    entry_id: str
    source: EntrySource
    request_id: str | None
    idempotency_key: str | None
    booking: BookingContext | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class Transition:
    """A move of an existing record to ``status``.

    ``amount`` is what this transition moved (for the history entry). The totals change as follows: a given
    ``captured_amount`` replaces the record's (one capture per payment), ``refunded_delta`` is added to the refunded
    total exactly once per ``entry_id`` (partial refunds add up), and ``authorized_amount``, when given, replaces
    the authorised total (a correction from the provider). ``booking``, when given and not empty, replaces the
    record's booking context. ``reason`` says why (e.g. ``abandoned`` for the sweeper's releases). ``dispute``, when
    given, replaces the record's dispute; ``occurred_at`` is when the provider says the change happened.
    """

    payment_id: str
    status: PaymentStatus
    entry_id: str
    at: datetime
    amount: int
    source: EntrySource
    request_id: str | None
    idempotency_key: str | None
    captured_amount: int | None = None
    refunded_delta: int = 0
    authorized_amount: int | None = None
    booking: BookingContext | None = None
    reason: str | None = None
    dispute: Dispute | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class FraudWarningNote:
    """An early fraud warning to record on an existing payment: a history entry (``entry_id``) that keeps the status."""

    payment_id: str
    entry_id: str
    at: datetime
    occurred_at: datetime | None
    source: EntrySource
    warning: FraudWarning


class LedgerError(Exception):
    """Base class of the ledger's failures."""


class LedgerUnavailable(LedgerError):
    """The ledger could not be read or written (throttled, unreachable, failing): retrying may succeed."""


class TransitionRefused(LedgerError):
    """The record's current status does not allow the transition; ``record`` is the record as it is now."""

    def __init__(self, record: PaymentRecord, target: PaymentStatus) -> None:
        super().__init__(f"payment {record.payment_id} is {record.status}: it cannot become {target}")
        self.record = record
        self.target = target


class PaymentRecordMissing(LedgerError):
    """The ledger holds no record of ``payment_id``, so a transition has nothing to move: nothing was written
    (``apply`` never creates a record; ``create`` does)."""

    def __init__(self, payment_id: str) -> None:
        super().__init__(f"the ledger has no record of payment {payment_id}")
        self.payment_id = payment_id


class Ledger(Protocol):
    """Adapters raise ``LedgerUnavailable`` for any storage failure, never their own exception types."""

    def get(self, payment_id: str) -> PaymentRecord | None:
        """The record of ``payment_id`` with its history, or ``None`` when the ledger has none (strongly consistent)."""
        ...

    def create(self, payment: NewPayment) -> PaymentRecord:
        """Create the record with its first history entry; returns it.

        Idempotent: when a record already exists, nothing is written and the existing record is returned (a replay
        of the same ``entry_id``, or a back-fill racing another one). The caller compares it with what it expected.
        """
        ...

    def apply(self, transition: Transition) -> PaymentRecord:
        """Move the record to ``transition.status`` and append its history entry, in one conditional write.

        Returns the record after the transition. When the record already holds an entry with
        ``transition.entry_id`` (a replay or a retry), nothing is written and the record is returned as it is.
        Raises ``TransitionRefused`` (with the current record) when ``ALLOWED_TRANSITIONS`` does not allow the move
        from the current status, ``PaymentRecordMissing`` when the record does not exist, ``LedgerUnavailable`` when
        storage fails.
        """
        ...

    def record_fraud_warning(self, note: FraudWarningNote) -> PaymentRecord:
        """Set the record's fraud warning and append its history entry (status unchanged), in one conditional write.

        Returns the record after it; unchanged when it already holds ``note.entry_id``. Raises
        ``PaymentRecordMissing`` when there is no record, ``LedgerUnavailable`` when storage fails.
        """
        ...

    def holds_created_before(self, cutoff: datetime, *, page_size: int) -> Iterator[PaymentRecord]:
        """Records still in a hold status (``HOLD_STATUSES``) created before ``cutoff``, oldest first per status.

        Read from an index (never a scan), ``page_size`` records per storage call, lazily: a caller that stops
        iterating stops reading. Records may be a little stale (the index is eventually consistent): ``apply``'s
        condition is what protects a record that moved on meanwhile.
        """
        ...
