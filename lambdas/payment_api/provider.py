"""The payment-provider port: what the API needs from Stripe or any other provider.

Implementations translate their own failures into ``lambdas.payment_api.errors`` and never leak provider types.
Every method that moves money takes the idempotency key the provider must be sent.
"""

from __future__ import annotations

from typing import Protocol

from lambdas.payment_api.domain import ChargeRequest, Payment, PaymentRequest, Refund


class PaymentProvider(Protocol):
    def authorize(self, request: ChargeRequest, *, idempotency_key: str) -> Payment:
        """Place a hold of ``request.amount`` on the card without capturing it."""
        ...

    def capture(self, request: PaymentRequest, *, idempotency_key: str) -> Payment:
        """Capture a hold, fully or ``request.amount`` of it. ``PaymentConflict`` if it cannot be captured."""
        ...

    def refund(self, request: PaymentRequest, *, idempotency_key: str) -> Refund:
        """Give money back: refund a captured payment, or release an uncaptured hold."""
        ...
