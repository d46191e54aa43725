"""What Collect and Refund have in common: validate the booking state, call one payment API route, map the answer.

Each call's body holds the ``chargeId``, for Collect the fare to capture (``amount``, ``currency``), and the booking
context the API records with the payment (``bookingId``, ``customerId``, ``execution``). Each function's handler
module only picks its ``PaymentTask`` and applies the Powertools decorators.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.credentials import ContainerProvider, CredentialResolver, EnvProvider
from botocore.httpsession import URLLib3Session
from snapshot_restore_py import register_after_restore
from urllib3.connection import HTTPConnection

from lambdas.shared.booking_context import booking_log_keys
from lambdas.shared.payment_api_client import PaymentApiClient
from lambdas.shared.payment_errors import (
    FareUnavailable,
    InvalidPaymentRequest,
    PaymentError,
    UnexpectedPaymentResponse,
)

# Short enough that the derived Idempotency-Key stays within the API's 200-character limit.
CHARGE_ID = re.compile(r"(ch|pi)_[A-Za-z0-9_]{1,180}")
CURRENCY = re.compile(r"[A-Za-z]{3}")
# No fare is anywhere near 1 000 000.00 in any currency: a larger amount is a catalog error, not a price.
MAX_FARE_AMOUNT = 100_000_000
# Body field -> state key: the booking a payment belongs to, recorded by the API. ``name`` is the execution name.
BOOKING_CONTEXT_FIELDS = {"bookingId": "bookingId", "customerId": "customerId", "execution": "name"}
MAX_CONTEXT_LENGTH = 256
# What the API refuses in a booking field: control characters, and lone surrogates (JSON escapes that are no text).
UNSENDABLE_CHARACTER = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
# Well inside the 30 s function timeout, and longer than the payment API's own 12 s budget.
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 20.0

BookingState = Mapping[str, Any]


@dataclass(frozen=True)
class PaymentTask:
    """One workflow task: ``name`` (metric dimension, key prefix), the API ``route``, how to build the request body
    from the booking state and its charge id (may raise a ``PaymentError``: then no call is made), and how to read
    the answer."""

    name: str
    route: str
    build_body: Callable[[BookingState, str], dict[str, Any]]
    read_result: Callable[[dict[str, Any]], dict[str, Any]]

    def idempotency_key(self, charge_id: str) -> str:
        """The same for every retry of this task for this charge, different between Collect and Refund."""
        return f"booking-{self.name}-{charge_id}"


def booking_context(state: BookingState) -> dict[str, str]:
    """``bookingId``, ``customerId`` and ``execution`` for the API to record, each only if the state has it as
    non-empty text, cut to ``MAX_CONTEXT_LENGTH`` characters.

    A value with a character the API refuses (``UNSENDABLE_CHARACTER``) is left out: sent, it would make the API
    refuse the whole body, and a refund must not fail over a label.
    """
    context: dict[str, str] = {}
    for body_field, state_key in BOOKING_CONTEXT_FIELDS.items():
        value = state.get(state_key)
        text = value[:MAX_CONTEXT_LENGTH] if isinstance(value, str) else ""
        if text and not UNSENDABLE_CHARACTER.search(text):
            context[body_field] = text
    return context


def fare_of(state: BookingState) -> tuple[int, str]:
    """``(amount, currency)`` from the state's ``fare`` (Reserve Flight's result, read by the workflow), currency
    lower-cased; ``FareUnavailable`` if it is missing or invalid: the price is the server's, never the whole hold."""
    fare = state.get("fare")
    if not isinstance(fare, Mapping):
        raise FareUnavailable("the booking state has no fare: nothing is captured without the flight's price")
    amount, currency = fare.get("amount"), fare.get("currency")
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_FARE_AMOUNT:
        raise FareUnavailable(
            f"fare.amount must be a whole number from 1 to {MAX_FARE_AMOUNT} (the currency's smallest unit)"
        )
    if not isinstance(currency, str) or not CURRENCY.fullmatch(currency):
        raise FareUnavailable("fare.currency must be a 3-letter currency code")
    return amount, currency.lower()


def _collect_body(state: BookingState, charge_id: str) -> dict[str, Any]:
    amount, currency = fare_of(state)
    return {"chargeId": charge_id, "amount": amount, "currency": currency, **booking_context(state)}


def _refund_body(state: BookingState, charge_id: str) -> dict[str, Any]:
    # No amount: Refund gives back whatever was taken (a capture or the whole hold).
    return {"chargeId": charge_id, **booking_context(state)}


def _collect_result(answer: dict[str, Any]) -> dict[str, Any]:
    charge = answer.get("capturedCharge")
    if not isinstance(charge, dict):
        raise UnexpectedPaymentResponse("the capture answer has no capturedCharge")
    # What was captured, which is the fare even when the hold was larger; ``amount`` only for an API without it.
    price = charge["amount_captured"] if "amount_captured" in charge else charge.get("amount")
    if not isinstance(price, int) or isinstance(price, bool):
        raise UnexpectedPaymentResponse("the capture answer has no capturedCharge.amount_captured or amount")
    receipt_url = charge.get("receipt_url")
    return {"receiptUrl": receipt_url if isinstance(receipt_url, str) else None, "price": price}


