"""The payment ledger's records a benchmark run needs, written and checked through the API's own DynamoDB adapter.

The warm ``/capture`` benchmark must time the normal path: the payment's record exists (``authorized``, as
``/charge`` leaves it), so the API reads it (GetItem), makes its one Stripe call and records the capture
(UpdateItem). A payment with no record would be read from Stripe and back-filled first (two Stripe calls and a
PutItem), another path. So every payment the benchmark captures is recorded here beforehand, from the harness
process with its own client (the function's process and its clients stay cold until its first invocation), through
``lambdas.payment_api.dynamodb_ledger.DynamoDBLedger``, the code that writes the items ``/charge`` writes. After
the run, ``not_captured_normally`` reads the records back: each must be captured, with no back-fill entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import boto3

from benchmarks.functions import LEDGER_HOLDS_INDEX, LEDGER_TABLE, REGION
from lambdas.payment_api.domain import Operation
from lambdas.payment_api.dynamodb_ledger import DynamoDBLedger, table_definition
from lambdas.payment_api.ledger import EntrySource, NewPayment, PaymentStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

HOLD_AMOUNT = 12500  # what benchmarks.stub_server holds and captures
HOLD_CURRENCY = "eur"


def dynamodb_client(aws_url: str) -> DynamoDBClient:
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
    client: DynamoDBClient = boto3.client("dynamodb", endpoint_url=aws_url, **credentials)  # type: ignore[call-overload]
    return client


def create_ledger_table(client: DynamoDBClient) -> None:
    """The ledger table as the payment stack declares it (``payment_stack/payment/ledger.py``)."""
    client.create_table(**table_definition(LEDGER_TABLE, LEDGER_HOLDS_INDEX))


def benchmark_ledger(aws_url: str) -> DynamoDBLedger:
    return DynamoDBLedger(table_name=LEDGER_TABLE, holds_index_name=LEDGER_HOLDS_INDEX, client=dynamodb_client(aws_url))


def record_authorized_holds(aws_url: str, payment_ids: Iterable[str]) -> None:
    """Record each payment as ``/charge`` records a hold it made: ``authorized``, its ``charge:`` idempotency key."""
    ledger = benchmark_ledger(aws_url)
    for payment_id in payment_ids:
        key = f"{Operation.AUTHORIZE}:bench-charge-{payment_id}"
        ledger.create(
            NewPayment(
                payment_id=payment_id,
                status=PaymentStatus.AUTHORIZED,
                provider="stripe",
                currency=HOLD_CURRENCY,
                authorized_amount=HOLD_AMOUNT,
                created_at=datetime.now(UTC),
                entry_id=f"authorize:{key}",
                source=EntrySource.API,
                request_id=str(uuid.uuid4()),
                idempotency_key=key,
            )
        )


def not_captured_normally(aws_url: str, payment_ids: Iterable[str]) -> list[str]:
    """The payments whose record is not ``captured`` after exactly its ``authorize`` and one ``capture`` entry."""
    ledger = DynamoDBLedger(
        table_name=LEDGER_TABLE, holds_index_name=LEDGER_HOLDS_INDEX, client=dynamodb_client(aws_url)
    )
    wrong = []
    for payment_id in payment_ids:
        record = ledger.get(payment_id)
        entries = [] if record is None else [entry.entry_id.partition(":")[0] for entry in record.history]
        if record is None or record.status is not PaymentStatus.CAPTURED or entries != ["authorize", "capture"]:
            wrong.append(payment_id)
    return wrong
