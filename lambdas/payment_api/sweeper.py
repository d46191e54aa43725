"""The abandoned-hold sweeper: a scheduled function (EventBridge Scheduler) that releases stale holds.

In: the scheduler's event (ignored). Out: ``{"examined", "released", "settled", "failed", "outOfTime"}``. A hold
still ``authorized`` or ``requires_action`` ``ABANDONED_HOLD_MINUTES`` after it was made is released through the
same provider call as ``/refund`` (idempotency key ``sweep-release:<payment id>``) and recorded ``released`` with
reason ``abandoned``; one captured meanwhile is left alone. Per-hold failures do not fail the run (the next run
retries them); they are counted in the metric ``HoldReleaseFailed``. Metrics: ``HoldsReleased`` (dimension
``reason=abandoned``), ``HoldReleaseFailed``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.payment_api.hold_sweep import sweep
from lambdas.payment_api.service import ABANDONED_HOLD_REASON, PaymentService, utc_now
from lambdas.payment_api.settings import SweeperSettings
from lambdas.payment_api.wiring import dynamodb_ledger, stripe_provider
from lambdas.shared.observability import AWS_TRACED_MODULES, observability

settings = SweeperSettings.from_environ(os.environ)
logger, tracer, metrics = observability(AWS_TRACED_MODULES)
aws_session = boto3.session.Session()
ledger = dynamodb_ledger(settings.ledger, client=aws_session.client("dynamodb"))
service = PaymentService(
    stripe_provider(
        key_parameter=settings.stripe_secret_key_parameter,
        key_parameters=SSMProvider(boto3_session=aws_session),
        api_base=settings.stripe_api_base,
    ),
    ledger,
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(_event: Any, context: LambdaContext) -> dict[str, Any]:
    """One sweep, bounded by the function's remaining time."""
    report = sweep(
        ledger=ledger,
        releaser=service,
        now=utc_now(),
        abandoned_after=timedelta(minutes=settings.abandoned_hold_minutes),
        remaining_millis=context.get_remaining_time_in_millis,
        request_id=context.aws_request_id,
    )
    with single_metric(name="HoldsReleased", unit=MetricUnit.Count, value=report.released) as released:
        released.add_dimension(name="reason", value=ABANDONED_HOLD_REASON)
    metrics.add_metric(name="HoldReleaseFailed", unit=MetricUnit.Count, value=report.failed)
    logger.info("sweep finished", extra=report.as_dict())
    return report.as_dict()
