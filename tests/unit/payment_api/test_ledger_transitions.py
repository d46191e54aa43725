"""The ledger port's rules on their own: which status may follow which, and what a record's status lets it do."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from lambdas.payment_api.ledger import (
    ALLOWED_TRANSITIONS,
    HOLD_STATUSES,
    INITIAL_STATUSES,
    BookingContext,
    EntrySource,
    HistoryEntry,
    PaymentRecord,
    PaymentStatus,
    allowed_sources,
    is_allowed,
)

S = PaymentStatus
ALL_PAIRS = list(itertools.product(PaymentStatus, repeat=2))
AT = datetime(2026, 12, 2, 13, 23, 20, tzinfo=UTC)


def record(status: PaymentStatus, *, authorized: int = 1000, captured: int = 0, refunded: int = 0) -> PaymentRecord:
    entry = HistoryEntry(
        entry_id="api:charge",
        status=status,
        previous_status=None,
        at=AT,
        amount=authorized,
        authorized_amount=authorized,
        captured_amount=captured,
        refunded_amount=refunded,
        source=EntrySource.API,
        request_id=None,
        idempotency_key=None,
    )
    return PaymentRecord(
        payment_id="ch_1",
        status=status,
        provider="stripe",
        currency="eur",
        authorized_amount=authorized,
        captured_amount=captured,
        refunded_amount=refunded,
        created_at=AT,
        updated_at=AT,
        booking=None,
        history=(entry,),
    )


# --- the transition table ------------------------------------------------------------------------------------------


def test_every_status_has_a_row_and_every_record_may_start_in_any_status() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(PaymentStatus)
    assert frozenset(PaymentStatus) == INITIAL_STATUSES


@pytest.mark.parametrize("terminal", [S.RELEASED, S.EXPIRED])
def test_a_terminal_status_has_no_successor(terminal: PaymentStatus) -> None:
    assert ALLOWED_TRANSITIONS[terminal] == frozenset()
    assert not any(is_allowed(terminal, target) for target in PaymentStatus)


def test_a_payment_that_left_the_holds_never_becomes_a_hold_again() -> None:
    # The sweeper releases what is in a hold status: money taken or given back must never look like a hold.
    for source in set(PaymentStatus) - HOLD_STATUSES:
        assert not ALLOWED_TRANSITIONS[source] & HOLD_STATUSES, source


def test_requires_action_is_only_ever_a_first_status() -> None:
    # The DynamoDB adapter answers a transition to such a status with a read instead of a conditional write.
    assert allowed_sources(S.REQUIRES_ACTION) == frozenset()


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS, ids=[f"{s}->{t}" for s, t in ALL_PAIRS])
def test_allowed_sources_and_is_allowed_read_the_same_table(source: PaymentStatus, target: PaymentStatus) -> None:
    in_table = target in ALLOWED_TRANSITIONS[source]
    assert is_allowed(source, target) is in_table
    assert (source in allowed_sources(target)) is in_table


def test_the_moves_money_depends_on() -> None:
    # A hold is captured directly even while waiting for 3-D Secure; a won dispute goes back to captured.
    assert allowed_sources(S.CAPTURED) == {S.REQUIRES_ACTION, S.AUTHORIZED, S.DISPUTED}
    # Further partial refunds and dispute updates are moves to the same status (each with a new entry id) ...
    assert is_allowed(S.PARTIALLY_REFUNDED, S.PARTIALLY_REFUNDED)
    assert is_allowed(S.DISPUTED, S.DISPUTED)
    # ... but there is one capture per payment, and a captured payment is never released.
    assert not is_allowed(S.CAPTURED, S.CAPTURED)
    assert not is_allowed(S.CAPTURED, S.RELEASED)
    assert allowed_sources(S.RELEASED) == HOLD_STATUSES
    assert allowed_sources(S.EXPIRED) == HOLD_STATUSES


def test_a_refund_may_fail_after_the_fact_and_its_money_is_refundable_again() -> None:
    # Only money that was refunded can fail to arrive: never a hold, a bare capture or a dispute.
    assert allowed_sources(S.REFUND_FAILED) == {S.PARTIALLY_REFUNDED, S.REFUNDED, S.REFUND_FAILED}
    # A refunded payment is not over: its refund may fail, or the customer may dispute it anyway ...
    assert ALLOWED_TRANSITIONS[S.REFUNDED] == {S.REFUND_FAILED, S.DISPUTED}
    # ... and after a failed refund, a new refund (partial or whole) or a dispute may follow.
    assert ALLOWED_TRANSITIONS[S.REFUND_FAILED] == {S.REFUND_FAILED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}


# --- what a record's status lets it do -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(PaymentStatus))
def test_only_a_hold_has_a_capturable_amount(status: PaymentStatus) -> None:
    expected = 1000 if status in HOLD_STATUSES else 0
    assert record(status, authorized=1000).capturable_amount == expected


@pytest.mark.parametrize(("captured", "refunded", "refundable"), [(1000, 0, 1000), (1000, 300, 700), (1000, 1000, 0)])
def test_the_refundable_amount_is_what_was_captured_and_not_refunded_yet(
    captured: int, refunded: int, refundable: int
) -> None:
    assert record(S.PARTIALLY_REFUNDED, captured=captured, refunded=refunded).refundable_amount == refundable


def test_the_refundable_amount_is_never_negative() -> None:
    # Given a record whose refunds exceed its capture (a provider correction may do that)
    over_refunded = record(S.REFUNDED, captured=500, refunded=800)
    # Then nothing is refundable, rather than a negative amount a caller could pass on
    assert over_refunded.refundable_amount == 0


def test_has_entry_looks_at_every_history_entry() -> None:
    first = record(S.AUTHORIZED)
    capture = replace(first.history[0], entry_id="api:capture", status=S.CAPTURED, previous_status=S.AUTHORIZED)
    captured = replace(first, status=S.CAPTURED, history=(*first.history, capture))
    assert captured.has_entry("api:charge")
    assert captured.has_entry("api:capture")
    assert not captured.has_entry("api:refund")


def test_a_booking_context_is_empty_only_without_any_field() -> None:
    assert BookingContext().empty
    assert not BookingContext(booking_id="b1").empty
    assert not BookingContext(customer_id="c1").empty
    assert not BookingContext(execution="arn:aws:states:eu-west-1:123456789012:execution:booking:1").empty
