"""The event publisher through its real handler: ledger writes (as their stream images) in, bus events out.

The ledger, the bus and an SQS queue subscribed to it are moto's; every ledger write is made by the real adapter and
its item read back as the stream's new image, so the test sees what the stream would carry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from lambdas.payment_api.dynamodb_ledger import DynamoDBLedger
from lambdas.payment_api.event_bus import EventPublishFailed
from lambdas.payment_api.ledger import (
    BookingContext,
    Dispute,
    EntrySource,
    FraudWarning,
    FraudWarningNote,
    NewPayment,
    PaymentStatus,
    Transition,
)
from lambdas.payment_api.payment_events import SOURCE, DetailType, PaymentEvent
from tests.fixtures.payment_api import LEDGER_HOLDS_INDEX, LEDGER_TABLE
from tests.support.api_events import FakeLambdaContext

S = PaymentStatus
BUS = "payment-test"  # tests/conftest.py's PAYMENT_EVENT_BUS_NAME
AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
BOOKING = BookingContext(booking_id="bk_1", customer_id="cust_1", execution="arn:aws:states:eu-west-1:1:execution:b:1")


@pytest.fixture
def bus_queue(aws: None) -> Iterator[str]:
    """The bus, and a queue that gets every payment event on it (as local mode's tap does)."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name=BUS)
    queue_url = sqs.create_queue(QueueName="payment-events-tap")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="tap", EventBusName=BUS, EventPattern=json.dumps({"source": [SOURCE]}))
    events.put_targets(Rule="tap", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}])
    yield queue_url
    events.remove_targets(Rule="tap", EventBusName=BUS, Ids=["queue"])
    events.delete_rule(Name="tap", EventBusName=BUS)
    events.delete_event_bus(Name=BUS)
    sqs.delete_queue(QueueUrl=queue_url)


@pytest.fixture
def publisher(aws: None) -> ModuleType:
    from lambdas.payment_api import event_publisher  # noqa: PLC0415 - imported under moto, with conftest's environment

    return event_publisher


@pytest.fixture
def ledger(aws: None) -> DynamoDBLedger:
    return DynamoDBLedger(
        table_name=LEDGER_TABLE, holds_index_name=LEDGER_HOLDS_INDEX, client=boto3.client("dynamodb"), clock=lambda: AT
    )


