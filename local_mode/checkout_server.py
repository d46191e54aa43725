"""Serves the local checkout page (a stand-in for the airline front-end) from its own origin."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PAGE = Path(__file__).resolve().parent / "checkout" / "index.html"
PUBLISHABLE_KEY = "pk_test_local_mode"


class CheckoutServer:
    """``http://127.0.0.1:<port>/``: the checkout page, configured with the API and Stripe URLs."""

    def __init__(self, *, api_url: str, stripe_url: str, port: int, host: str = "127.0.0.1") -> None:
        config = {"apiUrl": api_url, "stripeUrl": stripe_url, "publishableKey": PUBLISHABLE_KEY}
        script = f"<script>window.CHECKOUT_CONFIG = {json.dumps(config)};</script>"
        page = PAGE.read_text().replace("<script>", f"{script}\n  <script>", 1).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] not in ("/", "/index.html"):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="checkout", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> CheckoutServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
