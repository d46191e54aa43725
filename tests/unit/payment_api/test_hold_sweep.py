"""The abandoned-hold sweeper: which holds it releases, what it records, and how a run stays inside its time.

``hold_sweep.sweep`` runs over the real DynamoDB ledger (on moto, in a table of its own per test) and a
``PaymentService`` over ``FakeProvider``; records are seeded with ``ledger.create`` and back-dated creation times.
The sweeper function's module is run last, with a Lambda context, for its metrics and its answer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest

from lambdas.payment_api.domain import Payment, PaymentRequest, Refund
from lambdas.payment_api.dynamodb_ledger import DynamoDBLedger
from lambdas.payment_api.errors import ProviderUnavailable, StateConflict
from lambdas.payment_api.hold_sweep import PAGE_SIZE, RELEASE_RESERVE_MILLIS, SweepReport, sweep
from lambdas.payment_api.ledger import (
    EntrySource,
    FraudWarningNote,
    Ledger,
    LedgerUnavailable,
    NewPayment,
    PaymentRecord,
    PaymentStatus,
    Transition,
)
from lambdas.payment_api.service import PaymentService
from tests.fixtures.payment_api import FakeProvider, FlakyLedger, create_ledger_table, sample_payment
from tests.support.api_events import FakeLambdaContext
from tests.support.emf import json_lines, metrics_emitted

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef

S = PaymentStatus
SWEEP_TABLE = "test-ledger-sweep"
HOLDS_INDEX = "holds-by-age"
NOW = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
ABANDONED_AFTER = timedelta(minutes=30)  # tests/conftest.py's ABANDONED_HOLD_MINUTES
FUNCTION_TIMEOUT_MILLIS = 55_000  # payment_stack/payment/hold_sweeper.py's FUNCTION_TIMEOUT
NAMESPACE = "ServerlessAirline"
HOLD = sample_payment(12500, "eur", captured=False, payment_id="ch_1")


@dataclass
class DynamoDBCalls:
    """What the sweep's DynamoDB client asked (operation names, parameters) and how many items each Query read."""

    operations: list[str] = field(default_factory=list)
    parameters: list[dict[str, Any]] = field(default_factory=list)
    items_read: list[int] = field(default_factory=list)

    def clear(self) -> None:
        self.operations.clear()
        self.parameters.clear()
        self.items_read.clear()

    def queries(self) -> list[dict[str, Any]]:
        return [params for name, params in zip(self.operations, self.parameters, strict=True) if name == "Query"]


@pytest.fixture
def dynamodb_calls() -> DynamoDBCalls:
    return DynamoDBCalls()


@pytest.fixture
def ledger(aws: None, dynamodb_calls: DynamoDBCalls) -> Iterator[DynamoDBLedger]:
    """The real ledger in an empty table of its own (dropped afterwards: faster than deleting thousands of items),
    on a client whose every call is logged in ``dynamodb_calls``."""
    create_ledger_table(SWEEP_TABLE, holds_index=HOLDS_INDEX)
    client = boto3.client("dynamodb")

    def log(model: OperationModel, params: dict[str, Any], **_: Any) -> None:
        dynamodb_calls.operations.append(model.name)
        dynamodb_calls.parameters.append(params)

    def count_items(parsed: dict[str, Any], **_: Any) -> None:
        dynamodb_calls.items_read.append(len(parsed.get("Items", [])))

    client.meta.events.register("before-parameter-build.dynamodb", log)
    client.meta.events.register("after-call.dynamodb.Query", count_items)
    yield DynamoDBLedger(table_name=SWEEP_TABLE, holds_index_name=HOLDS_INDEX, client=client)
    boto3.client("dynamodb").delete_table(TableName=SWEEP_TABLE)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def service(provider: FakeProvider, ledger: DynamoDBLedger) -> PaymentService:
    return PaymentService(provider, ledger, clock=lambda: NOW)