class Stream:
    """The stream records the ledger's writes make: one per write, its new image read back from the table."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def capture(self, payment_id: str) -> dict[str, Any]:
        item = boto3.client("dynamodb").get_item(TableName=LEDGER_TABLE, Key={"id": {"S": payment_id}})["Item"]
        sequence = str(1000 + len(self.records))
        record = {
            "eventID": f"evt{sequence}",
            "eventName": "INSERT" if len(item["history"]["L"]) == 1 else "MODIFY",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1",
            "dynamodb": {
                "Keys": {"id": item["id"]},
                "NewImage": item,
                "SequenceNumber": sequence,
                "SizeBytes": 100,
                "StreamViewType": "NEW_IMAGE",
            },
            "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/test-ledger/stream/2026",
        }
        self.records.append(record)
        return record


def hold(ledger: DynamoDBLedger, stream: Stream, payment_id: str, *, booking: BookingContext | None = None) -> None:
    ledger.create(
        NewPayment(
            payment_id=payment_id,
            status=S.AUTHORIZED,
            provider="stripe",
            currency="eur",
            authorized_amount=12500,
            created_at=AT,
            entry_id="authorize:k1",
            source=EntrySource.API,
            request_id="req-1",
            idempotency_key="charge:k1",
            booking=booking,
        )
    )
    stream.capture(payment_id)


def move(
    ledger: DynamoDBLedger, stream: Stream, payment_id: str, status: PaymentStatus, entry_id: str, **fields: Any
) -> None:
    ledger.apply(
        Transition(
            payment_id=payment_id,
            status=status,
            entry_id=entry_id,
            at=AT + timedelta(minutes=len(stream.records)),
            amount=fields.pop("amount", 12500),
            source=fields.pop("source", EntrySource.WEBHOOK),
            request_id=None,
            idempotency_key=None,
            **fields,
        )
    )
    stream.capture(payment_id)


def received(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            messages.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def run(publisher: ModuleType, records: list[dict[str, Any]]) -> dict[str, Any]:
    answer: dict[str, Any] = publisher.handler({"Records": records}, FakeLambdaContext())
    return answer


def metric_names(output: str) -> list[str]:
    names = []
    for line in output.splitlines():
        if line.startswith('{"_aws"'):
            metrics = json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            names += [metric["Name"] for metric in metrics for _ in range(len(json.loads(line)[metric["Name"]]))]
    return names


DISPUTE_OPEN = Dispute(
    dispute_id="dp_1", amount=12500, reason="fraudulent", status="needs_response", evidence_due_by=AT
)
DISPUTE_LOST = Dispute(dispute_id="dp_1", amount=12500, reason="fraudulent", status="lost", evidence_due_by=AT)


def test_every_transition_of_a_payment_is_one_event_on_the_bus_whatever_caused_it(
    publisher: ModuleType, ledger: DynamoDBLedger, bus_queue: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = Stream()
    hold(ledger, stream, "ch_life", booking=BOOKING)
    move(ledger, stream, "ch_life", S.CAPTURED, "capture:k2", captured_amount=12500, source=EntrySource.API)
    ledger.record_fraud_warning(
        FraudWarningNote(
            payment_id="ch_life",
            entry_id="fraud-warning:issfr_1",
            at=AT,
            occurred_at=AT,
            source=EntrySource.WEBHOOK,
            warning=FraudWarning(warning_id="issfr_1", fraud_type="made_with_stolen_card", actionable=True),
        )
    )
    stream.capture("ch_life")
    move(ledger, stream, "ch_life", S.DISPUTED, "webhook:evt_open", dispute=DISPUTE_OPEN)
    move(ledger, stream, "ch_life", S.DISPUTED, "webhook:evt_update", dispute=DISPUTE_OPEN)
    move(ledger, stream, "ch_life", S.DISPUTED, "webhook:evt_closed", dispute=DISPUTE_LOST)
    capsys.readouterr()
    assert run(publisher, stream.records) == {"batchItemFailures": []}
    events = received(bus_queue)
    assert [event["detail-type"] for event in events] == [
        DetailType.PAYMENT_AUTHORIZED,
        DetailType.PAYMENT_CAPTURED,
        DetailType.EARLY_FRAUD_WARNING,
        DetailType.PAYMENT_DISPUTED,
        DetailType.PAYMENT_DISPUTED,
        DetailType.DISPUTE_CLOSED,
    ]
    assert {event["source"] for event in events} == {SOURCE}
    assert [event["detail"]["eventId"] for event in events] == [
        "ch_life:authorize:k1",
        "ch_life:capture:k2",
        "ch_life:fraud-warning:issfr_1",
        "ch_life:webhook:evt_open",
        "ch_life:webhook:evt_update",
        "ch_life:webhook:evt_closed",
    ]
    captured, closed = events[1]["detail"], events[5]["detail"]
    assert captured == {
        "eventId": "ch_life:capture:k2",
        "paymentId": "ch_life",
        "bookingId": "bk_1",
        "customerId": "cust_1",
        "status": "captured",
        "previousStatus": "authorized",
        "amount": 12500,
        "authorizedAmount": 12500,
        "capturedAmount": 12500,
        "refundedAmount": 0,
        "currency": "eur",
        "source": "api",
        "reason": None,
        "occurredAt": "2026-12-02T09:01:00.000Z",
        "recordedAt": "2026-12-02T09:01:00.000Z",
        "dispute": None,
        "fraudWarning": None,
    }
    assert closed["dispute"] == {
        "id": "dp_1",
        "amount": 12500,
        "reason": "fraudulent",
        "status": "lost",
        "evidenceDueBy": "2026-12-02T09:00:00.000Z",
        "outcome": "lost",
    }
    assert events[2]["detail"]["fraudWarning"] == {
        "id": "issfr_1",
        "fraudType": "made_with_stolen_card",
        "actionable": True,
    }
    assert events[2]["detail"]["status"] == "captured"
    # And one dispute opened is counted once (its update and close are not new disputes)
    assert metric_names(capsys.readouterr().out).count("DisputeOpened") == 1


def test_failed_refunds_and_expired_holds_of_bookings_are_counted_for_their_alarms(
    publisher: ModuleType, ledger: DynamoDBLedger, bus_queue: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = Stream()
    hold(ledger, stream, "ch_booked", booking=BOOKING)
    move(ledger, stream, "ch_booked", S.EXPIRED, "webhook:evt_exp", reason="expired")
    hold(ledger, stream, "ch_nobody")
    move(ledger, stream, "ch_nobody", S.EXPIRED, "webhook:evt_exp2", reason="expired")
    hold(ledger, stream, "ch_refund")
    move(ledger, stream, "ch_refund", S.CAPTURED, "capture:k", captured_amount=12500)
    move(ledger, stream, "ch_refund", S.REFUNDED, "refund:re_1", refunded_delta=12500)
    move(ledger, stream, "ch_refund", S.REFUND_FAILED, "refund-failed:re_1", refunded_delta=-12500)
    capsys.readouterr()
    assert run(publisher, stream.records) == {"batchItemFailures": []}
    names = metric_names(capsys.readouterr().out)
    assert names.count("HoldExpiredForBooking") == 1  # the one whose record names a booking
    assert names.count("RefundFailed") == 1
    assert names.count("PaymentEventPublished") == len(stream.records)
    details = {e["detail"]["eventId"]: e for e in received(bus_queue)}
    failed = details["ch_refund:refund-failed:re_1"]
    assert (failed["detail-type"], failed["detail"]["refundedAmount"]) == (DetailType.REFUND_FAILED, 0)
    assert details["ch_booked:webhook:evt_exp"]["detail-type"] == DetailType.HOLD_EXPIRED


def test_an_event_the_bus_does_not_take_fails_its_record_and_every_later_one_so_order_is_kept(
    publisher: ModuleType, ledger: DynamoDBLedger, bus_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = Stream()
    hold(ledger, stream, "ch_a")
    move(ledger, stream, "ch_a", S.CAPTURED, "capture:k", captured_amount=12500)
    hold(ledger, stream, "ch_b")
    move(ledger, stream, "ch_b", S.RELEASED, "release:k")
    real_publish = publisher.bus.publish
    calls: list[str] = []

    def failing_second(event: PaymentEvent) -> None:
        calls.append(event.event_id)
        if len(calls) == 2:
            raise EventPublishFailed("injected: throttled")
        real_publish(event)

    monkeypatch.setattr(publisher.bus, "publish", failing_second)
    answer = run(publisher, stream.records)
    # Then the failed record and the ones after it are reported, so Lambda retries from the failed one
    sequences = [record["dynamodb"]["SequenceNumber"] for record in stream.records]
    assert answer == {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in sequences[1:]]}
    assert calls == ["ch_a:authorize:k1", "ch_a:capture:k"]  # nothing after the failure was sent
    assert [e["detail"]["eventId"] for e in received(bus_queue)] == ["ch_a:authorize:k1"]
    # And the retry from the failed record publishes the rest, each once
    monkeypatch.setattr(publisher.bus, "publish", real_publish)
    assert run(publisher, stream.records[1:]) == {"batchItemFailures": []}
    assert [e["detail"]["eventId"] for e in received(bus_queue)] == [
        "ch_a:capture:k",
        "ch_b:authorize:k1",
        "ch_b:release:k",
    ]


def test_a_bus_that_refuses_an_entry_is_a_failure_not_a_silent_loss(
    publisher: ModuleType, ledger: DynamoDBLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = Stream()
    hold(ledger, stream, "ch_refused")
    refused = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}]}
    monkeypatch.setattr(publisher.bus._client, "put_events", lambda **_: refused)
    # A batch whose every record failed is a function error (Powertools): Lambda retries the whole batch
    with pytest.raises(BatchProcessingError, match="All records failed"):
        run(publisher, stream.records)


def test_a_record_without_a_new_image_is_skipped(publisher: ModuleType, bus_queue: str) -> None:
    removal = {
        "eventID": "r",
        "eventName": "REMOVE",
        "eventSource": "aws:dynamodb",
        "dynamodb": {"SequenceNumber": "9", "Keys": {"id": {"S": "ch_x"}}},
    }
    assert run(publisher, [removal]) == {"batchItemFailures": []}
    assert received(bus_queue) == []
