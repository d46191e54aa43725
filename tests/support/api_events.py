"""API Gateway REST proxy events and Lambda contexts, shaped as API Gateway and Lambda send them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from local_mode.api_front import proxy_event as local_proxy_event


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
    """A REST API proxy event, as local mode builds it; ``body`` is JSON-encoded unless ``raw_body`` gives the text."""
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    return local_proxy_event(
        method=method,
        path=path,
        stage="Prod",
        headers={"Content-Type": "application/json", "User-Agent": "pytest", **(headers or {})},
        body=None if text is None else text.encode(),
    )


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])
