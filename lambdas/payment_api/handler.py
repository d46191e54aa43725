"""The payment API function: ``POST /charge`` (public), ``POST /capture``, ``POST /refund`` and
``GET /payments/{id}`` (IAM-signed), and ``POST /webhooks/stripe`` (public, Stripe-signed).

In: API Gateway REST proxy events. Out: ``200`` with ``{"createdCharge"|"capturedCharge"|"createdRefund": {...}}``
or ``{"payment": {...}}`` (the ledger record and its history), or ``{"message", "code"}`` with 400 (invalid
request), 402 (declined, plus ``decline_code``), 404 (unknown payment or route), 409 (state conflict, currency
mismatch, amount above the hold, key reuse, request in progress), 413, 415, 429 (provider rate limit), 502/504
(provider failure/timeout) or 503 (provider not configured / idempotency store or ledger down: retry with the same
key). Every money-moving call is idempotent: a replay of the same key returns the first result and moves no money.
A webhook is answered ``200 {"received": true, "outcome": ...}`` once verified (also when it changes nothing), 400
``invalid_signature``/``invalid_event`` when refused, 503 when it could not be recorded (Stripe delivers it again).
"""

from __future__ import annotations

import functools
import os
import time
from http import HTTPStatus
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.typing import LambdaContext
from snapshot_restore_py import register_after_restore

from lambdas.payment_api.domain import Operation
from lambdas.payment_api.errors import (
    ApiError,
    CardDeclined,
    IdempotencyStoreUnavailable,
    InvalidRequest,
    RequestInProgress,
    StateConflict,
    WebhookRejected,
    WebhookSignatureInvalid,
)
from lambdas.payment_api.event_recording import Outcome, ProviderEventRecorder
from lambdas.payment_api.service import Command, PaymentService, charge_command, payment_command, utc_now
from lambdas.payment_api.settings import IDEMPOTENCY_RECORD_SECONDS, SECRET_KEY_CACHE_SECONDS, Settings
from lambdas.payment_api.validation import (
    parse_charge,
    parse_idempotency_key,
    parse_json_object,
    parse_payment,
    parse_payment_id,
)
from lambdas.payment_api.webhook_events import provider_event
from lambdas.payment_api.webhook_verification import ssm_secrets_reader, verified_event
from lambdas.payment_api.wiring import dynamodb_ledger, stripe_provider
from lambdas.shared.observability import STRIPE_TRACED_MODULES, observability

settings = Settings.from_environ(os.environ)
logger, tracer, metrics = observability(STRIPE_TRACED_MODULES)
app = APIGatewayRestResolver(
    cors=CORSConfig(
        allow_origin=settings.cors_allowed_origins[0],
        extra_origins=list(settings.cors_allowed_origins[1:]),
        allow_headers=["Idempotency-Key"],
        max_age=600,
    )
)
idempotency_config = IdempotencyConfig(
    event_key_jmespath="idempotency_key",
    payload_validation_jmespath="[operation, charge, payment]",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=IDEMPOTENCY_RECORD_SECONDS,
)
# The AWS clients are made here, at init, from one session (its endpoint data and credentials loaded once), so the
# first request does not pay for them; the idempotency store and the ledger share one DynamoDB client. Nothing
# connects before the first request.
aws_session = boto3.session.Session()
dynamodb = aws_session.client("dynamodb")
idempotency_store = DynamoDBPersistenceLayer(table_name=settings.idempotency_table_name, boto3_client=dynamodb)
stripe_key_parameters = SSMProvider(boto3_session=aws_session)
payment_ledger = dynamodb_ledger(settings.ledger, client=dynamodb)
webhook_secrets = ssm_secrets_reader(
    settings.stripe_webhook_secret_parameter, max_age_seconds=SECRET_KEY_CACHE_SECONDS, provider=stripe_key_parameters
)

_SUCCESS_METRICS = {Operation.AUTHORIZE: "ChargeAuthorized", Operation.CAPTURE: "PaymentCaptured"}


@functools.cache
def payment_service() -> PaymentService:
    """Built at init and kept for the container's life (one Stripe HTTP client and connection pool)."""
    provider = stripe_provider(
        key_parameter=settings.stripe_secret_key_parameter,
        key_parameters=stripe_key_parameters,
        api_base=settings.stripe_api_base,
    )
    return PaymentService(provider, payment_ledger)


@functools.cache
def event_recorder() -> ProviderEventRecorder:
    """The webhook's recorder, sharing the service's provider (its connection pool) and the ledger."""
    return ProviderEventRecorder(payment_ledger, payment_service().provider, clock=utc_now)


payment_service()


@register_after_restore
def _after_snapshot_restore() -> None:
    """SnapStart: each restored environment gets its own Stripe connection pool and reads the key itself."""
    stripe_key_parameters.clear_cache()  # type: ignore[no-untyped-call]
    payment_service.cache_clear()
    event_recorder.cache_clear()
    payment_service()


@idempotent_function(  # type: ignore[untyped-decorator]
    data_keyword_argument="command", config=idempotency_config, persistence_store=idempotency_store
)
def execute_once(*, command: Command) -> dict[str, Any]:
    """Runs only for a key's first request: replays return the stored result without coming here."""
    result = payment_service().execute(command)
    _record_success(command.operation, result)
    return result


