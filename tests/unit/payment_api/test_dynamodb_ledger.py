"""The DynamoDB ledger on moto's DynamoDB, with the table and index laid out as the stack creates them.

The tests read back what is stored (through the ledger and as raw items) and count the calls the adapter makes: it
runs on every payment request, so one call per operation is part of its contract. Storage failures are raised by a
stand-in client, as botocore raises them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NoReturn, cast

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from moto import mock_aws

from lambdas.payment_api.dynamodb_ledger import DynamoDBLedger, table_definition
from lambdas.payment_api.ledger import (
    ALLOWED_TRANSITIONS,
    HOLD_STATUSES,
    BookingContext,
    EntrySource,
    LedgerUnavailable,
    NewPayment,
    PaymentRecord,
    PaymentRecordMissing,
    PaymentStatus,
    Transition,
    TransitionRefused,
)

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_dynamodb import DynamoDBClient

S = PaymentStatus
TABLE = "test-payments"
HOLDS_INDEX = "holds-by-age"
CREATED = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 2, 13, 23, 20, 123456, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
BOOKING = BookingContext(
    booking_id="bk_1", customer_id="cust_1", execution="arn:aws:states:eu-west-1:123456789012:execution:booking:1"
)
ALLOWED = [(source, target) for source, targets in ALLOWED_TRANSITIONS.items() for target in sorted(targets)]
REFUSED = [
    (source, target)
    for source, target in itertools.product(PaymentStatus, PaymentStatus)
    if target not in ALLOWED_TRANSITIONS[source]
]


def pair_ids(pairs: list[tuple[PaymentStatus, PaymentStatus]]) -> list[str]:
    return [f"{source}->{target}" for source, target in pairs]


@dataclass
class CallLog:
    """The DynamoDB operations a client made, in order, with their parameters."""

    operations: list[str] = field(default_factory=list)
    parameters: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture(scope="module")
def _moto() -> Iterator[None]:
    """One moto mock for the module (clients made under it share one loaded service model)."""
    with mock_aws():
        yield


@pytest.fixture
def dynamodb(_moto: None) -> Iterator[DynamoDBClient]:
    """A client for setting up and inspecting the table, which exists empty for each test."""
    client = boto3.client("dynamodb")
    client.create_table(**table_definition(TABLE, HOLDS_INDEX))
    yield client
    client.delete_table(TableName=TABLE)


@pytest.fixture
def calls() -> CallLog:
    """What the ``ledger`` fixture's client asked DynamoDB (the test's own inspection calls are not in it)."""
    return CallLog()


@pytest.fixture
def ledger(dynamodb: DynamoDBClient, calls: CallLog) -> DynamoDBLedger:
    """The adapter on a client of its own, whose every call is logged in ``calls``."""
    client = boto3.client("dynamodb")

    def log(model: OperationModel, params: dict[str, Any], **_: Any) -> None:
        calls.operations.append(model.name)
        calls.parameters.append(params)

    client.meta.events.register("before-parameter-build.dynamodb", log)
    return DynamoDBLedger(table_name=TABLE, holds_index_name=HOLDS_INDEX, client=client, clock=lambda: NOW)


def new_payment(
    payment_id: str = "ch_1",
    *,
    status: PaymentStatus = S.AUTHORIZED,
    created_at: datetime = CREATED,
    captured: int = 0,
    refunded: int = 0,
    booking: BookingContext | None = BOOKING,
    entry_id: str = "api:charge",
) -> NewPayment:
    return NewPayment(
        payment_id=payment_id,
        status=status,
        provider="stripe",
        currency="eur",
        authorized_amount=1000,
        captured_amount=captured,
        refunded_amount=refunded,
        created_at=created_at,
        entry_id=entry_id,
        source=EntrySource.API,
        request_id="req-charge",
        idempotency_key="charge-key",
        booking=booking,
    )


def transition(status: PaymentStatus, entry_id: str, *, payment_id: str = "ch_1", **changes: Any) -> Transition:
    return replace(
        Transition(
            payment_id=payment_id,
            status=status,
            entry_id=entry_id,
            at=LATER,
            amount=0,
            source=EntrySource.API,
            request_id=f"req-{entry_id}",
            idempotency_key=None,
        ),
        **changes,
    )


def capture(**changes: Any) -> Transition:
    return transition(S.CAPTURED, "api:capture", amount=1000, captured_amount=1000, **changes)


def refund(amount: int, entry_id: str, *, status: PaymentStatus = S.PARTIALLY_REFUNDED) -> Transition:
    return transition(status, entry_id, amount=amount, refunded_delta=amount)


def raw_item(dynamodb: DynamoDBClient, payment_id: str = "ch_1") -> dict[str, Any]:
    return dict(dynamodb.get_item(TableName=TABLE, Key={"id": {"S": payment_id}}, ConsistentRead=True)["Item"])


def stored(ledger: DynamoDBLedger, payment_id: str = "ch_1") -> PaymentRecord:
    record = ledger.get(payment_id)
    assert record is not None
    return record


def payment_in(status: PaymentStatus) -> NewPayment:
    """A payment recorded in ``status`` with totals that fit it."""
    taken = status not in {*HOLD_STATUSES, S.RELEASED, S.EXPIRED}
    refunded = {S.PARTIALLY_REFUNDED: 300, S.REFUNDED: 1000}.get(status, 0)
    return new_payment(status=status, captured=1000 if taken else 0, refunded=refunded)


def move_to(target: PaymentStatus) -> Transition:
    """A transition to ``target`` as the service would make it."""
    if target is S.CAPTURED:
        return capture()
    if target in {S.PARTIALLY_REFUNDED, S.REFUNDED}:
        return refund(100, "api:refund:1", status=target)
    return transition(target, f"api:{target}", amount=1000)


class FailingClient:
    """Stands in for the boto3 client: every operation raises ``error``, as botocore would."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, operation: str) -> Callable[..., NoReturn]:
        def fail(**_: Any) -> NoReturn:
            raise self.error

        return fail


