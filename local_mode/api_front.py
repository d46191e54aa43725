"""A local stand-in for API Gateway's REST front: HTTP in, Lambda proxy event to the real handler, HTTP out.

Routes carry their authorisation type; ``AWS_IAM`` routes refuse requests without a valid SigV4 signature, and
unknown routes get API Gateway's 403 "Missing Authentication Token" — so clients meet the same rules as on AWS.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from local_mode.sigv4 import verify_sigv4

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
ProxyHandler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    authorization: str  # "NONE" or "AWS_IAM", as in the template's AWS::ApiGateway::Method
    mock: bool = False  # a MOCK integration: API Gateway answers itself (the CORS preflight)
    mock_response: Mapping[str, Any] = field(default_factory=dict)  # its IntegrationResponses[0]


def proxy_event(
    *,
    method: str,
    path: str,
    stage: str,
    headers: Mapping[str, str],
    body: bytes | None,
    source_ip: str = "127.0.0.1",
    resource: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The REST API (v1) Lambda proxy event API Gateway would send for this request.

    ``resource`` is the route's template (``/payments/{id}``), ``path`` the request's (``/payments/ch_1``).
    """
    text: str | None
    encoded = False
    if body is None or body == b"":
        text = None
    else:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode("ascii"), True
    header_map = dict(headers)
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": header_map,
        "multiValueHeaders": {name: [value] for name, value in header_map.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource or path,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "accountId": "123456789012",
            "identity": {"sourceIp": source_ip, "userAgent": header_map.get("User-Agent")},
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


class LocalApiFront:
    """Serves ``routes`` under ``/<stage>/`` on ``host:port`` and hands each request to ``handler``."""

    def __init__(
        self,
        *,
        routes: Sequence[Route],
        handler: ProxyHandler,
        secret_for: Callable[[str], str | None],
        stage: str = "Prod",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._routes = {(route.method, route.path): route for route in routes}
        self._handler = handler
        self._secret_for = secret_for
        self._stage = stage
        self._server = ThreadingHTTPServer((host, port), self._request_handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The stage's base URL, e.g. ``http://127.0.0.1:3000/Prod/`` (like the deployed ``PaymentApiUrl``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/{self._stage}/"

    def start(self) -> LocalApiFront:
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-api-front", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def respond(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """One request, as API Gateway would answer it: (status, headers, body)."""
        path = raw_path.split("?", 1)[0]
        prefix = f"/{self._stage}"
        route, parameters = (
            self._match(method, path.removeprefix(prefix)) if path.startswith(f"{prefix}/") else (None, {})
        )
        if route is None:
            return _gateway_error(403, "Missing Authentication Token", "missing_authentication_token")
        if len(body) > MAX_BODY_BYTES:
            return _gateway_error(413, "Request Too Long", "request_too_large")
        if route.authorization == "AWS_IAM":
            host = next((value for name, value in headers.items() if name.lower() == "host"), "localhost")
            refusal = verify_sigv4(
                method=method, url=f"http://{host}{raw_path}", headers=headers, body=body, secret_for=self._secret_for
            )
            if refusal is not None:
                return _gateway_error(403, refusal, "forbidden")
        if route.mock:
            return mock_answer(route.mock_response, headers)
        event = proxy_event(
            method=method,
            path=path.removeprefix(prefix),
            stage=self._stage,
            headers=headers,
            body=body,
            resource=route.path,
            path_parameters=parameters,
        )
        result = self._handler(event)
        response_headers = {name: str(value) for name, value in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            response_headers[name] = ",".join(str(value) for value in values)
        payload = result.get("body") or ""
        data = base64.b64decode(payload) if result.get("isBase64Encoded") else str(payload).encode()
        return int(result.get("statusCode", 502)), response_headers, data

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        """The route for ``path`` and its path parameters, as API Gateway matches ``/payments/{id}``: one segment per
        parameter, URL-decoded."""
        exact = self._routes.get((method, path))
        if exact is not None:
            return exact, {}
        segments = path.split("/")
        for (route_method, template), route in self._routes.items():
            parts = template.split("/")
            if route_method != method or len(parts) != len(segments) or "{" not in template:
                continue
            parameters: dict[str, str] = {}
            for part, segment in zip(parts, segments, strict=True):
                if part.startswith("{") and part.endswith("}") and segment:
                    parameters[part[1:-1]] = unquote(segment)
                elif part != segment:
                    break
            else:
                return route, parameters
        return None, {}

    def _request_handler_class(self) -> type[BaseHTTPRequestHandler]:
        front = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, MAX_BODY_BYTES + 1)) if length else b""
                status, headers, data = front.respond(self.command, self.path, dict(self.headers.items()), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the handler's own structured logs say what happened."""

        return Handler


def mock_answer(response: Mapping[str, Any], request_headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
    """What API Gateway answers for a MOCK integration such as CDK's CORS preflight.

    Static header values come from ``ResponseParameters`` (quoted literals); CDK's velocity template for extra
    origins only ever sets ``Access-Control-Allow-Origin`` to the request's Origin when it is in its list.
    """
    headers: dict[str, str] = {}
    for name, value in (response.get("ResponseParameters") or {}).items():
        if name.startswith("method.response.header.") and isinstance(value, str):
            headers[name.removeprefix("method.response.header.")] = value.strip("'")
    origin = next((value for name, value in request_headers.items() if name.lower() == "origin"), None)
    template = str((response.get("ResponseTemplates") or {}).get("application/json", ""))
    if origin and f'$origin == "{origin}"' in template:
        headers["Access-Control-Allow-Origin"] = origin
    return int(response.get("StatusCode", "204")), headers, b""


def _gateway_error(status: int, message: str, code: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps({"message": message, "code": code}).encode()
