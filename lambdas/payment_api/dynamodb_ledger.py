"""The payment ledger (``lambdas.payment_api.ledger``) on DynamoDB: the only code that knows the table's layout.

One item per payment, keyed by ``id`` (S, the payment id; no sort key):

- ``status`` (S), ``provider`` (S), ``currency`` (S, lower case), ``authorizedAmount``, ``capturedAmount``,
  ``refundedAmount`` (N), ``createdAt``, ``updatedAt`` (S: ISO 8601 UTC with microseconds, fixed width, so the
  strings sort by time), ``booking`` (M of optional S ``bookingId``, ``customerId``, ``execution``; absent when
  unknown), ``reason`` (S, optional);
- ``history`` (L of M, oldest first), each entry: ``entryId``, ``status``, ``at``, ``amount``, ``refundedDelta``,
  ``source``, and when known ``capturedAmount``, ``authorizedAmount``, ``requestId``, ``idempotencyKey``,
  ``reason``;
- ``entryIds`` (SS): every entry's id, which ``apply``'s condition checks so that a replay writes nothing;
- ``holdStatus`` (S): equal to ``status`` while it is in ``HOLD_STATUSES``, absent otherwise. It is the partition
  key of the sparse index the sweeper reads (the stack's ``holds-by-age``: sort key ``createdAt``, projection ALL),
  so a payment leaves the index in the same write that moves it out of a hold.

Why entries store deltas: ``apply`` is one conditional UpdateItem with no read first, so it knows neither the
status it moves from nor the refunded total it adds to. An entry stores what its transition knows, and reading
rebuilds each ``HistoryEntry``'s ``previous_status`` and totals by replaying the history from zero: a stored
``capturedAmount``/``authorizedAmount`` replaces the running value, ``refundedDelta`` adds to it, and the previous
status is the entry before's. The first entry stores both amounts, the initial refunded total as its delta and the
authorised amount as its ``amount``. The append shares its write with the status condition, so the history's order
is the order in which the status changed.

DynamoDB calls: ``get`` one GetItem, ``create`` one PutItem, ``apply`` one UpdateItem (one GetItem instead when no
status may move to the target), ``holds_created_before`` one Query per page of each hold status.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.payment_api.ledger import (
    ALLOWED_TRANSITIONS,
    HOLD_STATUSES,
    BookingContext,
    EntrySource,
    HistoryEntry,
    LedgerUnavailable,
    NewPayment,
    PaymentRecord,
    PaymentRecordMissing,
    PaymentStatus,
    Transition,
    TransitionRefused,
    allowed_sources,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import CreateTableInputTypeDef, QueryInputTypeDef

__all__ = ["DynamoDBLedger", "table_definition"]

# Item attributes (entries reuse STATUS, the two amounts and REASON).
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

CONDITION_FAILED = "ConditionalCheckFailedException"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def table_definition(table_name: str, holds_index_name: str) -> CreateTableInputTypeDef:
    """The CreateTable request for the layout this adapter reads and writes: what the payment stack declares (a test
    compares the two), and what tests and benchmarks create their table from."""
    return {
        "TableName": table_name,
        "KeySchema": [{"AttributeName": ID, "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": ID, "AttributeType": "S"},
            {"AttributeName": HOLD_STATUS, "AttributeType": "S"},
            {"AttributeName": CREATED_AT, "AttributeType": "S"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": holds_index_name,
                "KeySchema": [
                    {"AttributeName": HOLD_STATUS, "KeyType": "HASH"},
                    {"AttributeName": CREATED_AT, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


# ``status`` is a DynamoDB reserved word; the other names may appear in expressions as they are.
STATUS_NAME = {"#status": STATUS}
CREATE_CONDITION = f"attribute_not_exists({ID})"
HOLDS_KEY_CONDITION = f"{HOLD_STATUS} = :holdStatus AND {CREATED_AT} < :cutoff"
# A fixed order, so the sweeper reads the holds the same way on every run.
HOLD_QUERY_ORDER = tuple(sorted(HOLD_STATUSES))


def _source_values(target: PaymentStatus) -> dict[str, Any]:
    return {f":from{index}": {"S": source} for index, source in enumerate(sorted(allowed_sources(target)))}


# Per target status, the condition ``apply`` writes under and the values of its ``:fromN`` placeholders, built once
# per Lambda environment. A target no status may move to has neither: ``IN ()`` is not valid DynamoDB.
SOURCE_VALUES = {target: _source_values(target) for target in ALLOWED_TRANSITIONS}
APPLY_CONDITIONS = {
    target: f"attribute_exists({ID}) AND #status IN ({', '.join(values)}) AND NOT contains({ENTRY_IDS}, :entryId)"
    for target, values in SOURCE_VALUES.items()
    if values
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DynamoDBLedger:
    """The ``Ledger`` port over one DynamoDB table and its holds index (layout in the module docstring).

    ``client`` is a low-level DynamoDB client made once per Lambda environment; ``clock`` gives the time of a
    ``create`` (its ``updatedAt`` and first entry's ``at``; ``apply`` uses ``Transition.at``). Every time given must
    be timezone-aware. Any failure of the client (throttling, an error answer, a timeout, no connection) raises
    ``LedgerUnavailable``; a failed condition is never one, it is answered as the port says.
    """

    def __init__(
        self,
        *,
        table_name: str,
        holds_index_name: str,
        client: DynamoDBClient,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._table_name = table_name
        self._holds_index_name = holds_index_name
        self._client = client
        self._clock = clock

    def get(self, payment_id: str) -> PaymentRecord | None:
        """The record of ``payment_id`` (a strongly consistent read), or ``None`` when the table has no item."""
        item = self._get_item(payment_id)
        return None if item is None else _record(item)

    def create(self, payment: NewPayment) -> PaymentRecord:
        """Put the first item of ``payment``, unless one exists; returns the record written, or else the existing
        one unchanged (taken from the failed condition: no second read). An empty ``booking`` is stored as none."""
        now = _timestamp(self._clock())
        entry = _entry(
            entry_id=payment.entry_id,
            status=payment.status,
            at=now,
            amount=payment.authorized_amount,
            refunded_delta=payment.refunded_amount,
            source=payment.source,
            request_id=payment.request_id,
            idempotency_key=payment.idempotency_key,
            reason=payment.reason,
            captured_amount=payment.captured_amount,
            authorized_amount=payment.authorized_amount,
        )
        item: dict[str, Any] = {
            ID: {"S": payment.payment_id},
            STATUS: {"S": payment.status},
            PROVIDER: {"S": payment.provider},
            CURRENCY: {"S": payment.currency.lower()},
            AUTHORIZED_AMOUNT: _number(payment.authorized_amount),
            CAPTURED_AMOUNT: _number(payment.captured_amount),
            REFUNDED_AMOUNT: _number(payment.refunded_amount),
            CREATED_AT: {"S": _timestamp(payment.created_at)},
            UPDATED_AT: {"S": now},
            HISTORY: {"L": [entry]},
            ENTRY_IDS: {"SS": [payment.entry_id]},
        }
        if payment.status in HOLD_STATUSES:
            item[HOLD_STATUS] = {"S": payment.status}
        if payment.booking is not None and not payment.booking.empty:
            item[BOOKING] = _booking_value(payment.booking)
        if payment.reason is not None:
            item[REASON] = {"S": payment.reason}
        failure = f"the ledger could not record payment {payment.payment_id}"
        try:
            self._client.put_item(
                TableName=self._table_name,
                Item=item,
                ConditionExpression=CREATE_CONDITION,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            existing = _item_of_failed_condition(error, failure)
        except BotoCoreError:
            raise LedgerUnavailable(failure) from None
        else:
            return _record(item)
        if existing is None:  # DynamoDB returns the item; a store that ignores ALL_OLD must not make us invent one
            raise LedgerUnavailable(failure)
        return _record(existing)

    def apply(self, transition: Transition) -> PaymentRecord:
        """Move the record to ``transition.status`` and append the entry, in one UpdateItem whose condition checks
        that the record exists, that its status may move there and that the entry is new.

        Returns the record after the write, or the record unchanged when it already holds the entry. Raises
        ``TransitionRefused`` with the current record when its status does not allow the move (nothing written),
        ``PaymentRecordMissing`` when there is no record (nothing written, no record created).
        """
        target = transition.status
        condition = APPLY_CONDITIONS.get(target)
        if condition is None:  # no status may move to the target: the read only says which refusal it is
            return _not_applied(self._get_item(transition.payment_id), transition)
        entry = _entry(
            entry_id=transition.entry_id,
            status=target,
            at=_timestamp(transition.at),
            amount=transition.amount,
            refunded_delta=transition.refunded_delta,
            source=transition.source,
            request_id=transition.request_id,
            idempotency_key=transition.idempotency_key,
            reason=transition.reason,
            captured_amount=transition.captured_amount,
            authorized_amount=transition.authorized_amount,
        )
        values: dict[str, Any] = {
            **SOURCE_VALUES[target],
            ":status": {"S": target},
            ":at": entry["M"][AT],
            ":entry": {"L": [entry]},
            ":entryId": {"S": transition.entry_id},
            ":entrySet": {"SS": [transition.entry_id]},
        }
        sets = ["#status = :status", f"{UPDATED_AT} = :at", f"{HISTORY} = list_append({HISTORY}, :entry)"]
        adds = [f"{ENTRY_IDS} :entrySet"]
        removes = []
        if target in HOLD_STATUSES:
            sets.append(f"{HOLD_STATUS} = :status")
        else:
            removes.append(HOLD_STATUS)
        if transition.captured_amount is not None:
            sets.append(f"{CAPTURED_AMOUNT} = :captured")
            values[":captured"] = _number(transition.captured_amount)
        if transition.authorized_amount is not None:
            sets.append(f"{AUTHORIZED_AMOUNT} = :authorized")
            values[":authorized"] = _number(transition.authorized_amount)
        if transition.booking is not None and not transition.booking.empty:
            sets.append(f"{BOOKING} = :booking")
            values[":booking"] = _booking_value(transition.booking)
        if transition.reason is not None:
            sets.append(f"{REASON} = :reason")
            values[":reason"] = {"S": transition.reason}
        if transition.refunded_delta != 0:
            adds.append(f"{REFUNDED_AMOUNT} :refundedDelta")
            values[":refundedDelta"] = _number(transition.refunded_delta)
        update = f"SET {', '.join(sets)} ADD {', '.join(adds)}"
        if removes:
            update += f" REMOVE {', '.join(removes)}"
        failure = f"the ledger could not update payment {transition.payment_id}"
        try:
            response = self._client.update_item(
                TableName=self._table_name,
                Key={ID: {"S": transition.payment_id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=STATUS_NAME,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            current = _item_of_failed_condition(error, failure)
        except BotoCoreError:
            raise LedgerUnavailable(failure) from None
        else:
            return _record(response["Attributes"])
        return _not_applied(current, transition)

    def holds_created_before(self, cutoff: datetime, *, page_size: int) -> Iterator[PaymentRecord]:
        """Records in a hold status created strictly before ``cutoff``, oldest first within each hold status
        (``authorized``, then ``requires_action``), read lazily from the holds index ``page_size`` items per Query.

        Raises ``ValueError`` at once for a ``page_size`` below 1; the iterator raises ``LedgerUnavailable`` when a
        page cannot be read (the records yielded before it stand).
        """
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        return self._holds(_timestamp(cutoff), page_size)

    def _holds(self, cutoff: str, page_size: int) -> Iterator[PaymentRecord]:
        for status in HOLD_QUERY_ORDER:
            request: QueryInputTypeDef = {
                "TableName": self._table_name,
                "IndexName": self._holds_index_name,
                "KeyConditionExpression": HOLDS_KEY_CONDITION,
                "ExpressionAttributeValues": {":holdStatus": {"S": status}, ":cutoff": {"S": cutoff}},
                "ScanIndexForward": True,
                "Limit": page_size,
            }
            while True:
                try:
                    page = self._client.query(**request)
                except (ClientError, BotoCoreError):
                    raise LedgerUnavailable("the ledger could not read the holds") from None
                yield from map(_record, page["Items"])
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _get_item(self, payment_id: str) -> Mapping[str, Any] | None:
        try:
            response = self._client.get_item(
                TableName=self._table_name, Key={ID: {"S": payment_id}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError):
            raise LedgerUnavailable(f"the ledger could not read payment {payment_id}") from None
        return response.get("Item")


def _item_of_failed_condition(error: ClientError, failure: str) -> Mapping[str, Any] | None:
    """The item a failed condition returned (``ALL_OLD``; ``None`` when there was no item); any other error
    answer is a storage failure."""
    if error.response.get("Error", {}).get("Code") != CONDITION_FAILED:
        raise LedgerUnavailable(failure) from None
    # botocore parses the modelled ``Item`` into the response; its stubs type only the generic error fields.
    return cast("Mapping[str, Any]", error.response).get("Item")


def _not_applied(item: Mapping[str, Any] | None, transition: Transition) -> PaymentRecord:
    """Why ``transition`` did not apply to ``item`` (as it was when the condition was checked)."""
    if item is None:
        raise PaymentRecordMissing(transition.payment_id)
    record = _record(item)
    if transition.entry_id in item[ENTRY_IDS]["SS"]:
        return record
    raise TransitionRefused(record, transition.status)


def _entry(
    *,
    entry_id: str,
    status: PaymentStatus,
    at: str,
    amount: int,
    refunded_delta: int,
    source: EntrySource,
    request_id: str | None,
    idempotency_key: str | None,
    reason: str | None,
    captured_amount: int | None,
    authorized_amount: int | None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        ENTRY_ID: {"S": entry_id},
        STATUS: {"S": status},
        AT: {"S": at},
        AMOUNT: _number(amount),
        REFUNDED_DELTA: _number(refunded_delta),
        SOURCE: {"S": source},
    }
    for name, number in ((CAPTURED_AMOUNT, captured_amount), (AUTHORIZED_AMOUNT, authorized_amount)):
        if number is not None:
            entry[name] = _number(number)
    for name, text in ((REQUEST_ID, request_id), (IDEMPOTENCY_KEY, idempotency_key), (REASON, reason)):
        if text is not None:
            entry[name] = {"S": text}
    return {"M": entry}


def _record(item: Mapping[str, Any]) -> PaymentRecord:
    return PaymentRecord(
        payment_id=item[ID]["S"],
        status=PaymentStatus(item[STATUS]["S"]),
        provider=item[PROVIDER]["S"],
        currency=item[CURRENCY]["S"],
        authorized_amount=int(item[AUTHORIZED_AMOUNT]["N"]),
        captured_amount=int(item[CAPTURED_AMOUNT]["N"]),
        refunded_amount=int(item[REFUNDED_AMOUNT]["N"]),
        created_at=_moment(item[CREATED_AT]["S"]),
        updated_at=_moment(item[UPDATED_AT]["S"]),
        booking=_booking(item[BOOKING]["M"]) if BOOKING in item else None,
        history=_history(item[HISTORY]["L"]),
        reason=_text(item, REASON),
    )


def _history(entries: Sequence[Mapping[str, Any]]) -> tuple[HistoryEntry, ...]:
    """The entries with the totals and previous status each had, replayed in order (see the module docstring)."""
    authorized = captured = refunded = 0
    previous: PaymentStatus | None = None
    replayed = []
    for value in entries:
        entry = value["M"]
        status = PaymentStatus(entry[STATUS]["S"])
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
                at=_moment(entry[AT]["S"]),
                amount=int(entry[AMOUNT]["N"]),
                authorized_amount=authorized,
                captured_amount=captured,
                refunded_amount=refunded,
                source=EntrySource(entry[SOURCE]["S"]),
                request_id=_text(entry, REQUEST_ID),
                idempotency_key=_text(entry, IDEMPOTENCY_KEY),
                reason=_text(entry, REASON),
            )
        )
        previous = status
    return tuple(replayed)


def _booking_value(booking: BookingContext) -> dict[str, Any]:
    fields = ((BOOKING_ID, booking.booking_id), (CUSTOMER_ID, booking.customer_id), (EXECUTION, booking.execution))
    return {"M": {name: {"S": value} for name, value in fields if value is not None}}


def _booking(fields: Mapping[str, Any]) -> BookingContext:
    return BookingContext(
        booking_id=_text(fields, BOOKING_ID),
        customer_id=_text(fields, CUSTOMER_ID),
        execution=_text(fields, EXECUTION),
    )


def _text(attributes: Mapping[str, Any], name: str) -> str | None:
    value = attributes.get(name)
    return None if value is None else cast("str", value["S"])


def _number(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("ledger times must be timezone-aware")
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)  # since Python 3.11 this reads the trailing Z as UTC