def failing_ledger(error: Exception) -> DynamoDBLedger:
    client = cast("DynamoDBClient", FailingClient(error))
    return DynamoDBLedger(table_name=TABLE, holds_index_name=HOLDS_INDEX, client=client)


# --- create and get ------------------------------------------------------------------------------------------------


def test_a_created_payment_reads_back_with_every_field(
    ledger: DynamoDBLedger, dynamodb: DynamoDBClient, calls: CallLog
) -> None:
    # Given a payment created at a time given in another zone, with a booking and a reason
    created_at = datetime(2026, 12, 2, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    payment = replace(new_payment(created_at=created_at), currency="EUR", reason="backfill")
    # When it is created
    created = ledger.create(payment)
    # Then one write was made, and the record reads back as it was returned
    assert calls.operations == ["PutItem"]
    assert stored(ledger) == created
    # And it holds every field, the first history entry carrying the first totals
    assert (created.payment_id, created.status, created.provider) == ("ch_1", S.AUTHORIZED, "stripe")
    assert created.currency == "eur"
    assert (created.authorized_amount, created.captured_amount, created.refunded_amount) == (1000, 0, 0)
    assert (created.created_at, created.updated_at) == (CREATED, NOW)
    assert (created.booking, created.reason) == (BOOKING, "backfill")
    [entry] = created.history
    assert (entry.entry_id, entry.status, entry.previous_status, entry.at) == ("api:charge", S.AUTHORIZED, None, NOW)
    assert (entry.amount, entry.authorized_amount, entry.captured_amount, entry.refunded_amount) == (1000, 1000, 0, 0)
    assert (entry.source, entry.request_id, entry.idempotency_key) == (EntrySource.API, "req-charge", "charge-key")
    assert entry.reason == "backfill"
    # And the item has the stack's layout: UTC times of a fixed width, the entry ids, the index key of a hold
    item = raw_item(dynamodb)
    assert set(item) == {
        "id",
        "status",
        "provider",
        "currency",
        "authorizedAmount",
        "capturedAmount",
        "refundedAmount",
        "createdAt",
        "updatedAt",
        "booking",
        "reason",
        "history",
        "entryIds",
        "holdStatus",
    }
    assert item["createdAt"] == {"S": "2026-12-02T12:00:00.000000Z"}
    assert item["updatedAt"] == {"S": "2026-12-02T13:23:20.123456Z"}
    assert item["holdStatus"] == {"S": "authorized"}
    assert item["entryIds"] == {"SS": ["api:charge"]}
    assert item["booking"] == {
        "M": {"bookingId": {"S": "bk_1"}, "customerId": {"S": "cust_1"}, "execution": {"S": BOOKING.execution}}
    }


@pytest.mark.parametrize("booking", [None, BookingContext()], ids=["none", "empty"])
def test_a_payment_without_a_booking_or_reason_stores_neither(
    ledger: DynamoDBLedger, dynamodb: DynamoDBClient, booking: BookingContext | None
) -> None:
    created = ledger.create(new_payment(booking=booking))
    assert created.booking is None
    assert created.reason is None
    assert stored(ledger) == created
    assert not {"booking", "reason"} & set(raw_item(dynamodb))


def test_a_payment_recorded_outside_the_holds_is_not_in_the_holds_index(
    ledger: DynamoDBLedger, dynamodb: DynamoDBClient
) -> None:
    # Given a back-filled payment that was captured and refunded in part before the ledger knew it
    created = ledger.create(new_payment(status=S.PARTIALLY_REFUNDED, captured=1000, refunded=300))
    # Then its totals are the provider's, the first entry says so, and the sweeper will never see it
    assert (created.captured_amount, created.refunded_amount, created.refundable_amount) == (1000, 300, 700)
    assert (created.history[0].captured_amount, created.history[0].refunded_amount) == (1000, 300)
    assert stored(ledger) == created
    assert "holdStatus" not in raw_item(dynamodb)
    assert list(ledger.holds_created_before(NOW, page_size=10)) == []


def test_creating_an_existing_payment_writes_nothing_and_returns_it(
    ledger: DynamoDBLedger, dynamodb: DynamoDBClient, calls: CallLog
) -> None:
    # Given a recorded payment
    first = ledger.create(new_payment())
    before = raw_item(dynamodb)
    calls.operations.clear()
    # When a back-fill racing it creates the same payment with other values
    racing = replace(new_payment(status=S.CAPTURED, captured=1000, entry_id="provider:backfill"), provider="other")
    again = ledger.create(racing)
    # Then the first record is returned, taken from the failed condition (no second read), and nothing changed
    assert again == first
    assert calls.operations == ["PutItem"]
    assert raw_item(dynamodb) == before


def test_get_of_an_unknown_payment_is_none(ledger: DynamoDBLedger, calls: CallLog) -> None:
    assert ledger.get("ch_unknown") is None
    assert calls.operations == ["GetItem"]


def test_get_reads_strongly_consistent(ledger: DynamoDBLedger, calls: CallLog) -> None:
    # moto is always consistent, so the request itself is checked: a capture right after /charge must see the hold.
    ledger.get("ch_1")
    assert calls.parameters[-1]["ConsistentRead"] is True


# --- apply ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "target"), ALLOWED, ids=pair_ids(ALLOWED))
def test_every_allowed_transition_applies_in_one_write(
    ledger: DynamoDBLedger, dynamodb: DynamoDBClient, calls: CallLog, source: PaymentStatus, target: PaymentStatus
) -> None:
    # Given a payment in the source status
    before = ledger.create(payment_in(source))
    move = move_to(target)
    # When it moves to the target
    after = ledger.apply(move)
    # Then one conditional write did it, and the record reads back as returned
    assert calls.operations == ["PutItem", "UpdateItem"]
    assert stored(ledger) == after
    assert (after.status, after.updated_at, after.created_at) == (target, LATER, CREATED)
    assert after.refunded_amount == before.refunded_amount + move.refunded_delta
    # And the new entry records the move with the record's totals after it
    assert [entry.entry_id for entry in after.history] == ["api:charge", move.entry_id]
    entry = after.history[-1]
    assert (entry.status, entry.previous_status, entry.at, entry.amount) == (target, source, LATER, move.amount)
    assert (entry.authorized_amount, entry.captured_amount, entry.refunded_amount) == (
        after.authorized_amount,
        after.captured_amount,
        after.refunded_amount,
    )
    # And the index key follows the status: kept while a hold, removed when the payment leaves the holds
    item = raw_item(dynamodb)
    assert item.get("holdStatus") == ({"S": target.value} if target in HOLD_STATUSES else None)
    assert set(item["entryIds"]["SS"]) == {"api:charge", move.entry_id}


@pytest.mark.parametrize(("source", "target"), REFUSED, ids=pair_ids(REFUSED))
def test_a_transition_the_table_does_not_allow_is_refused_and_changes_nothing(
    ledger: DynamoDBLedger, dynamodb: DynamoDBClient, calls: CallLog, source: PaymentStatus, target: PaymentStatus
) -> None:
    # Given a payment in the source status
    ledger.create(payment_in(source))
    before = raw_item(dynamodb)
    calls.operations.clear()
    # When a transition the table does not allow is applied
    with pytest.raises(TransitionRefused) as refused:
        ledger.apply(move_to(target))
    # Then it is refused in one call (a read when no status may move to the target at all), with the record as it is
    assert calls.operations == (["GetItem"] if target is S.REQUIRES_ACTION else ["UpdateItem"])
    assert refused.value.record == stored(ledger)
    assert (refused.value.record.status, refused.value.target) == (source, target)
    # And nothing was written
    assert raw_item(dynamodb) == before


def test_a_replayed_entry_returns_the_record_unchanged(
    ledger: DynamoDBLedger, dynamodb: DynamoDBClient, calls: CallLog
) -> None:
    # Given a captured payment refunded in part
    ledger.create(new_payment())
    ledger.apply(capture())
    refunded = ledger.apply(refund(300, "api:refund:1"))
    before = raw_item(dynamodb)
    calls.operations.clear()
    # When the same refund is applied again (the request retried)
    replayed = ledger.apply(refund(300, "api:refund:1"))
    # Then the record comes back as it was, from the failed condition alone, and nothing was written
    assert replayed == refunded
    assert calls.operations == ["UpdateItem"]
    assert raw_item(dynamodb) == before
    # And the refund counts once, with one entry
    assert stored(ledger).refunded_amount == 300
    assert [entry.entry_id for entry in stored(ledger).history] == ["api:charge", "api:capture", "api:refund:1"]


def test_a_retried_earlier_transition_returns_the_record_as_it_is_now(
    ledger: DynamoDBLedger, dynamodb: DynamoDBClient
) -> None:
    # Given a payment captured and then refunded in full
    ledger.create(new_payment())
    ledger.apply(capture())
    refunded = ledger.apply(refund(1000, "api:refund:1", status=S.REFUNDED))
    before = raw_item(dynamodb)
    # When the capture's retry arrives late (refunded -> captured is not allowed, but the entry is there)
    retried = ledger.apply(capture())
    # Then it is answered as a replay with the record as it is now, not refused
    assert retried == refunded
    assert retried.status is S.REFUNDED
    assert raw_item(dynamodb) == before


def test_partial_refunds_with_different_entries_add_up(ledger: DynamoDBLedger, dynamodb: DynamoDBClient) -> None:
    # Given a captured payment
    ledger.create(new_payment())
    ledger.apply(capture())
    # When it is refunded 300, then 200
    ledger.apply(refund(300, "api:refund:1"))
    second = ledger.apply(refund(200, "api:refund:2"))
    # Then both count, and every entry carries the totals after it (rebuilt from the stored deltas)
    assert stored(ledger) == second
    assert (second.status, second.refunded_amount, second.refundable_amount) == (S.PARTIALLY_REFUNDED, 500, 500)
    assert [entry.refunded_amount for entry in second.history] == [0, 0, 300, 500]
    assert [entry.captured_amount for entry in second.history] == [0, 1000, 1000, 1000]
    assert [entry.previous_status for entry in second.history] == [
        None,
        S.AUTHORIZED,
        S.CAPTURED,
        S.PARTIALLY_REFUNDED,
    ]
    # When the rest is refunded
    last = ledger.apply(refund(500, "api:refund:3", status=S.REFUNDED))
    # Then the stored total is the sum of the three refunds
    assert stored(ledger) == last
    assert (last.status, last.refunded_amount, last.refundable_amount) == (S.REFUNDED, 1000, 0)
    assert raw_item(dynamodb)["refundedAmount"] == {"N": "1000"}


def test_an_out_of_order_write_never_moves_a_payment_backwards(
    ledger: DynamoDBLedger, dynamodb: DynamoDBClient
) -> None:
    # Given a hold waiting for 3-D Secure, captured directly
    ledger.create(new_payment(status=S.REQUIRES_ACTION))
    captured = ledger.apply(capture())
    # When the older "authorised" news arrives afterwards
    with pytest.raises(TransitionRefused) as refused:
        ledger.apply(transition(S.AUTHORIZED, "provider:authorized", amount=1000))
    # Then the payment stays captured, without that entry, and out of the holds the sweeper releases
    assert refused.value.record == captured
    assert stored(ledger) == captured
    assert not captured.has_entry("provider:authorized")
    assert "holdStatus" not in raw_item(dynamodb)
    assert list(ledger.holds_created_before(NOW, page_size=10)) == []


def test_a_transition_sets_the_booking_the_authorised_amount_and_the_reason_it_gives(
    ledger: DynamoDBLedger, dynamodb: DynamoDBClient
) -> None:
    # Given a payment recorded without a booking
    ledger.create(new_payment(booking=None))
    # When a capture gives the booking, a corrected authorised amount and a reason
    captured = ledger.apply(capture(booking=BOOKING, authorized_amount=1200, reason="provider_state"))
    # Then the record has them, and only the new entry has the corrected amount
    assert stored(ledger) == captured
    assert (captured.booking, captured.authorized_amount, captured.reason) == (BOOKING, 1200, "provider_state")
    assert [entry.authorized_amount for entry in captured.history] == [1000, 1200]
    assert captured.history[-1].reason == "provider_state"
    # When a later transition gives an empty booking and no reason
    refunded = ledger.apply(replace(refund(100, "api:refund:1"), booking=BookingContext()))
    # Then the booking and the reason stay as they were
    assert (refunded.booking, refunded.reason) == (BOOKING, "provider_state")
    assert raw_item(dynamodb)["booking"]["M"]["bookingId"] == {"S": "bk_1"}


@pytest.mark.parametrize("target", [S.CAPTURED, S.REQUIRES_ACTION])
def test_a_transition_of_a_payment_without_a_record_raises_and_creates_none(
    ledger: DynamoDBLedger, dynamodb: DynamoDBClient, target: PaymentStatus
) -> None:
    # When a transition arrives for a payment the ledger has no record of
    with pytest.raises(PaymentRecordMissing) as missing:
        ledger.apply(transition(target, "api:x", payment_id="ch_unknown"))
    # Then it says which, and no item was made (an UpdateItem without its condition would have made one)
    assert missing.value.payment_id == "ch_unknown"
    assert ledger.get("ch_unknown") is None
    assert dynamodb.scan(TableName=TABLE)["Count"] == 0


# --- holds_created_before ------------------------------------------------------------------------------------------


def test_a_hold_is_in_the_holds_index_until_it_is_captured_or_released(
    ledger: DynamoDBLedger, dynamodb: DynamoDBClient
) -> None:
    # Given an authorised hold and one waiting for 3-D Secure
    ledger.create(new_payment("ch_auth"))
    ledger.create(new_payment("pi_3ds", status=S.REQUIRES_ACTION))
    assert [record.payment_id for record in ledger.holds_created_before(NOW, page_size=10)] == ["ch_auth", "pi_3ds"]
    # When the second is authorised, it stays a hold under its new status
    ledger.apply(transition(S.AUTHORIZED, "provider:authorized", payment_id="pi_3ds", amount=1000))
    assert raw_item(dynamodb, "pi_3ds")["holdStatus"] == {"S": "authorized"}
    # When one is captured and the sweeper releases the other
    ledger.apply(capture(payment_id="ch_auth"))
    ledger.apply(
        transition(
            S.RELEASED,
            "sweeper:release",
            payment_id="pi_3ds",
            amount=1000,
            source=EntrySource.SWEEPER,
            reason="abandoned",
        )
    )
    # Then both left the index in the same write
    assert "holdStatus" not in raw_item(dynamodb, "ch_auth")
    assert "holdStatus" not in raw_item(dynamodb, "pi_3ds")
    assert list(ledger.holds_created_before(NOW, page_size=10)) == []


def test_holds_created_before_yields_the_older_holds_oldest_first_a_page_at_a_time(
    ledger: DynamoDBLedger, calls: CallLog
) -> None:
    # Given three authorised holds older than the cutoff, created in no particular order
    cutoff = CREATED
    for payment_id, hours in [("ch_b", 2), ("ch_c", 1), ("ch_a", 3)]:
        ledger.create(new_payment(payment_id, created_at=cutoff - timedelta(hours=hours)))
    # And holds created at or after the cutoff, an older 3-D Secure hold, and an older captured payment
    ledger.create(new_payment("ch_at_cutoff", created_at=cutoff))
    ledger.create(new_payment("ch_newer", created_at=cutoff + timedelta(microseconds=1)))
    ledger.create(new_payment("pi_3ds", status=S.REQUIRES_ACTION, created_at=cutoff - timedelta(days=1)))
    ledger.create(new_payment("ch_taken", status=S.CAPTURED, captured=1000, created_at=cutoff - timedelta(days=2)))
    calls.operations.clear()
    # When the holds created before the cutoff are read two at a time
    holds = list(ledger.holds_created_before(cutoff, page_size=2))
    # Then only the older holds come, oldest first per status, in three Queries (two pages, then one)
    assert [record.payment_id for record in holds] == ["ch_a", "ch_b", "ch_c", "pi_3ds"]
    assert calls.operations == ["Query", "Query", "Query"]
    # And they are whole records
    assert holds[0] == stored(ledger, "ch_a")


def test_holds_created_before_reads_no_further_than_the_caller_iterates(ledger: DynamoDBLedger, calls: CallLog) -> None:
    # Given three old holds
    for index in range(3):
        ledger.create(new_payment(f"ch_{index}", created_at=CREATED + timedelta(minutes=index)))
    calls.operations.clear()
    # When the caller asks for the holds, nothing is read yet
    holds = ledger.holds_created_before(NOW, page_size=2)
    assert calls.operations == []
    # When it takes the first two, one page is read
    assert [record.payment_id for record in itertools.islice(holds, 2)] == ["ch_0", "ch_1"]
    assert calls.operations == ["Query"]
    # When it takes one more, the next page is read
    assert next(holds).payment_id == "ch_2"
    assert calls.operations == ["Query", "Query"]


def test_holds_created_before_needs_a_page_size_of_at_least_one(ledger: DynamoDBLedger, calls: CallLog) -> None:
    with pytest.raises(ValueError, match="page_size"):
        ledger.holds_created_before(NOW, page_size=0)
    assert calls.operations == []


def test_a_time_without_a_zone_is_refused_before_anything_is_written(
    ledger: DynamoDBLedger, dynamodb: DynamoDBClient, calls: CallLog
) -> None:
    # A naive time would be stored as whatever the Lambda's local time is, and sort wrongly in the index.
    with pytest.raises(ValueError, match="timezone-aware"):
        ledger.create(new_payment(created_at=CREATED.replace(tzinfo=None)))
    assert calls.operations == []
    assert dynamodb.scan(TableName=TABLE)["Count"] == 0


# --- storage failures ----------------------------------------------------------------------------------------------

ENDPOINT = "https://dynamodb.eu-west-1.amazonaws.com/"
STORAGE_FAILURES: dict[str, Exception] = {
    "throttled": ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate of requests exceeds"}}, "GetItem"
    ),
    "internal error": ClientError({"Error": {"Code": "InternalServerError", "Message": "Internal"}}, "UpdateItem"),
    "no connection": EndpointConnectionError(endpoint_url=ENDPOINT),
    "read timeout": ReadTimeoutError(endpoint_url=ENDPOINT),
}
OPERATIONS: dict[str, Callable[[DynamoDBLedger], object]] = {
    "get": lambda ledger: ledger.get("ch_1"),
    "create": lambda ledger: ledger.create(new_payment()),
    "apply": lambda ledger: ledger.apply(capture()),
    "apply to a status without sources": lambda ledger: ledger.apply(move_to(S.REQUIRES_ACTION)),
    "holds_created_before": lambda ledger: next(ledger.holds_created_before(NOW, page_size=10)),
}


@pytest.mark.parametrize("failure", list(STORAGE_FAILURES))
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_a_storage_failure_is_ledger_unavailable(operation: str, failure: str) -> None:
    # Given a client whose every call fails
    ledger = failing_ledger(STORAGE_FAILURES[failure])
    # When the ledger is used
    with pytest.raises(LedgerUnavailable) as unavailable:
        OPERATIONS[operation](ledger)
    # Then the caller gets the port's error alone: no botocore error chained, no storage details in the message
    assert unavailable.value.__cause__ is None
    assert unavailable.value.__suppress_context__
    message = str(unavailable.value)
    assert "ch_1" in message or operation == "holds_created_before"
    for detail in ("Exception", "Error", "dynamodb", "amazonaws", "Rate of requests", "Internal"):
        assert detail not in message


def test_a_failed_condition_without_the_item_is_ledger_unavailable_for_create() -> None:
    # A store that ignores ReturnValuesOnConditionCheckFailure (an emulator) must not make create invent a record.
    failed = ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "failed"}}, "PutItem")
    with pytest.raises(LedgerUnavailable):
        failing_ledger(failed).create(new_payment())
