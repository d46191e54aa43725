"""The payment ledger (``lambdas.payment_api.ledger``) on DynamoDB: with ``ledger_items`` (the item layout:
attributes, history entries, the sparse ``holdStatus`` of the holds index), the only code that knows the table.

DynamoDB calls: ``get`` one GetItem, ``create`` one PutItem, ``apply`` one UpdateItem (one GetItem instead when no
status may move to the target), ``record_fraud_warning`` one UpdateItem, ``holds_created_before`` one Query per page
of each hold status.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.payment_api.ledger import (
    ALLOWED_TRANSITIONS,
    HOLD_STATUSES,
    FraudWarningNote,
    LedgerUnavailable,
    NewPayment,
    PaymentRecord,
    PaymentRecordMissing,
    PaymentStatus,
    Transition,
    TransitionRefused,
    allowed_sources,
)
from lambdas.payment_api.ledger_items import (
    AT,
    AUTHORIZED_AMOUNT,
    BOOKING,
    CAPTURED_AMOUNT,
    CREATED_AT,
    CURRENCY,
    DISPUTE,
    ENTRY_IDS,
    FRAUD_WARNING,
    HISTORY,
    HOLD_STATUS,
    ID,
    PROVIDER,
    REASON,
    REFUNDED_AMOUNT,
    STATUS,
    UPDATED_AT,
    booking_value,
    dispute_value,
    entry_value,
    fraud_warning_value,
    number,
    record_from_item,
    timestamp,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import CreateTableInputTypeDef, QueryInputTypeDef

__all__ = ["DynamoDBLedger", "table_definition"]

CONDITION_FAILED = "ConditionalCheckFailedException"


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
NOTE_CONDITION = f"attribute_exists({ID}) AND NOT contains({ENTRY_IDS}, :entryId)"
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
        return None if item is None else record_from_item(item)

    def create(self, payment: NewPayment) -> PaymentRecord:
        """Put the first item of ``payment``, unless one exists; returns the record written, or else the existing
        one unchanged (taken from the failed condition: no second read). An empty ``booking`` is stored as none."""
        now = timestamp(self._clock())
        entry = entry_value(
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
            AUTHORIZED_AMOUNT: number(payment.authorized_amount),
            CAPTURED_AMOUNT: number(payment.captured_amount),
            REFUNDED_AMOUNT: number(payment.refunded_amount),
            CREATED_AT: {"S": timestamp(payment.created_at)},
            UPDATED_AT: {"S": now},
            HISTORY: {"L": [entry]},
            ENTRY_IDS: {"SS": [payment.entry_id]},
        }
        if payment.status in HOLD_STATUSES:
            item[HOLD_STATUS] = {"S": payment.status}
        if payment.booking is not None and not payment.booking.empty:
            item[BOOKING] = booking_value(payment.booking)
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
            return record_from_item(item)
        if existing is None:  # DynamoDB returns the item; a store that ignores ALL_OLD must not make us invent one
            raise LedgerUnavailable(failure)
        return record_from_item(existing)

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
        entry = entry_value(
            entry_id=transition.entry_id,
            status=target,
            at=timestamp(transition.at),
            amount=transition.amount,
            refunded_delta=transition.refunded_delta,
            source=transition.source,
            request_id=transition.request_id,
            idempotency_key=transition.idempotency_key,
            reason=transition.reason,
            captured_amount=transition.captured_amount,
            authorized_amount=transition.authorized_amount,
            occurred_at=transition.occurred_at,
            dispute=transition.dispute,
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
        _set_given_fields(transition, sets, adds, values)
        update = f"SET {', '.join(sets)} ADD {', '.join(adds)}"
        if removes:
            update += f" REMOVE {', '.join(removes)}"
        written, current = self._update(
            transition.payment_id,
            update=update,
            condition=condition,
            values=values,
            names=STATUS_NAME,
        )
        if written is not None:
            return written
        return _not_applied(current, transition)

    def record_fraud_warning(self, note: FraudWarningNote) -> PaymentRecord:
        """Set the record's ``fraudWarning`` and append an entry without a status (the status stays), in one
        UpdateItem whose condition checks that the record exists and the entry is new.

        Returns the record after the write, or unchanged when it already holds the entry; ``PaymentRecordMissing``
        when there is no record (nothing written).
        """
        at = timestamp(note.at)
        entry = entry_value(
            entry_id=note.entry_id,
            status=None,
            at=at,
            amount=0,
            refunded_delta=0,
            source=note.source,
            reason="early_fraud_warning",
            occurred_at=note.occurred_at,
            fraud_warning=note.warning,
        )
        written, current = self._update(
            note.payment_id,
            update=(
                f"SET {FRAUD_WARNING} = :warning, {UPDATED_AT} = :at, {HISTORY} = list_append({HISTORY}, :entry) "
                f"ADD {ENTRY_IDS} :entrySet"
            ),
            condition=NOTE_CONDITION,
            values={
                ":warning": fraud_warning_value(note.warning),
                ":at": {"S": at},
                ":entry": {"L": [entry]},
                ":entryId": {"S": note.entry_id},
                ":entrySet": {"SS": [note.entry_id]},
            },
        )
        if written is not None:
            return written
        if current is None:
            raise PaymentRecordMissing(note.payment_id)
        return record_from_item(current)

    def _update(
        self,
        payment_id: str,
        *,
        update: str,
        condition: str,
        values: dict[str, Any],
        names: Mapping[str, str] | None = None,
    ) -> tuple[PaymentRecord | None, Mapping[str, Any] | None]:
        """One conditional UpdateItem: (the record after it, None) when it was written, else (None, the item as the
        failed condition saw it, None when there is no item). Any other failure raises ``LedgerUnavailable``."""
        failure = f"the ledger could not update payment {payment_id}"
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "Key": {ID: {"S": payment_id}},
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        try:
            response = self._client.update_item(**request)
        except ClientError as error:
            return None, _item_of_failed_condition(error, failure)
        except BotoCoreError:
            raise LedgerUnavailable(failure) from None
        return record_from_item(response["Attributes"]), None

    def holds_created_before(self, cutoff: datetime, *, page_size: int) -> Iterator[PaymentRecord]:
        """Records in a hold status created strictly before ``cutoff``, oldest first within each hold status
        (``authorized``, then ``requires_action``), read lazily from the holds index ``page_size`` items per Query.

        Raises ``ValueError`` at once for a ``page_size`` below 1; the iterator raises ``LedgerUnavailable`` when a
        page cannot be read (the records yielded before it stand).
        """
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        return self._holds(timestamp(cutoff), page_size)

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
                yield from map(record_from_item, page["Items"])
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


def _set_given_fields(transition: Transition, sets: list[str], adds: list[str], values: dict[str, Any]) -> None:
    """The parts of ``apply``'s update for the fields ``transition`` gives (the others stay as they are)."""
    if transition.captured_amount is not None:
        sets.append(f"{CAPTURED_AMOUNT} = :captured")
        values[":captured"] = number(transition.captured_amount)
    if transition.authorized_amount is not None:
        sets.append(f"{AUTHORIZED_AMOUNT} = :authorized")
        values[":authorized"] = number(transition.authorized_amount)
    if transition.booking is not None and not transition.booking.empty:
        sets.append(f"{BOOKING} = :booking")
        values[":booking"] = booking_value(transition.booking)
    if transition.reason is not None:
        sets.append(f"{REASON} = :reason")
        values[":reason"] = {"S": transition.reason}
    if transition.dispute is not None:
        sets.append(f"{DISPUTE} = :dispute")
        values[":dispute"] = dispute_value(transition.dispute)
    if transition.refunded_delta != 0:
        adds.append(f"{REFUNDED_AMOUNT} :refundedDelta")
        values[":refundedDelta"] = number(transition.refunded_delta)


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
    record = record_from_item(item)
    if transition.entry_id in item[ENTRY_IDS]["SS"]:
        return record
    raise TransitionRefused(record, transition.status)
