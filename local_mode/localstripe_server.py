"""Runs localstripe (a stateful fake Stripe) on 127.0.0.1 only, with its store kept in memory.

``localstripe --port N`` binds every interface and pickles its store to a fixed path in /tmp; this launcher binds
loopback and keeps nothing on disk, so parallel runs never share state.

It also gives localstripe what Stripe has and it lacks, so local mode exercises the service's real paths:

- **idempotent requests**. Stripe answers a repeated ``Idempotency-Key`` with the first answer, marked
  ``Idempotent-Replayed: true`` (and refuses the key for other parameters); localstripe ignores the header, so a
  retried capture would be refused as a second capture.
- **the production requests, and captures and refunds as Stripe makes them today**: ``automatic_payment_methods``
  on PaymentIntents, token ids as a Charge's source, no refund object for a partial capture's released rest,
  ``amount_captured``/``amount_received``, refunds of at most what was captured (see ``local_mode.localstripe_compat``).
- **Stripe.js's createPaymentMethod with a publishable key**, as the production checkout calls it: localstripe's
  Stripe.js stand-in leaves it a no-op and its server refuses a publishable key on ``POST /v1/payment_methods``
  (see ``local_mode.stripe_js``).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from localstripe import resources, server

from local_mode import localstripe_compat
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args(argv)
    resources.Store.dump_to_disk = lambda _self: None
    localstripe_compat.install()
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
