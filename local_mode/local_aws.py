"""The fixed identity and region local mode runs under, and boto3 clients for its local AWS endpoint."""

from __future__ import annotations

from typing import Any

import boto3

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
# moto accepts any credentials; these fixed ones let the local API front check SigV4 signatures.
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"  # noqa: S105 - a well-known local placeholder, not a secret
SESSION_TOKEN = "testing"  # noqa: S105
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    "AWS_SESSION_TOKEN": SESSION_TOKEN,
}


def client(service: str, endpoint_url: str) -> Any:
    """A boto3 client for ``service`` at the local endpoint, with the local credentials and region."""
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        aws_session_token=SESSION_TOKEN,
    )


def secret_for(access_key_id: str) -> str | None:
    """The secret of a known local access key (for SigV4 checks)."""
    return SECRET_ACCESS_KEY if access_key_id == ACCESS_KEY_ID else None
