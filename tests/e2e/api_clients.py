"""Clients of the local payment API that sign like an IAM principal granted /capture, /refund and GET /payments."""

from __future__ import annotations

from typing import Any

import botocore.session
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpsession import URLLib3Session
from urllib3.connection import HTTPConnection

from lambdas.shared.payment_api_client import PaymentApiClient
from local_mode import local_aws
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
    url = f"{env.api_url}{path.lstrip('/')}"
    request = AWSRequest(method="GET", url=url)
    credentials = Credentials(local_aws.ACCESS_KEY_ID, local_aws.SECRET_ACCESS_KEY, local_aws.SESSION_TOKEN)
    SigV4Auth(credentials, "execute-api", local_aws.REGION).add_auth(request)
    response = requests.get(url, headers=dict(request.headers.items()), timeout=30)
    return response.status_code, response.json()
