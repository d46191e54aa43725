"""The local console's HTTP server: the page (``static/``), its JSON API (``/console/...``) and the Booking API
stand-in (``/booking/processBooking``), on 127.0.0.1 only.

Every answer is JSON; errors are ``{"message", "code"}`` with a 4xx (or 500 for a bug, logged). POSTs must be
``application/json`` and at most 16 KiB: another origin cannot send such a request without a CORS preflight, which
this server never answers, so no other page in the browser can add flights or start bookings.
"""

from __future__ import annotations

import json
import mimetypes
import re
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local_mode.console.booking_api import process_booking
from local_mode.console.errors import ConsoleError
from local_mode.console.reads import ConsoleReads

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY_BYTES = 16 * 1024
Route = Callable[[re.Match[str], Any], tuple[int, Any]]


class ConsoleServer:
    """``http://127.0.0.1:<port>/``: the console page and the API it reads; ``config`` is what the page is told
    (the payment API's URL, Stripe.js's URL and publishable key...)."""

    def __init__(self, *, reads: ConsoleReads, config: Mapping[str, Any], port: int, host: str = "127.0.0.1") -> None:
        self._reads = reads
        self._config = dict(config)
        static = {path.name: path.read_bytes() for path in STATIC_DIR.iterdir() if path.is_file()}
        get_routes: list[tuple[re.Pattern[str], Route]] = [
            (re.compile(r"/console/config"), lambda _m, _b: (200, self._config)),
            (re.compile(r"/console/flights"), lambda _m, _b: (200, {"flights": reads.flights()})),
            (re.compile(r"/console/bookings"), lambda _m, _b: (200, {"bookings": reads.bookings()})),
            (re.compile(r"/console/bookings/([^/]+)"), lambda m, _b: (200, reads.booking(m.group(1)))),
            (re.compile(r"/console/payments"), lambda _m, _b: (200, {"payments": reads.payments()})),
            (re.compile(r"/console/payments/([^/]+)"), lambda m, _b: (200, reads.payment(m.group(1)))),
            (re.compile(r"/console/dead-letters"), lambda _m, _b: (200, {"messages": reads.dead_letters()})),
        ]
        post_routes: list[tuple[re.Pattern[str], Route]] = [
            (re.compile(r"/console/flights"), lambda _m, body: (201, {"flight": reads.add_flight(body)})),
            (
                re.compile(r"/booking/processBooking"),
                lambda _m, body: (
                    202,
                    process_booking(
                        body, stepfunctions=reads.client("stepfunctions"), state_machine_arn=reads.state_machine_arn
                    ),
                ),
            ),
        ]
        self._server = ThreadingHTTPServer((host, port), _handler_class(static, get_routes, post_routes))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="console", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> ConsoleServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _match(routes: list[tuple[re.Pattern[str], Route]], path: str) -> tuple[Route, re.Match[str]] | None:
    for pattern, route in routes:
        found = pattern.fullmatch(path)
        if found:
            return route, found
    return None


def _handler_class(
    static: Mapping[str, bytes],
    get_routes: list[tuple[re.Pattern[str], Route]],
    post_routes: list[tuple[re.Pattern[str], Route]],
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            name = "index.html" if path in ("/", "/index.html") else path.removeprefix("/static/")
            if (path in ("/", "/index.html") or path.startswith("/static/")) and name in static:
                content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
                self._send(200, static[name], f"{content_type}; charset=utf-8")
                return
            self._answer(get_routes, path, None)

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            try:
                body = self._json_body()
            except ConsoleError as error:
                self._send_json(error.status, error.body())
                return
            self._answer(post_routes, path, body)

        def _json_body(self) -> Any:
            media_type = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            if media_type != "application/json":
                raise ConsoleError(415, "unsupported_media_type", "send the body as application/json")
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                raise ConsoleError(400, "invalid_json", "Content-Length is not a number") from None
            if length > MAX_BODY_BYTES:
                raise ConsoleError(413, "payload_too_large", f"the body may be at most {MAX_BODY_BYTES} bytes")
            try:
                return json.loads(self.rfile.read(length) or b"null")
            except (ValueError, RecursionError):
                raise ConsoleError(400, "invalid_json", "the body is not valid JSON") from None

        def _answer(self, routes: list[tuple[re.Pattern[str], Route]], path: str, body: Any) -> None:
            found = _match(routes, path)
            if found is None:
                self._send_json(404, {"message": "no such route", "code": "not_found"})
                return
            route, match = found
            try:
                status, answer = route(match, body)
            except ConsoleError as error:
                status, answer = error.status, error.body()
            except Exception:  # a bug or local mode stopping: say so without internals, log the traceback
                traceback.print_exc(file=sys.stderr)
                status, answer = HTTPStatus.INTERNAL_SERVER_ERROR, {"message": "internal error", "code": "internal"}
            self._send_json(status, answer)

        def _send_json(self, status: int, answer: Any) -> None:
            self._send(status, json.dumps(answer).encode(), "application/json")

        def _send(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: local mode's output is its report and usage."""

    return Handler
