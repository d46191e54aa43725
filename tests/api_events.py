"""API Gateway REST proxy events and Lambda contexts, shaped as API Gateway and Lambda send them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeLambdaContext:
    function_name: str = "payment-api"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:payment-api"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_millis: int = 12_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


def proxy_event(
    path: str,
    body: object = None,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> dict[str, Any]:
    """A REST API proxy event; ``body`` is JSON-encoded unless ``raw_body`` gives the exact text."""
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    request_id = str(uuid.uuid4())
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {key: [value] for key, value in all_headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/Prod{path}",
            "stage": "Prod",
            "requestId": request_id,
            "accountId": "123456789012",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "pytest"},
        },
        "body": text,
        "isBase64Encoded": False,
    }


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])
