"""Stripe.js's ``createPaymentMethod`` in local mode, so a checkout page runs the very code it runs against Stripe.

localstripe serves a Stripe.js stand-in at ``/js.stripe.com/v3/`` whose ``createPaymentMethod`` does nothing, and its
server accepts a publishable key (``key=pk_...`` in the body) only on a few paths, not on ``POST /v1/payment_methods``
where Stripe.js sends it. This module fills both gaps from outside the page: the script is localstripe's own followed by
``PAYMENT_METHOD_BRIDGE_JS``, and a middleware lets that one request through localstripe's authentication.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import localstripe
from aiohttp import web
from localstripe import server

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

STRIPE_JS_PATH = "/js.stripe.com/v3/"
PAYMENT_METHODS_PATH = "/v1/payment_methods"
# What localstripe's authentication sees instead of a publishable key it would refuse: any secret key is as good.
PLACEHOLDER_SECRET_KEY = "sk_local_publishable_bridge"  # noqa: S105 - a placeholder localstripe accepts, not a secret
_PUBLISHABLE_KEY_ACCEPTED = web.RequestKey("publishable_key_accepted", bool)

PAYMENT_METHOD_BRIDGE_JS = """
// Local mode: Stripe.js's createPaymentMethod, which localstripe's stand-in above leaves as a no-op. The checkout page
// calls it exactly as it calls Stripe.js; this turns the localstripe card Element's value into
// POST /v1/payment_methods with the publishable key, as Stripe.js does (local mode's server accepts the key there).
(() => {
  const localstripeStripe = window.Stripe;
  const incomplete = {type: 'validation_error', code: 'incomplete_number', message: 'Your card number is incomplete.'};
  const encode = pairs => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');

  window.Stripe = (...args) => {
    const stripe = localstripeStripe(...args);
    const apiKey = args[0];
    // Stripe.js's createPaymentMethod({type, card, billing_details}), or its older (type, card, {billing_details})
    stripe.createPaymentMethod = async (typeOrData, element, data) => {
      const params = typeof typeOrData === 'string'
        ? {...(data || {}), type: typeOrData, card: element}
        : {...(typeOrData || {})};
      const value = params.card && params.card.value;  // set by the Element on the first keystroke
      if (!value || !value.card) {
        return {error: incomplete};
      }
      const body = [['key', apiKey], ['type', params.type || 'card']];
      Object.entries(value.card).forEach(([field, v]) => body.push([`card[${field}]`, String(v).replace(/\\s/g, '')]));
      // Stripe.js sends the Element's postal code as the billing address's, unless the page gave one.
      const {address, ...billing} = params.billing_details || {};
      const postal = value.postal_code ? {postal_code: value.postal_code} : {};
      Object.entries(billing).forEach(([k, v]) => v != null && body.push([`billing_details[${k}]`, v]));
      Object.entries({...postal, ...(address || {})})
        .forEach(([k, v]) => v != null && body.push([`billing_details[address][${k}]`, v]));
      try {
        const response = await fetch(`${LOCALSTRIPE_BASE_API}/v1/payment_methods`, {
          method: 'POST',
          headers: {'Content-Type': 'application/x-www-form-urlencoded'},
          body: encode(body),
        });
        const json = await response.json().catch(() => ({}));
        if (response.status === 200) {
          return {paymentMethod: json};
        }
        return {error: json.error || {message: `localstripe answered ${response.status}`}};
      } catch (err) {  // Stripe.js never throws: network failures come back as an error too.
        return {error: {type: 'api_connection_error', message: String((err && err.message) || err)}};
      }
    };
    return stripe;
  };
})();
"""


@functools.cache
def _script() -> str:
    """localstripe's own stand-in, read once from the installed package, followed by the bridge."""
    own = (Path(localstripe.__file__).parent / "localstripe-v3.js").read_text(encoding="utf-8")
    return own + "\n" + PAYMENT_METHOD_BRIDGE_JS


async def stripe_js(_request: web.Request) -> web.Response:
    """``GET /js.stripe.com/v3/``: localstripe's Stripe.js stand-in with a working ``createPaymentMethod``."""
    return web.Response(text=_script(), content_type="application/javascript")


def stripe_js_middleware() -> Middleware:
    """Answers ``/js.stripe.com/v3/`` with ``stripe_js`` before localstripe's own handler (registered at its import,
    and a route cannot be registered twice)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == STRIPE_JS_PATH and request.method in ("GET", "HEAD"):
            return await stripe_js(request)
        return await handler(request)

    return middleware


def accept_publishable_key_for_payment_methods() -> None:
    """Makes localstripe's authentication (``server.auth_middleware``, which calls the module's ``get_api_key``) see a
    secret key on the requests ``publishable_key_middleware`` marked; every other request is judged as before."""
    original: Callable[[web.Request], Any] = server.get_api_key
    if getattr(original, "__wrapped__", None) is not None:
        return

    @functools.wraps(original)
    def get_api_key(request: web.Request) -> Any:
        if request.get(_PUBLISHABLE_KEY_ACCEPTED, False):
            return PLACEHOLDER_SECRET_KEY
        return original(request)

    server.get_api_key = get_api_key


def publishable_key_middleware() -> Middleware:
    """Marks ``POST /v1/payment_methods`` authenticated by a publishable key in its body (and no Authorization header),
    as Stripe accepts it from Stripe.js. It goes before localstripe's ``auth_middleware``, and needs
    ``accept_publishable_key_for_payment_methods``.

    The body is parsed by localstripe's own ``get_post_data``, so both agree on the key; aiohttp keeps the body read,
    and localstripe drops ``key`` before creating the PaymentMethod."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (
            request.method == "POST"
            and request.path == PAYMENT_METHODS_PATH
            and "Authorization" not in request.headers
            and _has_publishable_key(await server.get_post_data(request, remove_auth=False))
        ):
            request[_PUBLISHABLE_KEY_ACCEPTED] = True
        return await handler(request)

    return middleware


def _has_publishable_key(data: Any) -> bool:
    key = data.get("key") if isinstance(data, dict) else None
    return isinstance(key, str) and key.startswith("pk_")
