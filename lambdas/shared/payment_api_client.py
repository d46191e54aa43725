"""A SigV4-signed client of the payment API for Collect and Refund, built once per container.

It sends through botocore's own urllib3 session, which the Lambda runtime already ships: one keep-alive connection
pool serves every warm invocation, no proxy or ``.netrc`` lookup happens per request, and nothing extra is bundled.
Each call is signed for ``execute-api`` with the function's own credentials, which botocore refreshes as they
rotate. Answers are mapped to the typed errors of ``payment_errors``; timeouts and connection failures are
retryable.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, Protocol

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest, AWSResponse
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ConnectTimeoutError, ReadTimeoutError

from lambdas.shared.payment_errors import (
    CurrencyMismatch,
    HoldBelowFare,
    InvalidPaymentRequest,
    PaymentConflict,
    PaymentDeclined,
    PaymentError,
    PaymentForbidden,
    PaymentNotFound,
    PaymentServiceUnavailable,
    UnexpectedPaymentResponse,
)

_FINAL_BY_STATUS: dict[int, type[PaymentError]] = {
    400: InvalidPaymentRequest,
    401: PaymentForbidden,
    402: PaymentDeclined,
    403: PaymentForbidden,
    404: PaymentNotFound,
    409: PaymentConflict,
    413: InvalidPaymentRequest,
    415: InvalidPaymentRequest,
}
# 409s that are not about the payment's state but about the booking's fare: the hold is still there to release.
_FINAL_BY_CONFLICT_CODE: dict[str, type[PaymentError]] = {
    "amount_exceeds_hold": HoldBelowFare,
    "currency_mismatch": CurrencyMismatch,
}
_RETRYABLE_STATUSES = {HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS}
_STILL_PROCESSING = "request_in_progress"


class HttpSender(Protocol):
    """What ``botocore.httpsession.URLLib3Session`` offers: send a prepared request, return the read response."""

    def send(self, request: AWSPreparedRequest) -> AWSResponse: ...


class PaymentApiClient:
    """POSTs JSON to ``<base_url>/<path>``; returns the 2xx JSON object or raises a ``PaymentError``."""

    def __init__(self, *, base_url: str, region: str, credentials: Any, http: HttpSender) -> None:
        self._base_url = base_url.rstrip("/")
        self._region = region
        self._credentials = credentials
        self._http = http

    def post(self, path: str, body: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        request = AWSRequest(
            method="POST",
            url=f"{self._base_url}/{path.lstrip('/')}",
            data=json.dumps(body, separators=(",", ":")).encode(),
            headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
        )
        frozen: Credentials = self._credentials.get_frozen_credentials()
        SigV4Auth(frozen, "execute-api", self._region).add_auth(request)
        try:
            response = self._http.send(request.prepare())
        except (ConnectTimeoutError, ReadTimeoutError):
            raise PaymentServiceUnavailable(f"the payment API did not answer POST /{path} in time") from None
        except BotoCoreError as error:
            raise PaymentServiceUnavailable(
                f"the payment API could not be reached for POST /{path}: {type(error).__name__}"
            ) from None
        return _answer(path, response.status_code, response.content)


def _answer(path: str, status: int, content: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(content)
    except ValueError:
        payload = None
    body = payload if isinstance(payload, dict) else {}
    if HTTPStatus.OK <= status < HTTPStatus.MULTIPLE_CHOICES:
        if not body:
            raise UnexpectedPaymentResponse(f"the payment API answered POST /{path} with {status} and no JSON object")
        return body
    code = str(body.get("code") or "unknown")
    message = str(body.get("message") or "no message")[:300]
    description = f"payment API answered POST /{path} with {status} {code}: {message}"
    if status == HTTPStatus.CONFLICT and code == _STILL_PROCESSING:
        raise PaymentServiceUnavailable(description)
    if status == HTTPStatus.CONFLICT and code in _FINAL_BY_CONFLICT_CODE:
        raise _FINAL_BY_CONFLICT_CODE[code](description)
    if status in _FINAL_BY_STATUS:
        raise _FINAL_BY_STATUS[status](description)
    if status in _RETRYABLE_STATUSES or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        raise PaymentServiceUnavailable(description)
    raise InvalidPaymentRequest(description)
