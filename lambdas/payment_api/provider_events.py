"""What a payment provider reports on its own (by webhook), independent of the provider: one class per kind of fact.

Each event names the payment ids it may be recorded under (``payment_ids``, most specific first: a PaymentIntent's
``pi_`` before its charge's ``ch_``), so the ledger's record is found whichever flow made the payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lambdas.payment_api.ledger import Dispute, FraudWarning


@dataclass(frozen=True, kw_only=True)
class ProviderEvent:
    """``event_id`` is the provider's (unique per event; a redelivery repeats it), ``occurred_at`` its creation."""

    event_id: str
    event_type: str
    occurred_at: datetime
    payment_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class HoldExpired(ProviderEvent):
    """The hold lapsed uncaptured (the provider cancelled it): nothing was taken and nothing can be any more."""


@dataclass(frozen=True, kw_only=True)
class HoldCancelled(ProviderEvent):
    """The hold was cancelled outside the service (e.g. in the Dashboard) for ``reason``."""

    reason: str | None


@dataclass(frozen=True, kw_only=True)
class Captured(ProviderEvent):
    """The payment was captured (by us or outside the service): ``amount_captured`` taken."""

    amount_captured: int


@dataclass(frozen=True, kw_only=True)
class Refunded(ProviderEvent):
    """Money was given back: ``amount_refunded`` is the payment's refunded total now; ``captured`` False means an
    uncaptured hold was released by a refund (the Charges API's way)."""

    amount_refunded: int
    captured: bool


@dataclass(frozen=True, kw_only=True)
class RefundFailed(ProviderEvent):
    """Refund ``refund_id`` of ``amount`` failed at the bank: the money is owed to the customer again."""

    refund_id: str
    amount: int
    failure_reason: str | None


@dataclass(frozen=True, kw_only=True)
class DisputeReported(ProviderEvent):
    """A dispute was opened, updated or closed (``dispute.closed``)."""

    dispute: Dispute


@dataclass(frozen=True, kw_only=True)
class FraudWarned(ProviderEvent):
    """The card issuer raised an early fraud warning on the payment."""

    warning: FraudWarning


@dataclass(frozen=True, kw_only=True)
class NotAPaymentChange(ProviderEvent):
    """An event the service does not act on (an unknown type, or a known one that changes nothing, e.g. a refund
    update that is not a failure); ``why`` says which."""

    why: str
