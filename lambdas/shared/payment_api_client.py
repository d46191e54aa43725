"""A SigV4-signed client of the payment API for Collect and Refund, built once per container.

One ``requests.Session`` (one TCP/TLS connection pool) serves every warm invocation; each call is signed for
``execute-api`` with the function's own credentials, which botocore refreshes as they rotate. Answers are mapped to
the typed errors of ``payment_errors``; timeouts and connection failures are retryable.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lambdas.shared.payment_errors import (
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
_RETRYABLE_STATUSES = {HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS}
_STILL_PROCESSING = "request_in_progress"


class PaymentApiClient:
    """POSTs JSON to ``<base_url>/<path>``; returns the 2xx JSON object or raises a ``PaymentError``."""

    def __init__(
        self,
        *,
        base_url: str,
        region: str,
        credentials: Any,
        session: requests.Session,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._region = region
        self._credentials = credentials
        self._session = session
        self._timeout = (connect_timeout, read_timeout)

    def post(self, path: str, body: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        url = f"{self._base_url}/{path.lstrip('/')}"
        data = json.dumps(body, separators=(",", ":")).encode()
        request = AWSRequest(
            method="POST",
            url=url,
            data=data,
            headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
        )
        frozen: Credentials = self._credentials.get_frozen_credentials()
        SigV4Auth(frozen, "execute-api", self._region).add_auth(request)
        try:
            response = self._session.post(url, data=data, headers=dict(request.headers.items()), timeout=self._timeout)
        except requests.Timeout:
            raise PaymentServiceUnavailable(f"the payment API did not answer POST /{path} in time") from None
        except requests.RequestException as error:
            raise PaymentServiceUnavailable(
                f"the payment API could not be reached for POST /{path}: {type(error).__name__}"
            ) from None
        return _answer(path, response)


def _answer(path: str, response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    body = payload if isinstance(payload, dict) else {}
    status = response.status_code
    if HTTPStatus.OK <= status < HTTPStatus.MULTIPLE_CHOICES:
        if not body:
            raise UnexpectedPaymentResponse(f"the payment API answered POST /{path} with {status} and no JSON object")
        return body
    code = str(body.get("code") or "unknown")
    message = str(body.get("message") or "no message")[:300]
    description = f"payment API answered POST /{path} with {status} {code}: {message}"
    if status == HTTPStatus.CONFLICT and code == _STILL_PROCESSING:
        raise PaymentServiceUnavailable(description)
    if status in _FINAL_BY_STATUS:
        raise _FINAL_BY_STATUS[status](description)
    if status in _RETRYABLE_STATUSES or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        raise PaymentServiceUnavailable(description)
    raise InvalidPaymentRequest(description)
