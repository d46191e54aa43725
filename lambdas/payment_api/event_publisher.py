"""The event publisher: the ledger table's stream in, one payment event per ledger transition out (the outbox).

In: DynamoDB stream batches (view ``NEW_IMAGE``) of the ledger table. Every ledger write appends exactly one history
entry, so each stream record is one transition; its event (``payment_events.latest_event``) goes to the bus.
Out: ``{"batchItemFailures": [{"itemIdentifier": <sequence number>}]}``. A record whose event the bus did not take
fails, and so does every record after it in the batch (unpublished): Lambda retries from the first failure, so
events keep their order and an event already published is not sent again by the retry of a later one. A record is
retried until it is published or 23 hours old (an hour before the stream trims it; its batch's description then
goes to the dead-letter queue and an alarm fires): a transition is never recorded without its event being
published, or an operator being told which one was not.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.payment_api.event_bus import EventBus
from lambdas.payment_api.ledger_items import record_from_item
from lambdas.payment_api.payment_events import DetailType, PaymentEvent, is_new_dispute, latest_event
from lambdas.payment_api.settings import PublisherSettings
from lambdas.shared.observability import AWS_TRACED_MODULES, observability

settings = PublisherSettings.from_environ(os.environ)
logger, tracer, metrics = observability(AWS_TRACED_MODULES)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
bus = EventBus(bus_name=settings.event_bus_name, client=boto3.session.Session().client("events"))


class EarlierRecordFailed(Exception):
    """Not published because an earlier record of the batch failed: it is retried after that one, in order."""


class _Batch:
    """Per invocation: whether a record already failed (every later one is then left for the retry)."""

    failed = False


def publish_record(record: DynamoDBRecord, batch: _Batch) -> None:
    if batch.failed:
        raise EarlierRecordFailed("an earlier record of this batch was not published")
    try:
        image = record.raw_event.get("dynamodb", {}).get("NewImage")
        if image is None:  # a removal: the ledger deletes nothing, so there is no transition to tell
            logger.warning("stream record without a new image", extra={"event_name": record.raw_event.get("eventName")})
            return
        event = latest_event(record_from_item(image))
        bus.publish(event)
    except Exception:
        batch.failed = True
        logger.exception("payment event not published: it is retried", extra={"sequence": _sequence(record)})
        raise
    _count(event)
    logger.info(
        "payment event published",
        extra={"event_id": event.event_id, "detail_type": str(event.detail_type), "status": event.detail["status"]},
    )


def _count(event: PaymentEvent) -> None:
    metrics.add_metric(name="PaymentEventPublished", unit=MetricUnit.Count, value=1)
    if is_new_dispute(event):
        metrics.add_metric(name="DisputeOpened", unit=MetricUnit.Count, value=1)
    elif event.detail_type is DetailType.REFUND_FAILED:
        metrics.add_metric(name="RefundFailed", unit=MetricUnit.Count, value=1)
    elif event.detail_type is DetailType.HOLD_EXPIRED and event.detail["bookingId"] is not None:
        # A hold the booking workflow had claimed (its record names the booking) lapsed: the money was never taken.
        metrics.add_metric(name="HoldExpiredForBooking", unit=MetricUnit.Count, value=1)
        logger.error(
            "a booking's hold expired uncollected",
            extra={"payment_id": event.detail["paymentId"], "booking_id": event.detail["bookingId"]},
        )


def _sequence(record: DynamoDBRecord) -> str | None:
    return record.dynamodb.sequence_number if record.dynamodb is not None else None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """The Lambda entry point: a stream batch in, the batch item failures out."""
    batch = _Batch()
    return process_partial_response(
        event=event,
        record_handler=lambda record: publish_record(record, batch),
        processor=processor,
        context=context,
    )