def new_hold(
    payment_id: str, *, age: timedelta, status: PaymentStatus = S.AUTHORIZED, now: datetime = NOW
) -> NewPayment:
    """A 12500 EUR hold made ``age`` before ``now`` by /charge (FakeProvider holds 12500 EUR for unknown ids)."""
    return NewPayment(
        payment_id=payment_id,
        status=status,
        provider="fake",
        currency="eur",
        authorized_amount=12500,
        created_at=now - age,
        entry_id=f"authorize:charge:{payment_id}",
        source=EntrySource.API,
        request_id=f"req-{payment_id}",
        idempotency_key=f"charge:{payment_id}",
    )


def hold(ledger: Ledger, payment_id: str, *, age: timedelta, status: PaymentStatus = S.AUTHORIZED) -> PaymentRecord:
    return ledger.create(new_hold(payment_id, age=age, status=status))


def stored(ledger: Ledger, payment_id: str) -> PaymentRecord:
    record = ledger.get(payment_id)
    assert record is not None
    return record


def run(
    ledger: Ledger, service: PaymentService, *, remaining_millis: int = FUNCTION_TIMEOUT_MILLIS, now: datetime = NOW
) -> SweepReport:
    return sweep(
        ledger=ledger,
        releaser=service,
        now=now,
        abandoned_after=ABANDONED_AFTER,
        remaining_millis=lambda: remaining_millis,
        request_id="sweep-run-1",
    )


def holds_left(ledger: Ledger, *, now: datetime = NOW) -> list[str]:
    return [record.payment_id for record in ledger.holds_created_before(now + timedelta(days=1), page_size=100)]


def release_keys(provider: FakeProvider, payment_id: str) -> list[str]:
    """The keys of every release of ``payment_id`` the provider was asked for (failed ones included)."""
    return [
        key
        for operation, request, key in provider.calls
        if operation == "release" and isinstance(request, PaymentRequest) and request.payment_id == payment_id
    ]


def released_ids(provider: FakeProvider) -> list[str]:
    return [payment_id for operation, payment_id, _ in provider.moves if operation == "release"]


# --- what a run releases --------------------------------------------------------------------------------------------


def test_abandoned_holds_are_released_and_younger_ones_left_alone(
    ledger: DynamoDBLedger, service: PaymentService, provider: FakeProvider
) -> None:
    # Given two holds older than the cutoff (one still waiting for 3-D Secure), one made exactly at the cutoff, and
    # one made ten minutes ago
    hold(ledger, "ch_old", age=timedelta(hours=2))
    hold(ledger, "pi_old_3ds", age=timedelta(minutes=45), status=S.REQUIRES_ACTION)
    at_cutoff = hold(ledger, "ch_cutoff", age=ABANDONED_AFTER)
    young = hold(ledger, "ch_young", age=timedelta(minutes=10))
    # When the sweeper runs
    report = run(ledger, service)
    # Then the two abandoned holds were released, each once under its own key
    assert report == SweepReport(examined=2, released=2, settled=0, failed=0, out_of_time=False)
    assert sorted((operation, key) for operation, _, key in provider.calls) == [
        ("release", "sweep-release:ch_old"),
        ("release", "sweep-release:pi_old_3ds"),
    ]
    # And are recorded released by the sweeper, as abandoned
    for payment_id, previous in (("ch_old", S.AUTHORIZED), ("pi_old_3ds", S.REQUIRES_ACTION)):
        record = stored(ledger, payment_id)
        assert (record.status, record.reason) == (S.RELEASED, "abandoned")
        entry = record.history[-1]
        assert (entry.previous_status, entry.status) == (previous, S.RELEASED)
        assert (entry.source, entry.reason, entry.amount) == (EntrySource.SWEEPER, "abandoned", 12500)
        assert (entry.idempotency_key, entry.request_id, entry.at) == (
            f"sweep-release:{payment_id}",
            "sweep-run-1",
            NOW,
        )
    # And the younger holds are untouched, still waiting in the index
    assert stored(ledger, "ch_cutoff") == at_cutoff
    assert stored(ledger, "ch_young") == young
    assert sorted(holds_left(ledger)) == ["ch_cutoff", "ch_young"]


