"""The payment API's use cases: one provider call per money-moving request, decided from and recorded in the ledger.

- ``/charge``: the provider places the hold, the ledger records it (``authorized`` or ``requires_action``). If the
  ledger cannot record it, the hold is released again at once and the client gets a retryable 503: no hold is left
  that nothing knows of.
- ``/capture`` and ``/refund``: the ledger record says what to do (``decisions``), the provider does it in one call,
  the ledger records the transition. A payment with no record (made before the ledger) is read from the provider
  once and back-filled. When the provider refuses (the record is stale, e.g. captured in the Stripe Dashboard), the
  provider is read, the record corrected, and the answer is decided again from the corrected record.
- When the provider moved money and the ledger write then fails, the client gets a retryable 503: its retry (same
  idempotency key) repeats the provider call under the same provider key, which moves no money again, and records it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger

from lambdas.payment_api import payment_state
from lambdas.payment_api.decisions import Action, Decision, decide_capture, decide_refund, status_after_refund
from lambdas.payment_api.domain import ChargeRequest, Operation, Payment, PaymentRequest, Refund
from lambdas.payment_api.errors import (
    ApiError,
    InvalidRequest,
    LedgerStoreUnavailable,
    StateConflict,
    UnknownPayment,
)
from lambdas.payment_api.ledger import (
    HOLD_STATUSES,
    EntrySource,
    Ledger,
    LedgerError,
    LedgerUnavailable,
    NewPayment,
    PaymentRecord,
    PaymentStatus,
    Transition,
    TransitionRefused,
    is_allowed,
)
from lambdas.payment_api.provider import PaymentProvider
from lambdas.payment_api.views import payment_view, record_view, refund_view

logger = Logger(child=True)
# Why the sweeper released a hold: the ledger's record says so, and its metric carries it as a dimension.
ABANDONED_HOLD_REASON = "abandoned"
REFUND_ENTRY_PREFIX = "refund:"
# What the provider answers when a call decided from a stale record does not fit the payment's real state.
_REFUSALS = (StateConflict, InvalidRequest)


@dataclass(frozen=True, kw_only=True)
class Command:
    """One money-moving request; the idempotency layer hashes ``idempotency_key`` and checks the rest is equal
    (``request_id`` excepted: every retry has its own)."""

    idempotency_key: str
    operation: Operation
    charge: ChargeRequest | None = None
    payment: PaymentRequest | None = None
    request_id: str | None = None


def charge_command(request: ChargeRequest, *, client_key: str | None, request_id: str | None = None) -> Command:
    """A ``/charge``: the client's key (namespaced), or a fresh one so two distinct charges never merge."""
    key = f"{Operation.AUTHORIZE}:{client_key}" if client_key else f"{Operation.AUTHORIZE}:auto:{uuid.uuid4()}"
    return Command(idempotency_key=key, operation=Operation.AUTHORIZE, charge=request, request_id=request_id)


def payment_command(
    operation: Operation, request: PaymentRequest, *, client_key: str | None, request_id: str | None = None
) -> Command:
    """A ``/capture`` or ``/refund``: the client's key, else one derived from operation, payment id and amount.

    The derived key is the same for every retry of the same request, and differs between capture and refund and
    between different partial amounts.
    """
    amount = "full" if request.amount is None else str(request.amount)
    key = f"{operation}:{client_key}" if client_key else f"{operation}:{request.payment_id}:{amount}"
    return Command(idempotency_key=key, operation=operation, payment=request, request_id=request_id)


class HoldOutcome(StrEnum):
    RELEASED = "released"
    # Captured, refunded, released or expired by someone else meanwhile: nothing left to release.
    SETTLED = "settled"


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


