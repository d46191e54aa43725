"""Collect: captures a booking's fare from its pre-authorisation through the payment API (``POST /capture``).

In: the booking state machine's state, e.g. ``{"outboundFlightId", "customerId", "chargeId", "name", "createdAt",
"bookingId", "fare": {"amount", "currency"}, ...}``; ``chargeId`` (``ch_...``/``pi_...``) and ``fare`` (the
flight's price read by the workflow: a positive whole ``amount`` in the currency's smallest unit, a 3-letter
``currency``) are required. Sends ``{"chargeId", "amount", "currency"}`` plus ``bookingId``, ``customerId`` and
``execution`` (the state's ``name``) when present. Out: ``{"receiptUrl", "price"}``, ``price`` the amount
captured (the fare, also when the hold was larger). Errors (class name = workflow error name):
``InvalidPaymentRequest``, ``FareUnavailable`` (no HTTP call made), ``HoldBelowFare``, ``CurrencyMismatch``,
``PaymentDeclined``, ``PaymentNotFound``, ``PaymentConflict``, ``PaymentForbidden``, ``UnexpectedPaymentResponse``
are final; ``PaymentServiceUnavailable`` is retryable. Invoking it again for the same charge never captures twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.shared.observability import AWS_TRACED_MODULES, observability
from lambdas.shared.payment_task import COLLECT, container_client, run_task

logger, tracer, metrics = observability(AWS_TRACED_MODULES)
client = container_client()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return run_task(COLLECT, event, client=client, logger=logger, metrics=metrics)