def test_a_second_run_finds_nothing_more_to_release(
    ledger: DynamoDBLedger, service: PaymentService, provider: FakeProvider
) -> None:
    hold(ledger, "ch_old", age=timedelta(hours=2))
    assert run(ledger, service).released == 1
    assert run(ledger, service) == SweepReport()
    assert len(provider.calls) == 1


@pytest.mark.parametrize(
    ("at_the_provider", "status"),
    [
        pytest.param(sample_payment(12500, "eur", captured=True, payment_id="ch_1"), S.CAPTURED, id="captured"),
        pytest.param(replace(HOLD, refunded=True, amount_refunded=12500), S.RELEASED, id="released-in-the-dashboard"),
        pytest.param(
            replace(HOLD, object="payment_intent", status="canceled", cancellation_reason="automatic"),
            S.EXPIRED,
            id="lapsed",
        ),
    ],
)  # fmt: skip
def test_a_hold_that_moved_on_meanwhile_keeps_its_state_and_counts_as_settled(
    *,
    ledger: DynamoDBLedger,
    service: PaymentService,
    provider: FakeProvider,
    at_the_provider: Payment,
    status: PaymentStatus,
) -> None:
    # Given an abandoned hold the ledger still records as authorized, which the provider has captured, released or
    # let lapse meanwhile
    hold(ledger, "ch_1", age=timedelta(hours=2))
    provider.payments["ch_1"] = at_the_provider
    # When the sweeper runs
    report = run(ledger, service)
    # Then the provider refused the release, was read once, and the record now says what happened
    assert report == SweepReport(examined=1, released=0, settled=1, failed=0, out_of_time=False)
    assert [(operation, key) for operation, _, key in provider.calls] == [("release", "sweep-release:ch_1")]
    assert provider.reads == ["ch_1"]
    assert provider.moves == []
    record = stored(ledger, "ch_1")
    assert record.status is status
    assert (record.history[-1].source, record.history[-1].reason) == (EntrySource.PROVIDER, "provider_state")
    assert holds_left(ledger) == []


@dataclass
class RefusingReleases(FakeProvider):
    """A FakeProvider that refuses every release although the payment is still a hold (e.g. a PaymentIntent that
    is ``processing``)."""

    def release(self, payment_id: str, *, idempotency_key: str) -> Refund:
        self.calls.append(("release", PaymentRequest(payment_id=payment_id, amount=None), idempotency_key))
        raise StateConflict("the payment cannot be cancelled now", code="payment_state_conflict")


def test_a_refused_release_of_what_is_still_a_hold_is_a_failure_not_settled(ledger: DynamoDBLedger) -> None:
    # Given an abandoned hold whose release the provider refuses, while it still reports a hold
    provider = RefusingReleases()
    service = PaymentService(provider, ledger, clock=lambda: NOW)
    recorded = hold(ledger, "pi_processing", age=timedelta(hours=2))
    # When the sweeper runs
    report = run(ledger, service)
    # Then it is counted as failed (the next run tries again), not as settled elsewhere, and the record is kept
    assert report == SweepReport(examined=1, released=0, settled=0, failed=1, out_of_time=False)
    assert provider.reads == ["pi_processing"]
    assert stored(ledger, "pi_processing") == recorded
    assert holds_left(ledger) == ["pi_processing"]


@dataclass
class FailingReleases(FakeProvider):
    """A FakeProvider whose next release of each id in ``failing`` fails (Stripe unreachable)."""

    failing: set[str] = field(default_factory=set)

    def release(self, payment_id: str, *, idempotency_key: str) -> Refund:
        if payment_id in self.failing:
            self.failing.discard(payment_id)
            self.calls.append(("release", PaymentRequest(payment_id=payment_id, amount=None), idempotency_key))
            raise ProviderUnavailable("the payment provider could not be reached")
        return super().release(payment_id, idempotency_key=idempotency_key)