def run(command: Command) -> dict[str, Any]:
    """Execute ``command`` at most once per idempotency key; replays return the stored first result."""
    logger.debug(
        "running command", extra={"operation": str(command.operation), "idempotency_key": command.idempotency_key}
    )
    try:
        result: dict[str, Any] = execute_once(command=command)
    except IdempotencyValidationError:
        raise StateConflict(
            "this Idempotency-Key was already used for a different request", code="idempotency_key_reused"
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise RequestInProgress("the same request is being processed; retry shortly for its result") from None
    except IdempotencyPersistenceLayerError:
        logger.exception("idempotency store unavailable")
        raise IdempotencyStoreUnavailable("the payment service is temporarily unavailable; retry later") from None
    return result


def _record_success(operation: Operation, result: dict[str, Any]) -> None:
    view = next(iter(result.values()))
    if operation is Operation.REFUND:
        name = "HoldReleased" if view.get("kind") == "hold_released" else "PaymentRefunded"
    elif view.get("requires_action"):
        name = "ChargeRequiresAction"
    else:
        name = _SUCCESS_METRICS[operation]
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    logger.info(
        f"{operation} succeeded",
        extra={
            "operation": str(operation),
            "payment_id": view.get("charge") or view.get("id"),
            "status": view.get("status"),
            "amount": view.get("amount"),
            "currency": view.get("currency"),
        },
    )


def _json_body() -> dict[str, Any]:
    event = app.current_event
    try:
        body = event.decoded_body
    except ValueError:
        raise InvalidRequest("the request body is not valid UTF-8 JSON") from None
    return parse_json_object(body, event.headers.get("content-type"))


def _client_key() -> str | None:
    return parse_idempotency_key(app.current_event.headers.get("idempotency-key"))


def _request_id() -> str | None:
    """API Gateway's request id: the ledger's history entries carry it, as the logs' correlation id does."""
    return app.current_event.request_context.request_id


@app.post("/charge")
def charge() -> dict[str, Any]:
    request = parse_charge(_json_body(), max_amounts=settings.max_charge_amounts)
    return run(charge_command(request, client_key=_client_key(), request_id=_request_id()))


@app.post("/capture")
def capture() -> dict[str, Any]:
    request = parse_payment(_json_body())
    return run(payment_command(Operation.CAPTURE, request, client_key=_client_key(), request_id=_request_id()))


@app.post("/refund")
def refund() -> dict[str, Any]:
    request = parse_payment(_json_body())
    return run(payment_command(Operation.REFUND, request, client_key=_client_key(), request_id=_request_id()))


@app.get("/payments/<payment_id>")
def get_payment(payment_id: str) -> dict[str, Any]:
    """The ledger's record of one payment and its history (no provider call, never card data)."""
    return payment_service().payment(parse_payment_id(payment_id))


@app.post("/webhooks/stripe")
def stripe_webhook() -> dict[str, Any]:
    """A Stripe event, verified against the endpoint's secrets, recorded in the ledger once per fact."""
    event = app.current_event
    try:
        payload = (event.decoded_body if event.is_base64_encoded else event.body) or ""
    except ValueError:
        raise WebhookRejected("the webhook body is not UTF-8") from None
    verified = verified_event(payload, event.headers.get("stripe-signature"), webhook_secrets(), now=time.time())
    recorded = event_recorder().record(provider_event(verified))
    if recorded.uncollected_booking_id is not None:
        # The same alarm as an expired hold of a booking (the event publisher's): a booking without its money.
        metrics.add_metric(name="HoldExpiredForBooking", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="WebhookEventApplied" if recorded.outcome is Outcome.APPLIED else "WebhookEventIgnored",
        unit=MetricUnit.Count,
        value=1,
    )
    logger.info(
        "webhook event received",
        extra={
            "event_id": verified["id"],
            "event_type": verified["type"],
            "outcome": str(recorded.outcome),
            "payment_id": recorded.payment_id,
            "status": None if recorded.status is None else str(recorded.status),
        },
    )
    return {"received": True, "outcome": str(recorded.outcome)}


def _error_response(status: int, body: dict[str, str]) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@app.exception_handler(ApiError)  # type: ignore[untyped-decorator]
def payment_error(error: ApiError) -> Response[Any]:
    if isinstance(error, CardDeclined):
        metrics.add_metric(name="ChargeDeclined", unit=MetricUnit.Count, value=1)
    elif isinstance(error, WebhookSignatureInvalid):
        metrics.add_metric(name="WebhookSignatureRejected", unit=MetricUnit.Count, value=1)
    elif isinstance(error, WebhookRejected):
        metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
    elif error.status >= HTTPStatus.INTERNAL_SERVER_ERROR or error.status == HTTPStatus.TOO_MANY_REQUESTS:
        metrics.add_metric(name="ProviderError", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="RejectedRequest", unit=MetricUnit.Count, value=1)
    logger.info("request answered with an error", extra={"status": int(error.status), "code": error.code})
    return _error_response(error.status, error.body())


@app.not_found
def not_found(_error: Exception) -> Response[Any]:
    return _error_response(HTTPStatus.NOT_FOUND, {"message": "no such route", "code": "not_found"})


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def unexpected_error(_error: Exception) -> Response[Any]:
    # A bug, not a client mistake: log it in full, tell the client nothing about internals.
    logger.exception("unexpected error")
    metrics.add_metric(name="UnexpectedError", unit=MetricUnit.Count, value=1)
    return _error_response(HTTPStatus.INTERNAL_SERVER_ERROR, {"message": "internal error", "code": "internal_error"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The Lambda entry point: API Gateway proxy event in, proxy response out."""
    idempotency_config.register_lambda_context(context)
    return app.resolve(event, context)
