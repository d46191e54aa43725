"""Runs localstripe (a stateful fake Stripe) on 127.0.0.1 only, with its store kept in memory.

``localstripe --port N`` binds every interface and pickles its store to a fixed path in /tmp; this launcher binds
loopback and keeps nothing on disk, so parallel runs never share state.

It also gives localstripe what Stripe has and it lacks, so local mode exercises the service's real paths:

- **idempotent requests**. Stripe answers a repeated ``Idempotency-Key`` with the first answer, marked
  ``Idempotent-Replayed: true`` (and refuses the key for other parameters); localstripe ignores the header, so a
  retried capture would be refused as a second capture.
- **captured amounts**: a Charge's ``amount_captured`` and a PaymentIntent's ``amount_received``, which localstripe's
  objects (and so its webhook events, e.g. ``payment_intent.succeeded``) lack.
- **Stripe.js's createPaymentMethod with a publishable key**, as the production checkout calls it: localstripe's
  Stripe.js stand-in leaves it a no-op and its server refuses a publishable key on ``POST /v1/payment_methods``
  (see ``local_mode.stripe_js``).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from localstripe import resources, server

from local_mode.stripe_js import (
    accept_publishable_key_for_payment_methods,
    publishable_key_middleware,
    stripe_js_middleware,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class _Answer:
    fingerprint: tuple[str, str, bytes]
    status: int
    body: bytes
    content_type: str | None


def idempotency_middleware() -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Stripe's idempotency for POSTs: the first answer per key is replayed; the key with another request is a 400."""
    answers: dict[tuple[str, str], _Answer] = {}

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return await handler(request)
        body = await request.read()
        fingerprint = (request.method, request.path, body)
        scope = (request.headers.get("Authorization", ""), key)
        stored = answers.get(scope)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                return web.json_response(
                    {
                        "error": {
                            "type": "idempotency_error",
                            "message": "Keys for idempotent requests can only be used with the same parameters "
                            "they were first used with.",
                        }
                    },
                    status=400,
                )
            return web.Response(
                status=stored.status,
                body=stored.body,
                content_type=stored.content_type,
                headers={"Idempotent-Replayed": "true"},
            )
        response = await handler(request)
        # Stripe keeps 4xx answers too; a 5xx may be retried for real.
        if isinstance(response, web.Response) and isinstance(response.body, bytes) and response.status < 500:  # noqa: PLR2004
            answers[scope] = _Answer(fingerprint, response.status, response.body, response.content_type)
        return response

    return middleware


def add_captured_amounts() -> None:
    """Charges remember what their capture took (localstripe records the released rest as a refund instead), and
    expose it as ``amount_captured``; PaymentIntents expose ``amount_received`` from their latest charge."""
    capture = resources.Charge._capture

    def remembering_capture(self: Any, amount: Any, on_success: Callable[[], None] | None = None) -> None:
        taken = self.amount if amount is None else int(amount)

        def captured() -> None:
            self._amount_captured = taken
            if on_success is not None:
                on_success()

        capture(self, amount, on_success=captured)

    def amount_captured(self: Any) -> int:
        return int(getattr(self, "_amount_captured", self.amount)) if self.captured else 0

    def amount_received(self: Any) -> int:
        charge = self.latest_charge
        return amount_captured(charge) if charge is not None and self.status == "succeeded" else 0

    resources.Charge._capture = remembering_capture
    resources.Charge.amount_captured = property(amount_captured)
    resources.PaymentIntent.amount_received = property(amount_received)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args(argv)
    resources.Store.dump_to_disk = lambda _self: None
    add_captured_amounts()
    accept_publishable_key_for_payment_methods()
    # Just outside localstripe's authentication, which it tells about a publishable key it accepts.
    server.app.middlewares.insert(server.app.middlewares.index(server.auth_middleware), publishable_key_middleware())
    # Serves the Stripe.js stand-in with createPaymentMethod before localstripe's own handler would.
    server.app.middlewares.insert(0, stripe_js_middleware())
    # Outermost: a replayed answer never reaches localstripe again.
    server.app.middlewares.insert(0, idempotency_middleware())
    logging.basicConfig(level=logging.WARNING)
    web.run_app(server.app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