def _refund_result(answer: dict[str, Any]) -> dict[str, Any]:
    refund = answer.get("createdRefund")
    refund_id = refund.get("id") if isinstance(refund, dict) else None
    if not isinstance(refund_id, str) or not refund_id:
        raise UnexpectedPaymentResponse("the refund answer has no createdRefund.id")
    return {"refundId": refund_id}


COLLECT = PaymentTask(name="collect", route="capture", build_body=_collect_body, read_result=_collect_result)
REFUND = PaymentTask(name="refund", route="refund", build_body=_refund_body, read_result=_refund_result)


def booking_state_of(state: object) -> BookingState:
    """The task input as the booking state; ``InvalidPaymentRequest`` if it is not a JSON object."""
    if not isinstance(state, Mapping):
        raise InvalidPaymentRequest("the task input must be the booking state (a JSON object)")
    return state


def charge_id_of(state: BookingState) -> str:
    """The ``chargeId`` of the booking state; ``InvalidPaymentRequest`` if it is missing or malformed."""
    charge_id = state.get("chargeId")
    if not isinstance(charge_id, str) or not CHARGE_ID.fullmatch(charge_id):
        raise InvalidPaymentRequest("chargeId must be a charge or PaymentIntent id (ch_... or pi_...)")
    return charge_id


@dataclass(frozen=True, kw_only=True)
class TaskSettings:
    """What Collect and Refund read from their environment, validated once at init (as the API's ``Settings``).

    Raises ``ValueError`` naming the variable when the deployment is broken, however the settings are made.
    """

    payment_api_url: str
    region: str

    def __post_init__(self) -> None:
        url = self.payment_api_url
        if not url:
            raise ValueError("PAYMENT_API_URL is not set: the function was deployed without its payment API")
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"PAYMENT_API_URL must be the payment API's base URL (https://host/stage/), not {url!r}")
        if not self.region:
            raise ValueError("AWS_REGION is not set: the function cannot sign payment API calls")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> TaskSettings:
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or ""
        return cls(payment_api_url=environ.get("PAYMENT_API_URL", ""), region=region)


def payment_api_client() -> PaymentApiClient:
    """Built once per container from its ``TaskSettings`` and the function's own (refreshing) credentials."""
    settings = TaskSettings.from_environ(os.environ)
    # Lambda hands a function its credentials in exactly these two ways (environment variables; the container
    # endpoint, refreshed by botocore, e.g. after a SnapStart restore). A full botocore Session would find the same
    # but costs about 25 ms of init registering its event handlers.
    credentials = CredentialResolver([EnvProvider(), ContainerProvider()]).load_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials to sign payment API calls with")
    return PaymentApiClient(
        base_url=settings.payment_api_url,
        region=settings.region,
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
    """Run ``task`` for the booking ``state``: the task's result, or a ``PaymentError`` (after metrics and logs).

    A state the request cannot be built from (``InvalidPaymentRequest``, ``FareUnavailable``) fails before any call.
    """
    logger.append_keys(**booking_log_keys(state))
    metrics.add_dimension(name="operation", value=task.name)
    try:
        booking_state = booking_state_of(state)
        charge_id = charge_id_of(booking_state)
        body = task.build_body(booking_state, charge_id)
    except PaymentError as error:
        _record_failure(task, error, logger=logger, metrics=metrics, message=f"{task.name} refused: no HTTP call made")
        raise
    logger.debug(
        "calling the payment API", extra={"route": task.route, "idempotency_key": task.idempotency_key(charge_id)}
    )
    try:
        answer = client().post(task.route, body, idempotency_key=task.idempotency_key(charge_id))
        result = task.read_result(answer)
    except PaymentError as error:
        _record_failure(task, error, logger=logger, metrics=metrics, message=f"{task.name} failed")
        raise
    metrics.add_metric(name="SuccessfulPayment", unit=MetricUnit.Count, value=1)
    logger.info(f"{task.name} succeeded", extra={"result": result})
    return result


def _record_failure(task: PaymentTask, error: PaymentError, *, logger: Logger, metrics: Metrics, message: str) -> None:
    # A request we could not build or the API refused as malformed is ours to fix; anything else (a decline, a hold
    # below the fare, no fare) is a payment that did not happen.
    name = "InvalidPaymentRequest" if isinstance(error, InvalidPaymentRequest) else "FailedPayment"
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    logger.warning(
        message,
        extra={
            "task": task.name,
            "error_type": type(error).__name__,
            "retryable": error.retryable,
            "reason": str(error),
        },
    )
