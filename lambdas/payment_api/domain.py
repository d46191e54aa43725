"""What the payment API works with, independent of the provider: validated requests and provider results."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lambdas.payment_api.ledger import BookingContext


class Operation(StrEnum):
    AUTHORIZE = "charge"
    CAPTURE = "capture"
    REFUND = "refund"


@dataclass(frozen=True, kw_only=True)
class ChargeRequest:
    """A pre-authorisation: ``source`` is a token/card/source id or a PaymentMethod id (``pm_``)."""

    amount: int
    currency: str
    source: str
    description: str | None
    email: str | None

    @property
    def uses_payment_method(self) -> bool:
        return self.source.startswith("pm_")


@dataclass(frozen=True, kw_only=True)
class PaymentRequest:
    """A capture or refund of ``payment_id`` (``ch_`` or ``pi_``); ``amount`` None means the whole amount.

    ``currency`` (lower-case), when given, must be the payment's: a capture of a fare in another currency is refused.
    ``booking`` is the booking the caller acts for (Collect and Refund send it); the ledger records it.
    """

    payment_id: str
    amount: int | None
    currency: str | None = None
    booking: BookingContext | None = None


@dataclass(frozen=True, kw_only=True)
class Payment:
    """A charge or payment intent as the provider reports it (amounts in the currency's smallest unit)."""

    id: str
    object: str
    amount: int
    amount_captured: int
    amount_refunded: int
    currency: str
    status: str
    captured: bool
    refunded: bool
    receipt_url: str | None
    email: str | None
    description: str | None
    created: int
    requires_action: bool = False
    client_secret: str | None = None
    # Why a PaymentIntent was cancelled (``automatic``/``expired`` when the provider let the hold lapse).
    cancellation_reason: str | None = None
    disputed: bool = False
    # The provider answered a repeated idempotency key with its first answer: the payment may have moved on since.
    replayed: bool = False


@dataclass(frozen=True, kw_only=True)
class Refund:
    """Money given back: a refund (``re_...``) of a captured payment, or the release of an uncaptured hold."""

    id: str
    kind: str
    payment_id: str
    amount: int
    currency: str
    status: str
