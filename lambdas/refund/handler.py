"""Refund: gives a booking's money back through the payment API (``POST /refund``).

A captured payment is refunded; an uncaptured hold is released.

In: the booking state machine's state, e.g. ``{"outboundFlightId", "customerId", "chargeId", "name", "createdAt",
"bookingId", ...}``; ``chargeId`` (``ch_...``/``pi_...``) is required, no fare is needed. Sends ``{"chargeId"}``
plus ``bookingId``, ``customerId`` and ``execution`` (the state's ``name``) when present. Out: ``{"refundId"}``.
Errors (class name = workflow error name): ``InvalidPaymentRequest``, ``PaymentDeclined``, ``PaymentNotFound``,
``PaymentConflict`` (already refunded or released: the workflow takes it as nothing owed), ``PaymentForbidden``,
``UnexpectedPaymentResponse`` are final; ``PaymentServiceUnavailable`` is retryable. Invoking it again for the same
charge never refunds twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.shared.observability import AWS_TRACED_MODULES, observability
from lambdas.shared.payment_task import REFUND, container_client, run_task

logger, tracer, metrics = observability(AWS_TRACED_MODULES)
client = container_client()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return run_task(REFUND, event, client=client, logger=logger, metrics=metrics)