class PaymentService:
    """Runs commands against a ``PaymentProvider`` and a ``Ledger``; errors are ``ApiError`` subclasses."""

    def __init__(self, provider: PaymentProvider, ledger: Ledger, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._provider = provider
        self._ledger = ledger
        self._clock = clock

    @property
    def provider(self) -> PaymentProvider:
        return self._provider

    def execute(self, command: Command) -> dict[str, Any]:
        if command.operation is Operation.AUTHORIZE and command.charge is not None:
            return {"createdCharge": self._authorize(command, command.charge)}
        if command.operation is Operation.CAPTURE and command.payment is not None:
            return {"capturedCharge": payment_view(self._capture(command, command.payment))}
        if command.operation is Operation.REFUND and command.payment is not None:
            return {"createdRefund": refund_view(self._refund(command, command.payment))}
        raise ValueError(f"malformed command for {command.operation}")

    def payment(self, payment_id: str) -> dict[str, Any]:
        """``{"payment": <record and history>}``; ``UnknownPayment`` when the ledger has no record of it."""
        record = self._read(payment_id)
        if record is None:
            raise UnknownPayment("no payment with this id")
        return {"payment": record_view(record)}

    def release_abandoned(self, record: PaymentRecord, *, request_id: str | None) -> HoldOutcome:
        """Release a hold nobody captured in time, through the same provider call as ``/refund`` (one key per hold).

        A provider refusal means the payment moved on meanwhile (e.g. captured): the record is corrected and the hold
        counts as settled. Raises ``ApiError`` when the hold could not be released now (the next run retries).
        """
        key = f"sweep-release:{record.payment_id}"
        try:
            self._provider.release(record.payment_id, idempotency_key=key)
        except _REFUSALS:
            corrected = self._reconcile(record, request_id=request_id)
            if corrected.status in HOLD_STATUSES:
                raise
            return HoldOutcome.SETTLED
        transition = Transition(
            payment_id=record.payment_id,
            status=PaymentStatus.RELEASED,
            entry_id=f"release:{key}",
            at=self._clock(),
            amount=record.authorized_amount,
            source=EntrySource.SWEEPER,
            request_id=request_id,
            idempotency_key=key,
            reason=ABANDONED_HOLD_REASON,
        )
        self._record_moved(transition)
        return HoldOutcome.RELEASED

    # --- /charge ----------------------------------------------------------------------------------------------------

    def _authorize(self, command: Command, request: ChargeRequest) -> dict[str, Any]:
        key = command.idempotency_key
        payment = self._provider.authorize(request, idempotency_key=key)
        if payment.replayed:
            payment = self._still_held(payment, request_id=command.request_id)
        status = PaymentStatus.REQUIRES_ACTION if payment.requires_action else PaymentStatus.AUTHORIZED
        new_payment = NewPayment(
            payment_id=payment.id,
            status=status,
            provider=self._provider.name,
            currency=payment.currency.lower(),
            authorized_amount=payment.amount,
            created_at=self._clock(),
            entry_id=f"authorize:{key}",
            source=EntrySource.API,
            request_id=command.request_id,
            idempotency_key=key,
        )
        try:
            self._ledger.create(new_payment)
        except LedgerError:
            self._release_unrecorded(payment, key)
            # A retry with the same key gets the released hold back from the provider's idempotency (answered 409
            # by ``_still_held``): the client has to start again.
            raise LedgerStoreUnavailable(
                "the payment could not be recorded and its hold was released: start the payment again with a new "
                "Idempotency-Key"
            ) from None
        return payment_view(payment, fallback_email=request.email)

    def _still_held(self, replayed: Payment, *, request_id: str | None) -> Payment:
        """The payment behind a replayed ``/charge`` (the provider answered this key before: the first attempt's answer
        was lost, or its record failed and its hold was released), as it is now. A hold goes on to be recorded; one
        that is no longer held is recorded as it is (best effort) and answered 409 ``already_released``."""
        current = self._provider.retrieve(replayed.id)
        status = payment_state.ledger_status(current)
        if status in HOLD_STATUSES:
            return current
        if status is not None:
            with contextlib.suppress(LedgerError):
                self._ledger.create(
                    payment_state.backfill(current, status, provider=self._provider.name, request_id=request_id)
                )
        raise StateConflict(
            "this payment is no longer held: start the payment again with a new Idempotency-Key",
            code="already_released",
        )

    def _release_unrecorded(self, payment: Payment, key: str) -> None:
        """A hold the ledger could not record would block the customer's money with nothing to release it."""
        logger.error("ledger write failed after a hold was placed: releasing it", extra={"payment_id": payment.id})
        try:
            self._provider.release(payment.id, idempotency_key=f"{key}:unrecorded")
        except ApiError:
            logger.exception("unrecorded hold could not be released", extra={"payment_id": payment.id})

    # --- /capture ---------------------------------------------------------------------------------------------------

    def _capture(self, command: Command, request: PaymentRequest) -> Payment:
        key, entry_id = command.idempotency_key, f"capture:{command.idempotency_key}"
        record = self._record_of(request.payment_id, request_id=command.request_id)
        # Our own earlier capture, whose answer was lost: the provider replays it under the same key.
        amount = request.amount if record.has_entry(entry_id) else decide_capture(record, request).amount
        try:
            payment = self._provider.capture(request.payment_id, amount=amount, idempotency_key=key)
        except _REFUSALS:
            corrected = self._reconcile(record, request_id=command.request_id)
            if corrected != record:
                decide_capture(corrected, request)
            raise
        transition = Transition(
            payment_id=request.payment_id,
            status=PaymentStatus.CAPTURED,
            entry_id=entry_id,
            at=self._clock(),
            amount=payment.amount_captured,
            source=EntrySource.API,
            request_id=command.request_id,
            idempotency_key=key,
            captured_amount=payment.amount_captured,
            booking=request.booking,
        )
        self._record_moved(transition)
        return payment

    # --- /refund ----------------------------------------------------------------------------------------------------

    def _refund(self, command: Command, request: PaymentRequest) -> Refund:
        record = self._record_of(request.payment_id, request_id=command.request_id)
        decision = _replayed(record, command.idempotency_key) or decide_refund(record, request)
        try:
            refund = self._give_back(request.payment_id, decision, key=command.idempotency_key)
        except _REFUSALS:
            corrected = self._reconcile(record, request_id=command.request_id)
            if corrected == record:
                raise
            # The record was stale: decide again from the provider's truth (this raises the right 409 when nothing
            # is owed, e.g. the hold had lapsed or the payment was refunded in the Dashboard).
            record, decision = corrected, decide_refund(corrected, request)
            refund = self._give_back(request.payment_id, decision, key=command.idempotency_key)
        self._record_moved(self._refund_transition(record, decision, refund, command))
        return refund

    def _give_back(self, payment_id: str, decision: Decision, *, key: str) -> Refund:
        """One provider call under a key of its own per request and decision: the same on every retry, and a call
        decided anew from a corrected record never reuses the key of the call the provider refused."""
        if decision.action is Action.RELEASE:
            return self._provider.release(payment_id, idempotency_key=f"{key}:release")
        if decision.amount is None:
            raise ValueError("a refund needs its amount")
        provider_key = f"{key}:refund:{decision.amount}"
        return self._provider.refund(payment_id, amount=decision.amount, idempotency_key=provider_key)

    def _refund_transition(
        self, record: PaymentRecord, decision: Decision, refund: Refund, command: Command
    ) -> Transition:
        request = command.payment
        common: dict[str, Any] = {
            "payment_id": record.payment_id,
            "at": self._clock(),
            "source": EntrySource.API,
            "request_id": command.request_id,
            "idempotency_key": command.idempotency_key,
            "booking": None if request is None else request.booking,
        }
        if decision.action is Action.RELEASE:
            return Transition(
                status=PaymentStatus.RELEASED,
                entry_id=f"release:{command.idempotency_key}",
                amount=record.authorized_amount,
                reason="requested",
                **common,
            )
        # Keyed by the provider's refund id, as a refund the provider reports on its own (webhook) is: whichever of
        # the two records it first, the other writes nothing.
        return Transition(
            status=status_after_refund(record, refund.amount),
            entry_id=refund_entry_id(refund.id),
            amount=refund.amount,
            refunded_delta=refund.amount,
            **common,
        )

    # --- the ledger -------------------------------------------------------------------------------------------------

    def _read(self, payment_id: str) -> PaymentRecord | None:
        try:
            return self._ledger.get(payment_id)
        except LedgerUnavailable:
            logger.exception("ledger read failed", extra={"payment_id": payment_id})
            raise LedgerStoreUnavailable("the payment service is temporarily unavailable; retry later") from None

    def _record_of(self, payment_id: str, *, request_id: str | None) -> PaymentRecord:
        """The ledger's record; a payment made before the ledger existed is read from the provider and back-filled."""
        record = self._read(payment_id)
        if record is not None:
            return record
        payment = self._provider.retrieve(payment_id)
        status = payment_state.ledger_status(payment)
        if status is None:
            raise StateConflict("the payment failed and holds nothing", code="payment_failed")
        logger.info("back-filling a payment the ledger did not know", extra={"payment_id": payment_id})
        new_payment = payment_state.backfill(payment, status, provider=self._provider.name, request_id=request_id)
        try:
            return self._ledger.create(new_payment)
        except LedgerError:
            logger.exception("ledger back-fill failed", extra={"payment_id": payment_id})
            raise LedgerStoreUnavailable("the payment service is temporarily unavailable; retry later") from None

    def _reconcile(self, record: PaymentRecord, *, request_id: str | None) -> PaymentRecord:
        """Bring ``record`` to what the provider reports now, where the transitions allow it; the record as it is
        after that (unchanged when it already agreed or the provider's state cannot be recorded)."""
        payment = self._provider.retrieve(record.payment_id)
        status = payment_state.ledger_status(payment)
        refunded = payment.amount_refunded if payment.captured else 0
        unchanged = (status, payment.amount_captured, refunded) == (
            record.status,
            record.captured_amount,
            record.refunded_amount,
        )
        if status is None or unchanged:
            return record
        if not is_allowed(record.status, status):
            logger.warning(
                "provider state cannot be recorded from the ledger's",
                extra={"payment_id": record.payment_id, "ledger_status": record.status, "provider_status": status},
            )
            return record
        logger.warning(
            "ledger record was stale: corrected from the provider",
            extra={"payment_id": record.payment_id, "ledger_status": record.status, "provider_status": status},
        )
        correction = payment_state.correction(record, payment, status, at=self._clock(), request_id=request_id)
        try:
            return self._ledger.apply(correction)
        except TransitionRefused as refused:
            return refused.record
        except LedgerError:
            logger.exception("ledger correction failed", extra={"payment_id": record.payment_id})
            raise LedgerStoreUnavailable("the payment service is temporarily unavailable; retry later") from None

    def _record_moved(self, transition: Transition) -> None:
        """Record money the provider just moved. A failed write answers 503 so the client's retry records it."""
        try:
            self._ledger.apply(transition)
        except TransitionRefused as refused:
            # The record moved on meanwhile (another request, the sweeper): the provider's state settles it.
            logger.warning(
                "ledger refused a transition the provider made",
                extra={"payment_id": transition.payment_id, "ledger_status": refused.record.status},
            )
            self._reconcile(refused.record, request_id=transition.request_id)
        except LedgerError:
            logger.exception(
                "money moved but the ledger write failed: answering 503 so the retry records it",
                extra={"payment_id": transition.payment_id, "status": transition.status},
            )
            raise LedgerStoreUnavailable("the payment service is temporarily unavailable; retry later") from None


def refund_entry_id(refund_id: str) -> str:
    """The history entry id of the provider's refund ``refund_id``, whoever records it."""
    return f"{REFUND_ENTRY_PREFIX}{refund_id}"


def _replayed(record: PaymentRecord, key: str) -> Decision | None:
    """Our own earlier release or refund under ``key`` whose answer was lost: the same call again (the provider
    replays it under the same key)."""
    for entry in record.history:
        if entry.entry_id == f"release:{key}":
            return Decision(action=Action.RELEASE, amount=None)
        if entry.entry_id.startswith(REFUND_ENTRY_PREFIX) and entry.idempotency_key == key:
            return Decision(action=Action.REFUND, amount=entry.amount)
    return None
