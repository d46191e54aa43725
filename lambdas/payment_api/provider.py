"""The payment-provider port: what the API needs from Stripe or any other provider.

Implementations translate their own failures into ``lambdas.payment_api.errors`` and never leak provider types.
Every method that moves money is ONE provider call and takes the idempotency key the provider must be sent; the
service decides from its ledger which one to make, so the provider is never asked for a payment's state first.
"""

from __future__ import annotations

from typing import Protocol

from lambdas.payment_api.domain import ChargeRequest, Payment, Refund


class PaymentProvider(Protocol):
    @property
    def name(self) -> str:
        """The provider's name as the ledger records it (e.g. ``stripe``)."""
        ...

    def authorize(self, request: ChargeRequest, *, idempotency_key: str) -> Payment:
        """Place a hold of ``request.amount`` on the card without capturing it."""
        ...

    def capture(self, payment_id: str, *, amount: int | None, idempotency_key: str) -> Payment:
        """Capture a hold, fully (``amount`` None) or ``amount`` of it; the provider releases the rest of the hold.

        ``StateConflict`` when the provider refuses because of the payment's state.
        """
        ...

    def refund(self, payment_id: str, *, amount: int, idempotency_key: str) -> Refund:
        """Give back ``amount`` of a captured payment. ``StateConflict``/``InvalidRequest`` when refused."""
        ...

    def release(self, payment_id: str, *, idempotency_key: str) -> Refund:
        """Release an uncaptured hold whole (a charge is refunded, a PaymentIntent cancelled).

        ``StateConflict`` when the payment was captured meanwhile: a release never gives back captured money.
        """
        ...

    def retrieve(self, payment_id: str) -> Payment:
        """The payment as the provider holds it now (a back-fill, or the truth behind a refusal)."""
        ...

    def refunds(self, payment_id: str) -> tuple[Refund, ...]:
        """The refunds of a captured payment, newest first (what a refund reported by the provider alone was)."""
        ...