def test_a_hold_the_provider_fails_to_release_is_counted_and_released_by_the_next_run(
    ledger: DynamoDBLedger,
) -> None:
    # Given three abandoned holds, and a provider that fails to release the second one once
    provider = FailingReleases(failing={"ch_b"})
    service = PaymentService(provider, ledger, clock=lambda: NOW)
    for number, payment_id in enumerate(["ch_a", "ch_b", "ch_c"]):
        hold(ledger, payment_id, age=timedelta(hours=3) - timedelta(minutes=number))
    # When the sweeper runs
    first = run(ledger, service)
    # Then the failure is counted and does not stop the others
    assert first == SweepReport(examined=3, released=2, settled=0, failed=1, out_of_time=False)
    assert sorted(released_ids(provider)) == ["ch_a", "ch_c"]
    assert stored(ledger, "ch_b").status is S.AUTHORIZED
    assert holds_left(ledger) == ["ch_b"]
    # When the next run comes
    second = run(ledger, service, now=NOW + timedelta(minutes=15))
    # Then it releases the one left, under the same key
    assert second == SweepReport(examined=1, released=1, settled=0, failed=0, out_of_time=False)
    assert release_keys(provider, "ch_b") == ["sweep-release:ch_b", "sweep-release:ch_b"]
    assert stored(ledger, "ch_b").status is S.RELEASED
    assert holds_left(ledger) == []


def test_a_release_the_ledger_fails_to_record_is_recorded_by_the_next_run_without_a_second_release(
    ledger: DynamoDBLedger, provider: FakeProvider
) -> None:
    # Given an abandoned hold, and a ledger whose next write fails
    flaky = FlakyLedger(ledger, failing_applies=1)
    service = PaymentService(provider, flaky, clock=lambda: NOW)
    hold(ledger, "ch_1", age=timedelta(hours=2))
    # When the sweeper runs: the provider releases the hold, the ledger cannot record it
    assert run(flaky, service) == SweepReport(examined=1, released=0, settled=0, failed=1, out_of_time=False)
    assert stored(ledger, "ch_1").status is S.AUTHORIZED
    # Then the next run repeats the release under the same key (the provider moves nothing again) and records it
    assert run(flaky, service) == SweepReport(examined=1, released=1, settled=0, failed=0, out_of_time=False)
    assert [key for _, _, key in provider.calls] == ["sweep-release:ch_1", "sweep-release:ch_1"]
    assert released_ids(provider) == ["ch_1"]
    record = stored(ledger, "ch_1")
    assert record.status is S.RELEASED
    assert [entry.status for entry in record.history] == [S.AUTHORIZED, S.RELEASED]


@dataclass
class BreakingIndex:
    """The real ledger, whose hold index fails after ``readable`` records (a throttled Query)."""

    inner: Ledger
    readable: int

    def get(self, payment_id: str) -> PaymentRecord | None:
        return self.inner.get(payment_id)

    def create(self, payment: NewPayment) -> PaymentRecord:
        return self.inner.create(payment)

    def apply(self, transition: Transition) -> PaymentRecord:
        return self.inner.apply(transition)

    def record_fraud_warning(self, note: FraudWarningNote) -> PaymentRecord:
        return self.inner.record_fraud_warning(note)

    def holds_created_before(self, cutoff: datetime, *, page_size: int) -> Iterator[PaymentRecord]:
        for count, record in enumerate(self.inner.holds_created_before(cutoff, page_size=page_size)):
            if count == self.readable:
                raise LedgerUnavailable("injected: the ledger could not read the holds")
            yield record


