"""What Collect and Refund have in common: validate the booking state, call one payment API route, map the answer.

Each function's handler module only picks its ``PaymentTask`` and applies the Powertools decorators.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.credentials import ContainerProvider, CredentialResolver, EnvProvider
from botocore.httpsession import URLLib3Session
from snapshot_restore_py import register_after_restore
from urllib3.connection import HTTPConnection

from lambdas.shared.booking_context import booking_log_keys
from lambdas.shared.payment_api_client import PaymentApiClient
from lambdas.shared.payment_errors import InvalidPaymentRequest, PaymentError, UnexpectedPaymentResponse

# Short enough that the derived Idempotency-Key stays within the API's 200-character limit.
CHARGE_ID = re.compile(r"(ch|pi)_[A-Za-z0-9_]{1,180}")
# Well inside the 30 s function timeout, and longer than the payment API's own 12 s budget.
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True)
class PaymentTask:
    """One workflow task: ``name`` (metric dimension, key prefix), the API ``route``, and how to read its answer."""

    name: str
    route: str
    read_result: Callable[[dict[str, Any]], dict[str, Any]]

    def idempotency_key(self, charge_id: str) -> str:
        """The same for every retry of this task for this charge, different between Collect and Refund."""
        return f"booking-{self.name}-{charge_id}"


def _collect_result(answer: dict[str, Any]) -> dict[str, Any]:
    charge = answer.get("capturedCharge")
    amount = charge.get("amount") if isinstance(charge, dict) else None
    if not isinstance(charge, dict) or not isinstance(amount, int) or isinstance(amount, bool):
        raise UnexpectedPaymentResponse("the capture answer has no capturedCharge.amount")
    receipt_url = charge.get("receipt_url")
    return {"receiptUrl": receipt_url if isinstance(receipt_url, str) else None, "price": amount}


def _refund_result(answer: dict[str, Any]) -> dict[str, Any]:
    refund = answer.get("createdRefund")
    refund_id = refund.get("id") if isinstance(refund, dict) else None
    if not isinstance(refund_id, str) or not refund_id:
        raise UnexpectedPaymentResponse("the refund answer has no createdRefund.id")
    return {"refundId": refund_id}


COLLECT = PaymentTask(name="collect", route="capture", read_result=_collect_result)
REFUND = PaymentTask(name="refund", route="refund", read_result=_refund_result)


def charge_id_of(state: object) -> str:
    """The ``chargeId`` of the booking state; ``InvalidPaymentRequest`` if it is missing or malformed."""
    if not isinstance(state, Mapping):
        raise InvalidPaymentRequest("the task input must be the booking state (a JSON object)")
    charge_id = state.get("chargeId")
    if not isinstance(charge_id, str) or not CHARGE_ID.fullmatch(charge_id):
        raise InvalidPaymentRequest("chargeId must be a charge or PaymentIntent id (ch_... or pi_...)")
    return charge_id


def payment_api_client() -> PaymentApiClient:
    """Built once per container from ``PAYMENT_API_URL`` and the function's own (refreshing) credentials."""
    if not os.environ.get("PAYMENT_API_URL"):
        raise RuntimeError("PAYMENT_API_URL is not set: the function was deployed without its payment API")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise RuntimeError("AWS_REGION is not set: the function cannot sign payment API calls")
    # Lambda hands a function its credentials in exactly these two ways (environment variables; the container
    # endpoint, refreshed by botocore, e.g. after a SnapStart restore). A full botocore Session would find the same
    # but costs about 25 ms of init registering its event handlers.
    credentials = CredentialResolver([EnvProvider(), ContainerProvider()]).load_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials to sign payment API calls with")
    return PaymentApiClient(
        base_url=os.environ["PAYMENT_API_URL"],
        region=region,
        credentials=credentials,
        # One keep-alive connection (a container runs one invocation at a time). The socket options are urllib3's
        # defaults (TCP_NODELAY), which botocore replaces with none: its headers and body go out as two writes, and
        # Nagle would hold the body back until the server's delayed ACK (about 40 ms per call, measured).
        http=URLLib3Session(
            timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),  # type: ignore[arg-type] # botocore takes a pair
            max_pool_connections=1,
            socket_options=HTTPConnection.default_socket_options,
        ),
    )


def container_client() -> functools._lru_cache_wrapper[PaymentApiClient]:
    """The container's client, built now, at init: off the first booking's path and, with SnapStart, in the snapshot.

    Returns a cached factory (``cache_clear`` rebuilds on next use). After a SnapStart restore the client is built
    anew, so restored environments never share the snapshot's connection or credentials.
    """
    client = functools.cache(payment_api_client)
    client()
    register_after_restore(_rebuild, client)
    return client


def _rebuild(client: functools._lru_cache_wrapper[PaymentApiClient]) -> None:
    client.cache_clear()
    client()


def run_task(
    task: PaymentTask, state: object, *, client: Callable[[], PaymentApiClient], logger: Logger, metrics: Metrics
) -> dict[str, Any]:
    """Run ``task`` for the booking ``state``: the task's result, or a ``PaymentError`` (after metrics and logs)."""
    logger.append_keys(**booking_log_keys(state))
    metrics.add_dimension(name="operation", value=task.name)
    try:
        charge_id = charge_id_of(state)
    except InvalidPaymentRequest:
        metrics.add_metric(name="InvalidPaymentRequest", unit=MetricUnit.Count, value=1)
        logger.warning("invalid payment request: no HTTP call made", extra={"task": task.name})
        raise
    logger.debug(
        "calling the payment API", extra={"route": task.route, "idempotency_key": task.idempotency_key(charge_id)}
    )
    try:
        answer = client().post(task.route, {"chargeId": charge_id}, idempotency_key=task.idempotency_key(charge_id))
        result = task.read_result(answer)
    except PaymentError as error:
        name = "InvalidPaymentRequest" if isinstance(error, InvalidPaymentRequest) else "FailedPayment"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        logger.warning(
            f"{task.name} failed",
            extra={"error_type": type(error).__name__, "retryable": error.retryable, "reason": str(error)},
        )
        raise
    metrics.add_metric(name="SuccessfulPayment", unit=MetricUnit.Count, value=1)
    logger.info(f"{task.name} succeeded", extra={"result": result})
    return result
