"""Local mode's API front matches routes as API Gateway does, path parameters included (``/payments/{id}``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from local_mode.api_front import LocalApiFront, Route


@pytest.fixture
def seen() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def front(seen: list[dict[str, Any]]) -> Iterator[LocalApiFront]:
    def handler(event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event)
        return {"statusCode": 200, "body": "{}"}

    routes = [
        Route(method="GET", path="/payments/{id}", authorization="NONE"),
        Route(method="POST", path="/capture", authorization="NONE"),
    ]
    api = LocalApiFront(routes=routes, handler=handler, secret_for=lambda _key: None).start()
    yield api
    api.stop()


def test_a_path_parameter_reaches_the_function_as_api_gateway_sends_it(
    front: LocalApiFront, seen: list[dict[str, Any]]
) -> None:
    status, _, _ = front.respond("GET", "/Prod/payments/ch_%41bc", {}, b"")
    assert status == 200
    event = seen[0]
    assert (event["resource"], event["path"], event["pathParameters"]) == (
        "/payments/{id}",
        "/payments/ch_%41bc",
        {"id": "ch_Abc"},
    )
    assert event["requestContext"]["resourcePath"] == "/payments/{id}"


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/Prod/payments/"), ("GET", "/Prod/payments/a/b"), ("POST", "/Prod/payments/ch_1")]
)
def test_paths_that_match_no_route_get_api_gateways_403(
    front: LocalApiFront, seen: list[dict[str, Any]], method: str, path: str
) -> None:
    status, _, body = front.respond(method, path, {}, b"")
    assert status == 403
    assert json.loads(body)["code"] == "missing_authentication_token"
    assert seen == []


def test_a_route_without_parameters_is_matched_exactly(front: LocalApiFront, seen: list[dict[str, Any]]) -> None:
    assert front.respond("POST", "/Prod/capture", {}, b"{}")[0] == 200
    assert seen[0]["pathParameters"] is None