def test_an_unreadable_hold_index_ends_the_run_with_what_was_released(
    ledger: DynamoDBLedger, provider: FakeProvider
) -> None:
    for number in range(3):
        hold(ledger, f"ch_{number}", age=timedelta(hours=3) - timedelta(minutes=number))
    breaking = BreakingIndex(ledger, readable=1)
    service = PaymentService(provider, breaking, clock=lambda: NOW)
    report = run(breaking, service)
    assert report == SweepReport(examined=1, released=1, settled=0, failed=1, out_of_time=False)
    assert released_ids(provider) == ["ch_0"]
    assert holds_left(ledger) == ["ch_1", "ch_2"]


def test_a_run_starts_no_release_with_less_than_the_reserve_left(
    ledger: DynamoDBLedger, service: PaymentService, provider: FakeProvider
) -> None:
    # Given two abandoned holds, and a run whose time left drops below the reserve after the first release
    hold(ledger, "ch_first", age=timedelta(hours=3))
    hold(ledger, "ch_second", age=timedelta(hours=2))
    time_left = iter([RELEASE_RESERVE_MILLIS, RELEASE_RESERVE_MILLIS - 1])
    report = sweep(
        ledger=ledger,
        releaser=service,
        now=NOW,
        abandoned_after=ABANDONED_AFTER,
        remaining_millis=lambda: next(time_left),
        request_id="sweep-run-1",
    )
    # Then it released the first (exactly the reserve left is enough) and stopped before the second
    assert report == SweepReport(examined=1, released=1, settled=0, failed=0, out_of_time=True)
    assert released_ids(provider) == ["ch_first"]
    assert holds_left(ledger) == ["ch_second"]


# --- a backlog drains over several runs -----------------------------------------------------------------------------


@dataclass
class Invocation:
    """The time left in one sweeper invocation: the function's timeout at the start, less ``cost_millis`` for
    every provider call (Stripe's answer time dominates a release). A call made with no time left is the
    function timing out."""

    cost_millis: int
    remaining: int = FUNCTION_TIMEOUT_MILLIS

    def start(self) -> None:
        self.remaining = FUNCTION_TIMEOUT_MILLIS

    def spend(self) -> None:
        self.remaining -= self.cost_millis
        if self.remaining < 0:
            raise TimeoutError("the sweeper ran into its function's timeout")

    def remaining_millis(self) -> int:
        return self.remaining


@dataclass
class TimedProvider(FakeProvider):
    """A FakeProvider whose every call spends time of the current sweeper ``invocation``."""

    invocation: Invocation = field(default_factory=lambda: Invocation(cost_millis=0))

    def release(self, payment_id: str, *, idempotency_key: str) -> Refund:
        self.invocation.spend()
        return super().release(payment_id, idempotency_key=idempotency_key)

    def retrieve(self, payment_id: str) -> Payment:
        self.invocation.spend()
        return super().retrieve(payment_id)


class _RecordingClient:
    """Stands in for DynamoDB while the adapter builds its items: keeps each ``put_item``'s item, writes nothing."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def put_item(self, **request: Any) -> dict[str, Any]:
        self.items.append(request["Item"])
        return {}


def seed_holds(ledger: DynamoDBLedger, payments: list[NewPayment]) -> None:
    """Write ``payments`` as ``ledger.create`` would, 25 to a BatchWriteItem (2,000 PutItems one by one take about
    7 s on moto): the items are the adapter's own, built by its ``create``."""
    recorder = _RecordingClient()
    builder = DynamoDBLedger(
        table_name=SWEEP_TABLE, holds_index_name=HOLDS_INDEX, client=cast("DynamoDBClient", recorder)
    )
    built = [builder.create(payment) for payment in payments]
    client = boto3.client("dynamodb")
    for start in range(0, len(recorder.items), 25):
        batch: list[WriteRequestTypeDef] = [
            {"PutRequest": {"Item": item}} for item in recorder.items[start : start + 25]
        ]
        assert not client.batch_write_item(RequestItems={SWEEP_TABLE: batch})["UnprocessedItems"]
    # The table now holds exactly what create would have written
    assert stored(ledger, built[0].payment_id) == built[0]
    assert stored(ledger, built[-1].payment_id) == built[-1]


