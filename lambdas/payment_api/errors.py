"""The payment API's errors: each carries the HTTP status and machine-readable code a client receives.

Handlers raise these; one exception handler turns them into ``{"message", "code"}`` responses. Messages are
written for clients: they never hold provider internals, keys or card data.
"""

from __future__ import annotations

from http import HTTPStatus


class ApiError(Exception):
    """Base class; ``status`` and ``code`` are the HTTP answer, ``str(error)`` its message."""

    status: HTTPStatus = HTTPStatus.BAD_REQUEST
    code: str = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    def body(self) -> dict[str, str]:
        return {"message": str(self), "code": self.code}


class InvalidRequest(ApiError):
    """400: the request is malformed, mistyped, or asks for something impossible (e.g. an amount too large)."""


class PayloadTooLarge(ApiError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "payload_too_large"


class UnsupportedMediaType(ApiError):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    code = "unsupported_media_type"


class CardDeclined(ApiError):
    """402: the card issuer declined; ``decline_code`` says why (e.g. ``insufficient_funds``)."""

    status = HTTPStatus.PAYMENT_REQUIRED
    code = "card_declined"

    def __init__(self, message: str, *, decline_code: str | None) -> None:
        super().__init__(message)
        self.decline_code = decline_code or "generic_decline"

    def body(self) -> dict[str, str]:
        return {**super().body(), "decline_code": self.decline_code}


class UnknownPayment(ApiError):
    status = HTTPStatus.NOT_FOUND
    code = "payment_not_found"


class StateConflict(ApiError):
    """409: the payment is in a state that forbids the operation (already captured, refunded, cancelled...)."""

    status = HTTPStatus.CONFLICT
    code = "payment_state_conflict"


class RequestInProgress(ApiError):
    """409: the same idempotency key is being processed right now; retrying later returns its result."""

    status = HTTPStatus.CONFLICT
    code = "request_in_progress"


class ProviderRateLimited(ApiError):
    status = HTTPStatus.TOO_MANY_REQUESTS
    code = "provider_rate_limited"


class ProviderUnavailable(ApiError):
    """502: the payment provider failed or could not be reached."""

    status = HTTPStatus.BAD_GATEWAY
    code = "provider_error"


class ProviderTimeout(ApiError):
    status = HTTPStatus.GATEWAY_TIMEOUT
    code = "provider_timeout"


class ProviderNotConfigured(ApiError):
    """503: the provider's secret key is missing or unreadable (an operator has to put it in place)."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "provider_not_configured"


class IdempotencyStoreUnavailable(ApiError):
    """503: the idempotency store is unreachable; retrying with the same key is safe (the provider dedups too)."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "service_unavailable"


class LedgerStoreUnavailable(ApiError):
    """503: the payment ledger could not be read or written. Retrying with the same idempotency key is safe: the
    provider call is repeated under the same provider key (no money moves twice) and the ledger records it."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "ledger_unavailable"


class WebhookSignatureInvalid(ApiError):
    """400: a webhook whose ``Stripe-Signature`` is missing, garbled, made with another secret, or whose timestamp is
    outside the tolerance (a replay or a forgery). The message says nothing of which check failed."""

    code = "invalid_signature"


class WebhookRejected(ApiError):
    """400: a signed webhook body that is not a Stripe event (not JSON, too large, fields missing)."""

    code = "invalid_event"


class WebhookNotConfigured(ApiError):
    """503: the webhook signing secret is missing or unreadable (an operator has to put it in place with
    ``make stripe-webhook-secret``); the provider retries its delivery later."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "webhook_not_configured"
