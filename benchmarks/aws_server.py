"""moto on 127.0.0.1 behind a keep-alive HTTP/1.1 front, counting the calls it answers.

Run as ``python -m benchmarks.aws_server``: it binds a free port, prints it on the first line of stdout and serves
until terminated. moto's own server (werkzeug's development server) closes every connection after one answer, so
a client would reconnect for each call, which AWS endpoints never make it do; this front keeps connections open, so
the functions' AWS clients behave as they do against AWS. ``GET /__bench/stats`` answers
``{"calls": {"<X-Amz-Target>": n}}`` (e.g. ``AmazonSSM.GetParameter``): the SSM reads and DynamoDB writes that
reached "AWS", counted where they arrive rather than by instrumenting the client.
"""

from __future__ import annotations

import io
import json
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive"}


class AwsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: WsgiApp) -> None:
        super().__init__(("127.0.0.1", 0), WsgiHandler)
        self.app = app
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()


class WsgiHandler(BaseHTTPRequestHandler):
    """Each request becomes one WSGI call to moto; answers carry Content-Length and keep the connection open."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024  # one write per answer (flushed by handle_one_request)
    timeout = 60
    server: AwsServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        if path == "/__bench/stats":
            with self.server.lock:
                self._answer(
                    "200 OK", [("Content-Type", "application/json")], json.dumps({"calls": self.server.calls}).encode()
                )
            return
        target = self.headers.get("X-Amz-Target") or f"{self.command} {path}"
        with self.server.lock:
            self.server.calls[target] += 1
        captured: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        result = self.server.app(self._environ(path, query, body), start_response)
        try:
            data = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        self._answer(captured["status"], captured["headers"], data)

    def _environ(self, path: str, query: str, body: bytes) -> dict[str, Any]:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, "latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": self.path,
            "REQUEST_URI": self.path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key in {"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"}:
                continue
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _answer(self, status: str, headers: list[tuple[str, str]], data: bytes) -> None:
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason or None)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def main() -> None:
    server = AwsServer(DomainDispatcherApplication(create_backend_app))
    sys.stdout.write(f"{server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