def test_a_backlog_of_2000_abandoned_holds_drains_over_several_runs_none_timing_out(
    ledger: DynamoDBLedger, dynamodb_calls: DynamoDBCalls
) -> None:
    # Given 2,000 abandoned holds (a day of outage), and releases that take 400 ms each at the provider
    backlog = 2000
    cost = 400
    payments = [new_hold(f"ch_{n:04d}", age=timedelta(hours=30) - timedelta(seconds=n)) for n in range(backlog)]
    seed_holds(ledger, payments)
    invocation = Invocation(cost_millis=cost)
    provider = TimedProvider(invocation=invocation)
    service = PaymentService(provider, ledger, clock=lambda: NOW)
    # A run releases while at least the reserve is left: from the timeout down to the reserve, plus the release
    # started with exactly the reserve left
    per_run = (FUNCTION_TIMEOUT_MILLIS - RELEASE_RESERVE_MILLIS) // cost + 1
    expected_runs = math.ceil(backlog / per_run)
    assert (per_run, expected_runs) == (101, 20)
    # When the scheduler invokes the sweeper until a run ends without running out of time
    reports: list[SweepReport] = []
    time_left_at_end: list[int] = []
    items_read: list[int] = []
    dynamodb_calls.clear()
    while not reports or reports[-1].out_of_time:
        assert len(reports) < expected_runs + 5, "the backlog does not drain"
        invocation.start()
        items_before = len(dynamodb_calls.items_read)
        reports.append(
            sweep(
                ledger=ledger,
                releaser=service,
                now=NOW,
                abandoned_after=ABANDONED_AFTER,
                remaining_millis=invocation.remaining_millis,
                request_id=f"sweep-run-{len(reports) + 1}",
            )
        )
        time_left_at_end.append(invocation.remaining)
        items_read.append(sum(dynamodb_calls.items_read[items_before:]))
    sweep_operations = list(dynamodb_calls.operations)
    queries = dynamodb_calls.queries()
    # Then it took exactly the runs the budget allows, each stopping itself with time to spare
    assert len(reports) == expected_runs
    assert [report.released for report in reports] == [per_run] * (expected_runs - 1) + [
        backlog - per_run * (expected_runs - 1)
    ]
    assert [report.out_of_time for report in reports] == [True] * (expected_runs - 1) + [False]
    assert [(r.failed, r.settled) for r in reports] == [(0, 0)] * len(reports), reports
    assert min(time_left_at_end) >= RELEASE_RESERVE_MILLIS - cost > 0
    # And every hold was released exactly once, under its own key, oldest first
    assert len(provider.calls) == backlog
    assert released_ids(provider) == [payment.payment_id for payment in payments]
    assert {key for _, _, key in provider.calls} == {f"sweep-release:{p.payment_id}" for p in payments}
    assert holds_left(ledger) == []
    for payment in (payments[0], payments[per_run], payments[-1]):
        record = stored(ledger, payment.payment_id)
        assert (record.status, record.reason, len(record.history)) == (S.RELEASED, "abandoned", 2)
    # And the holds were read from the index a page at a time, never scanned, and no run read more than one page
    # beyond the holds it released
    assert "Scan" not in sweep_operations
    assert set(sweep_operations) == {"Query", "UpdateItem"}
    assert {(query["IndexName"], query["Limit"]) for query in queries} == {(HOLDS_INDEX, PAGE_SIZE)}
    read_ahead = [read - report.examined for read, report in zip(items_read, reports, strict=True)]
    assert max(read_ahead) <= PAGE_SIZE, read_ahead
    assert sweep_operations.count("UpdateItem") == backlog


# --- the sweeper function -------------------------------------------------------------------------------------------


