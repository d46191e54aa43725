"""Calling a running localstripe directly, as the Stripe SDK calls Stripe: ``/v1/<path>``, form-encoded, with the
secret ``key`` as basic auth."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

TIMEOUT_SECONDS = 5


def post(
    localstripe_url: str,
    path: str,
    data: Mapping[str, Any] | None = None,
    *,
    key: str,
    idempotency_key: str | None = None,
) -> requests.Response:
    """``POST /v1/<path>`` with the form ``data`` (and an ``Idempotency-Key`` header when given)."""
    headers = {} if idempotency_key is None else {"Idempotency-Key": idempotency_key}
    return requests.post(
        f"{localstripe_url}/v1/{path}", data=data or {}, headers=headers, auth=(key, ""), timeout=TIMEOUT_SECONDS
    )


def get(localstripe_url: str, path: str, params: Mapping[str, str] | None = None, *, key: str) -> requests.Response:
    """``GET /v1/<path>`` with the query ``params``."""
    return requests.get(f"{localstripe_url}/v1/{path}", params=params, auth=(key, ""), timeout=TIMEOUT_SECONDS)
