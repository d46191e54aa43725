"""The payment API's use cases: one provider call per request, with the idempotency key it must carry.

Results are the old app's envelopes (``createdCharge``, ``capturedCharge``, ``createdRefund``) around a curated
projection of the provider's object: less card data leaves the service than the provider returns.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from lambdas.payment_api.domain import ChargeRequest, Operation, Payment, PaymentRequest, Refund
from lambdas.payment_api.provider import PaymentProvider


@dataclass(frozen=True, kw_only=True)
class Command:
    """One money-moving request; the idempotency layer hashes ``idempotency_key`` and checks the rest is equal."""

    idempotency_key: str
    operation: Operation
    charge: ChargeRequest | None = None
    payment: PaymentRequest | None = None


def charge_command(request: ChargeRequest, *, client_key: str | None) -> Command:
    """A ``/charge``: the client's key (namespaced), or a fresh one so two distinct charges never merge."""
    key = f"{Operation.AUTHORIZE}:{client_key}" if client_key else f"{Operation.AUTHORIZE}:auto:{uuid.uuid4()}"
    return Command(idempotency_key=key, operation=Operation.AUTHORIZE, charge=request)


def payment_command(operation: Operation, request: PaymentRequest, *, client_key: str | None) -> Command:
    """A ``/capture`` or ``/refund``: the client's key, else one derived from operation, payment id and amount.

    The derived key is the same for every retry of the same request, and differs between capture and refund and
    between different partial amounts.
    """
    amount = "full" if request.amount is None else str(request.amount)
    key = f"{operation}:{client_key}" if client_key else f"{operation}:{request.payment_id}:{amount}"
    return Command(idempotency_key=key, operation=operation, payment=request)


class PaymentService:
    """Runs commands against a ``PaymentProvider``; errors are the provider's ``PaymentError`` translations."""

    def __init__(self, provider: PaymentProvider) -> None:
        self._provider = provider

    def execute(self, command: Command) -> dict[str, Any]:
        key = command.idempotency_key
        if command.operation is Operation.AUTHORIZE and command.charge is not None:
            payment = self._provider.authorize(command.charge, idempotency_key=key)
            return {"createdCharge": payment_view(payment, fallback_email=command.charge.email)}
        if command.operation is Operation.CAPTURE and command.payment is not None:
            return {"capturedCharge": payment_view(self._provider.capture(command.payment, idempotency_key=key))}
        if command.operation is Operation.REFUND and command.payment is not None:
            return {"createdRefund": refund_view(self._provider.refund(command.payment, idempotency_key=key))}
        raise ValueError(f"malformed command for {command.operation}")


def payment_view(payment: Payment, *, fallback_email: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": payment.id,
        "object": payment.object,
        "amount": payment.amount,
        "amount_captured": payment.amount_captured,
        "amount_refunded": payment.amount_refunded,
        "currency": payment.currency,
        "status": payment.status,
        "captured": payment.captured,
        "refunded": payment.refunded,
        "receipt_url": payment.receipt_url,
        "email": payment.email or fallback_email,
        "description": payment.description,
        "created": payment.created,
        "requires_action": payment.requires_action,
    }
    if payment.requires_action:
        view["client_secret"] = payment.client_secret
    return view


def refund_view(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "object": "refund",
        "kind": refund.kind,
        "charge": refund.payment_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "status": refund.status,
    }