@pytest.fixture
def sweeper_module(aws: None) -> ModuleType:
    """The sweeper function's module (its settings read from tests/conftest.py's environment), imported under moto;
    its ledger is the real one on ``test-ledger``."""
    from lambdas.payment_api import sweeper  # noqa: PLC0415 - imported under moto, after conftest set its environment

    return sweeper


def emf_blobs(stdout: str, metric: str) -> list[dict[str, Any]]:
    return [blob for blob in json_lines(stdout) if "_aws" in blob and metric in blob]


def test_the_sweeper_function_releases_counts_and_answers_its_report(
    sweeper_module: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the function's own ledger with three abandoned holds and a young one, and a provider that fails to
    # release one of the abandoned holds
    sweeper_ledger = cast("DynamoDBLedger", sweeper_module.ledger)
    now = datetime.now(tz=UTC)
    for payment_id, age in (
        ("ch_abandoned", timedelta(hours=2)),
        ("pi_abandoned", timedelta(hours=1, minutes=30)),
        ("ch_unreachable", timedelta(hours=1)),
    ):
        sweeper_ledger.create(new_hold(payment_id, age=age, now=now))
    sweeper_ledger.create(new_hold("ch_young", age=timedelta(minutes=5), now=now))
    provider = FailingReleases(failing={"ch_unreachable"})
    monkeypatch.setattr(sweeper_module, "service", PaymentService(provider, sweeper_ledger))
    context = FakeLambdaContext(function_name="hold-sweeper", remaining_millis=FUNCTION_TIMEOUT_MILLIS)
    capsys.readouterr()
    # When the scheduler invokes it
    answer = sweeper_module.handler({"source": "aws.scheduler"}, context)
    # Then it answers its report
    assert answer == {"examined": 3, "released": 2, "settled": 0, "failed": 1, "outOfTime": False}
    for payment_id in ("ch_abandoned", "pi_abandoned"):
        record = stored(sweeper_ledger, payment_id)
        assert (record.status, record.reason) == (S.RELEASED, "abandoned")
        assert record.history[-1].request_id == context.aws_request_id
    assert stored(sweeper_ledger, "ch_unreachable").status is S.AUTHORIZED
    assert stored(sweeper_ledger, "ch_young").status is S.AUTHORIZED
    # And it emitted what was released, by reason, and what failed
    stdout = capsys.readouterr().out
    emitted = metrics_emitted(stdout)
    assert emitted[(NAMESPACE, "HoldsReleased")] == [2.0]
    assert emitted[(NAMESPACE, "HoldReleaseFailed")] == [1.0]
    [released] = emf_blobs(stdout, "HoldsReleased")
    assert released["reason"] == "abandoned"
    [dimensions] = released["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert "reason" in dimensions


def test_the_sweeper_function_stops_within_its_time(
    sweeper_module: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an abandoned hold, and an invocation that has less than the reserve left
    sweeper_ledger = cast("DynamoDBLedger", sweeper_module.ledger)
    sweeper_ledger.create(new_hold("ch_abandoned", age=timedelta(hours=2), now=datetime.now(tz=UTC)))
    provider = FakeProvider()
    monkeypatch.setattr(sweeper_module, "service", PaymentService(provider, sweeper_ledger))
    context = FakeLambdaContext(function_name="hold-sweeper", remaining_millis=RELEASE_RESERVE_MILLIS - 1)
    capsys.readouterr()
    answer = sweeper_module.handler({}, context)
    # Then it releases nothing, says it ran out of time, and counts no release and no failure
    assert answer == {"examined": 0, "released": 0, "settled": 0, "failed": 0, "outOfTime": True}
    assert provider.calls == []
    emitted = metrics_emitted(capsys.readouterr().out)
    assert emitted[(NAMESPACE, "HoldsReleased")] == [0.0]
    assert emitted[(NAMESPACE, "HoldReleaseFailed")] == [0.0]
