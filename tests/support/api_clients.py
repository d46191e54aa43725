"""Clients of the local payment API that sign like an IAM principal granted /capture, /refund and GET /payments."""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore.httpsession import URLLib3Session
from urllib3.connection import HTTPConnection

from lambdas.shared.payment_api_client import PaymentApiClient
from local_mode import local_aws, signed_requests
from local_mode.environment import LocalEnvironment


def signed_client(env: LocalEnvironment) -> PaymentApiClient:
    session = botocore.session.Session()
    session.set_credentials(local_aws.ACCESS_KEY_ID, local_aws.SECRET_ACCESS_KEY, local_aws.SESSION_TOKEN)
    return PaymentApiClient(
        base_url=env.api_url,
        region=local_aws.REGION,
        credentials=session.get_credentials(),
        # TCP_NODELAY, as the functions set it (lambdas/shared/payment_task.py).
        http=URLLib3Session(timeout=30, socket_options=HTTPConnection.default_socket_options),
    )


def signed_get(env: LocalEnvironment, path: str) -> tuple[int, Any]:
    """``GET <api>/<path>`` signed for ``execute-api`` as a principal granted ``grant_read_payments``."""
    return signed_requests.signed_get(env.api_url, path)


def payment_record(env: LocalEnvironment, payment_id: str) -> dict[str, Any]:
    """The ledger's record of ``payment_id`` as ``GET /payments/{id}`` answers it (asserting a 200)."""
    status, body = signed_get(env, f"payments/{payment_id}")
    assert status == 200, body
    record: dict[str, Any] = body["payment"]
    return record
