"""The payment ledger's DynamoDB item layout: how a ``PaymentRecord`` is stored, and read back from an item.

Used by the DynamoDB adapter (``dynamodb_ledger``) for its reads and writes, and by the event publisher for the
table's stream images (the same typed attribute values). One item per payment, keyed by ``id`` (S, the payment id;
no sort key):

- ``status`` (S), ``provider`` (S), ``currency`` (S, lower case), ``authorizedAmount``, ``capturedAmount``,
  ``refundedAmount`` (N), ``createdAt``, ``updatedAt`` (S: ISO 8601 UTC with microseconds, fixed width, so the
  strings sort by time), ``booking`` (M of optional S ``bookingId``, ``customerId``, ``execution``; absent when
  unknown), ``reason`` (S, optional), ``dispute`` and ``fraudWarning`` (M, the latest reported; absent when none);
- ``history`` (L of M, oldest first), each entry: ``entryId``, ``at``, ``amount``, ``refundedDelta``, ``source``,
  ``status`` (absent on an early fraud warning's entry, which keeps the status before it), and when known
  ``capturedAmount``, ``authorizedAmount``, ``requestId``, ``idempotencyKey``, ``reason``, ``occurredAt``,
  ``dispute``, ``fraudWarning``;
- ``entryIds`` (SS): every entry's id, which the writes' conditions check so that a replay writes nothing;
- ``holdStatus`` (S): equal to ``status`` while it is in ``HOLD_STATUSES``, absent otherwise. It is the partition
  key of the sparse index the sweeper reads (the stack's ``holds-by-age``: sort key ``createdAt``, projection ALL),
  so a payment leaves the index in the same write that moves it out of a hold.

Why entries store deltas: a transition is one conditional UpdateItem with no read first, so it knows neither the
status it moves from nor the refunded total it adds to. An entry stores what its transition knows, and reading
rebuilds each ``HistoryEntry``'s ``previous_status`` and totals by replaying the history from zero: a stored
``capturedAmount``/``authorizedAmount`` replaces the running value, ``refundedDelta`` adds to it, and the previous
status is the entry before's. The first entry stores both amounts, the initial refunded total as its delta and the
authorised amount as its ``amount``. Every write appends exactly one entry, so the last entry of a stream's new image
is the change that write made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from lambdas.payment_api.ledger import (
    BookingContext,
    Dispute,
    EntrySource,
    FraudWarning,
    HistoryEntry,
    PaymentRecord,
    PaymentStatus,
)

# Item attributes (entries reuse STATUS, the two amounts, REASON, DISPUTE and FRAUD_WARNING).
ID = "id"
STATUS = "status"
PROVIDER = "provider"
CURRENCY = "currency"
AUTHORIZED_AMOUNT = "authorizedAmount"
CAPTURED_AMOUNT = "capturedAmount"
REFUNDED_AMOUNT = "refundedAmount"
CREATED_AT = "createdAt"
UPDATED_AT = "updatedAt"
BOOKING = "booking"
REASON = "reason"
DISPUTE = "dispute"
FRAUD_WARNING = "fraudWarning"
HISTORY = "history"
ENTRY_IDS = "entryIds"
HOLD_STATUS = "holdStatus"
# Booking map fields.
BOOKING_ID = "bookingId"
CUSTOMER_ID = "customerId"
EXECUTION = "execution"
# History entry attributes.
ENTRY_ID = "entryId"
AT = "at"
AMOUNT = "amount"
REFUNDED_DELTA = "refundedDelta"
SOURCE = "source"
REQUEST_ID = "requestId"
IDEMPOTENCY_KEY = "idempotencyKey"
OCCURRED_AT = "occurredAt"
# Dispute map fields (AMOUNT and STATUS too).
DISPUTE_ID = "disputeId"
DISPUTE_REASON = "reason"
EVIDENCE_DUE_BY = "evidenceDueBy"
# Fraud warning map fields.
WARNING_ID = "warningId"
FRAUD_TYPE = "fraudType"
ACTIONABLE = "actionable"

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def record_from_item(item: Mapping[str, Any]) -> PaymentRecord:
    """The record an item (a GetItem/UpdateItem answer, or a stream image) holds."""
    return PaymentRecord(
        payment_id=item[ID]["S"],
        status=PaymentStatus(item[STATUS]["S"]),
        provider=item[PROVIDER]["S"],
        currency=item[CURRENCY]["S"],
        authorized_amount=int(item[AUTHORIZED_AMOUNT]["N"]),
        captured_amount=int(item[CAPTURED_AMOUNT]["N"]),
        refunded_amount=int(item[REFUNDED_AMOUNT]["N"]),
        created_at=moment(item[CREATED_AT]["S"]),
        updated_at=moment(item[UPDATED_AT]["S"]),
        booking=_booking(item[BOOKING]["M"]) if BOOKING in item else None,
        history=_history(item[HISTORY]["L"]),
        reason=_text(item, REASON),
        dispute=_dispute(item[DISPUTE]["M"]) if DISPUTE in item else None,
        fraud_warning=_fraud_warning(item[FRAUD_WARNING]["M"]) if FRAUD_WARNING in item else None,
    )


def entry_value(
    *,
    entry_id: str,
    status: PaymentStatus | None,
    at: str,
    amount: int,
    refunded_delta: int,
    source: EntrySource,
    request_id: str | None = None,
    idempotency_key: str | None = None,
    reason: str | None = None,
    captured_amount: int | None = None,
    authorized_amount: int | None = None,
    occurred_at: datetime | None = None,
    dispute: Dispute | None = None,
    fraud_warning: FraudWarning | None = None,
) -> dict[str, Any]:
    """A history entry as stored (``{"M": ...}``); ``status`` None keeps the status before it."""
    entry: dict[str, Any] = {
        ENTRY_ID: {"S": entry_id},
        AT: {"S": at},
        AMOUNT: number(amount),
        REFUNDED_DELTA: number(refunded_delta),
        SOURCE: {"S": source},
    }
    if status is not None:
        entry[STATUS] = {"S": status}
    for name, value in ((CAPTURED_AMOUNT, captured_amount), (AUTHORIZED_AMOUNT, authorized_amount)):
        if value is not None:
            entry[name] = number(value)
    for name, text in ((REQUEST_ID, request_id), (IDEMPOTENCY_KEY, idempotency_key), (REASON, reason)):
        if text is not None:
            entry[name] = {"S": text}
    if occurred_at is not None:
        entry[OCCURRED_AT] = {"S": timestamp(occurred_at)}
    if dispute is not None:
        entry[DISPUTE] = dispute_value(dispute)
    if fraud_warning is not None:
        entry[FRAUD_WARNING] = fraud_warning_value(fraud_warning)
    return {"M": entry}


def booking_value(booking: BookingContext) -> dict[str, Any]:
    fields = ((BOOKING_ID, booking.booking_id), (CUSTOMER_ID, booking.customer_id), (EXECUTION, booking.execution))
    return {"M": {name: {"S": value} for name, value in fields if value is not None}}


def dispute_value(dispute: Dispute) -> dict[str, Any]:
    fields: dict[str, Any] = {
        DISPUTE_ID: {"S": dispute.dispute_id},
        AMOUNT: number(dispute.amount),
        STATUS: {"S": dispute.status},
    }
    if dispute.reason is not None:
        fields[DISPUTE_REASON] = {"S": dispute.reason}
    if dispute.evidence_due_by is not None:
        fields[EVIDENCE_DUE_BY] = {"S": timestamp(dispute.evidence_due_by)}
    return {"M": fields}


def fraud_warning_value(warning: FraudWarning) -> dict[str, Any]:
    fields: dict[str, Any] = {WARNING_ID: {"S": warning.warning_id}, ACTIONABLE: {"BOOL": warning.actionable}}
    if warning.fraud_type is not None:
        fields[FRAUD_TYPE] = {"S": warning.fraud_type}
    return {"M": fields}


def number(value: int) -> dict[str, str]:
    return {"N": str(value)}


def timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("ledger times must be timezone-aware")
    return value.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)  # since Python 3.11 this reads the trailing Z as UTC


def _history(entries: Sequence[Mapping[str, Any]]) -> tuple[HistoryEntry, ...]:
    """The entries with the totals and previous status each had, replayed in order (see the module docstring)."""
    authorized = captured = refunded = 0
    previous: PaymentStatus | None = None
    replayed = []
    for value in entries:
        entry = value["M"]
        status = PaymentStatus(entry[STATUS]["S"]) if STATUS in entry else previous
        if status is None:
            raise ValueError("a payment's first history entry must have a status")
        if AUTHORIZED_AMOUNT in entry:
            authorized = int(entry[AUTHORIZED_AMOUNT]["N"])
        if CAPTURED_AMOUNT in entry:
            captured = int(entry[CAPTURED_AMOUNT]["N"])
        refunded += int(entry[REFUNDED_DELTA]["N"])
        replayed.append(
            HistoryEntry(
                entry_id=entry[ENTRY_ID]["S"],
                status=status,
                previous_status=previous,
                at=moment(entry[AT]["S"]),
                amount=int(entry[AMOUNT]["N"]),
                authorized_amount=authorized,
                captured_amount=captured,
                refunded_amount=refunded,
                source=EntrySource(entry[SOURCE]["S"]),
                request_id=_text(entry, REQUEST_ID),
                idempotency_key=_text(entry, IDEMPOTENCY_KEY),
                reason=_text(entry, REASON),
                occurred_at=moment(entry[OCCURRED_AT]["S"]) if OCCURRED_AT in entry else None,
                dispute=_dispute(entry[DISPUTE]["M"]) if DISPUTE in entry else None,
                fraud_warning=_fraud_warning(entry[FRAUD_WARNING]["M"]) if FRAUD_WARNING in entry else None,
            )
        )
        previous = status
    return tuple(replayed)


def _booking(fields: Mapping[str, Any]) -> BookingContext:
    return BookingContext(
        booking_id=_text(fields, BOOKING_ID),
        customer_id=_text(fields, CUSTOMER_ID),
        execution=_text(fields, EXECUTION),
    )


def _dispute(fields: Mapping[str, Any]) -> Dispute:
    due_by = _text(fields, EVIDENCE_DUE_BY)
    return Dispute(
        dispute_id=fields[DISPUTE_ID]["S"],
        amount=int(fields[AMOUNT]["N"]),
        reason=_text(fields, DISPUTE_REASON),
        status=fields[STATUS]["S"],
        evidence_due_by=None if due_by is None else moment(due_by),
    )


def _fraud_warning(fields: Mapping[str, Any]) -> FraudWarning:
    return FraudWarning(
        warning_id=fields[WARNING_ID]["S"],
        fraud_type=_text(fields, FRAUD_TYPE),
        actionable=bool(fields[ACTIONABLE]["BOOL"]),
    )


def _text(attributes: Mapping[str, Any], name: str) -> str | None:
    value = attributes.get(name)
    return None if value is None else cast("str", value["S"])
