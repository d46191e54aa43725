"""Requests to the local payment API signed like an IAM principal (SigV4 for ``execute-api``), as callers granted
``grant_read_payments`` or the Collect/Refund routes sign them on AWS."""

from __future__ import annotations

from typing import Any

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_mode import local_aws


def signed_get(api_url: str, path: str, *, timeout: float = 30) -> tuple[int, Any]:
    """``GET <api_url><path>`` signed with local mode's credentials: the status and the parsed JSON body."""
    url = f"{api_url}{path.lstrip('/')}"
    request = AWSRequest(method="GET", url=url)
    credentials = Credentials(local_aws.ACCESS_KEY_ID, local_aws.SECRET_ACCESS_KEY, local_aws.SESSION_TOKEN)
    SigV4Auth(credentials, "execute-api", local_aws.REGION).add_auth(request)
    response = requests.get(url, headers=dict(request.headers.items()), timeout=timeout)
    return response.status_code, response.json()
