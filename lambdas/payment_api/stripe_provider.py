"""The Stripe adapter of the payment-provider port: the only module that imports ``stripe``.

Tokens, cards and sources (``tok_``/``card_``/``src_``) are pre-authorised with a Charge (``capture=false``);
PaymentMethods (``pm_``) with a PaymentIntent (``capture_method=manual``) confirmed at once. Capture, refund and
release are one Stripe call each: the service decides from its ledger which call to make, and Stripe's own refusal
(a ``StateConflict``) tells it when its record is stale. Every Stripe failure
is translated into a ``lambdas.payment_api.errors`` class here, and logged with Stripe's request id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import requests
import stripe
from aws_lambda_powertools import Logger

from lambdas.payment_api.domain import ChargeRequest, Payment, Refund
from lambdas.payment_api.errors import (
    ApiError,
    CardDeclined,
    InvalidRequest,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    StateConflict,
    UnknownPayment,
)

logger = Logger(child=True)

_CONFLICT_CODES = {
    "charge_already_captured": "already_captured",
    "charge_already_refunded": "already_refunded",
    "payment_intent_unexpected_state": "payment_state_conflict",
    "charge_expired_for_capture": "authorization_expired",
    "charge_disputed": "payment_disputed",
}
# Stripe messages for these codes are written for end users and name no internals.
_CLIENT_ERROR_CODES = {"amount_too_small", "amount_too_large", "parameter_invalid_integer", "invalid_charge_amount"}
# stripe imports its client module on first use (about 20 ms, measured on a first request): here, during init.
_PRELOADED = (stripe.StripeClient, stripe.StripeResponse)


class StripeProvider:
    """A ``PaymentProvider`` backed by Stripe.

    ``key_source`` returns the secret key (cached by its caller); a client is built once per key value, and every
    client shares the one HTTP client made here, so one connection pool serves all warm invocations. ``api_base``
    overrides Stripe's URL (a configuration value: local mode points it at localstripe); nothing else depends on it,
    so every request is the one production sends.
    """

    def __init__(
        self,
        *,
        key_source: Callable[[], str],
        api_base: str | None,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        self._key_source = key_source
        self._api_base = api_base
        session = requests.Session()
        # Lambda sets no proxy and has no .netrc: without this, requests looks both up on every call.
        session.trust_env = False
        self._http_client = stripe.RequestsClient(timeout=(connect_timeout, read_timeout), session=session)
        self._client: stripe.StripeClient | None = None
        self._client_key: str | None = None

    def _stripe(self) -> stripe.StripeClient:
        key = self._key_source()
        if self._client is None or key != self._client_key:
            self._client = stripe.StripeClient(
                key,
                base_addresses={"api": self._api_base} if self._api_base else {},
                http_client=self._http_client,
                max_network_retries=0,
            )
            self._client_key = key
        return self._client

    def authorize(self, request: ChargeRequest, *, idempotency_key: str) -> Payment:
        # The email rides in metadata so every later answer (capture, refund) can echo it; Stripe's receipt_email
        # is not set because the airline sends its own confirmations.
        metadata = {"email": request.email} if request.email else {}
        with _translated_errors("authorize"):
            client = self._stripe()
            if request.uses_payment_method:
                return self._authorize_intent(client, request, metadata, idempotency_key)
            params: Any = {
                "amount": request.amount,
                "currency": request.currency,
                "source": request.source,
                "capture": False,
                "metadata": metadata,
            }
            if request.description:
                params["description"] = request.description
            created, replayed = _request(client, "post", "/v1/charges", params, idempotency_key=idempotency_key)
            return replace(_charge_payment(created), replayed=replayed)

    def _authorize_intent(
        self, client: stripe.StripeClient, request: ChargeRequest, metadata: dict[str, str], idempotency_key: str
    ) -> Payment:
        """Create a manual-capture PaymentIntent and confirm it in the same call (one round trip to Stripe)."""
        if request.description:
            metadata = {**metadata, "description": request.description}
        params: Any = {
            "amount": request.amount,
            "currency": request.currency,
            "payment_method": request.source,
            "capture_method": "manual",
            "confirm": True,
            "metadata": metadata,
            # Cards only, no redirect-based methods: so confirming needs no return_url.
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
        }
        created, replayed = _request(client, "post", "/v1/payment_intents", params, idempotency_key=idempotency_key)
        payment = replace(_intent_payment(created), replayed=replayed)
        if payment.status not in ("requires_capture", "requires_action"):
            raise CardDeclined("the card was not authorised", decline_code=None)
        return payment

    @property
    def name(self) -> str:
        return "stripe"

    def capture(self, payment_id: str, *, amount: int | None, idempotency_key: str) -> Payment:
        with _translated_errors("capture"):
            client = self._stripe()
            if payment_id.startswith("pi_"):
                params: dict[str, Any] = {"expand": ["latest_charge"]}
                if amount is not None:
                    params["amount_to_capture"] = amount
                path = f"/v1/payment_intents/{_quoted(payment_id)}/capture"
                return _intent_payment(_call(client, "post", path, params, idempotency_key=idempotency_key))
            capture_params = {} if amount is None else {"amount": amount}
            path = f"/v1/charges/{_quoted(payment_id)}/capture"
            return _charge_payment(_call(client, "post", path, capture_params, idempotency_key=idempotency_key))

    def refund(self, payment_id: str, *, amount: int, idempotency_key: str) -> Refund:
        target = "payment_intent" if payment_id.startswith("pi_") else "charge"
        with _translated_errors("refund"):
            refund = _call(
                self._stripe(),
                "post",
                "/v1/refunds",
                {target: payment_id, "amount": amount},
                idempotency_key=idempotency_key,
            )
            return _refund(refund, payment_id=payment_id, kind="refund")

    def release(self, payment_id: str, *, idempotency_key: str) -> Refund:
        with _translated_errors("release"):
            client = self._stripe()
            if payment_id.startswith("pi_"):
                path = f"/v1/payment_intents/{_quoted(payment_id)}/cancel"
                cancelled = _call(client, "post", path, idempotency_key=idempotency_key)
                return Refund(
                    id=cancelled["id"],
                    kind="hold_released",
                    payment_id=cancelled["id"],
                    amount=cancelled["amount"],
                    currency=cancelled["currency"],
                    status=cancelled["status"],
                )
            # Refunding an uncaptured charge is how Stripe releases its hold, always for the whole amount. The Charges
            # API has no release that a capture makes fail (a PaymentIntent's cancel is refused once captured): a
            # refund of a charge captured behind the ledger's back (the Dashboard) would give the fare back. So this
            # one release reads the charge first, and a captured one is refused as Stripe refuses a late cancel.
            charge = _call(client, "get", f"/v1/charges/{_quoted(payment_id)}")
            if charge.get("captured"):
                raise StateConflict("the payment was already captured", code="already_captured")
            refund = _call(client, "post", "/v1/refunds", {"charge": payment_id}, idempotency_key=idempotency_key)
            return _refund(refund, payment_id=payment_id, kind="hold_released")

    def retrieve(self, payment_id: str) -> Payment:
        with _translated_errors("retrieve"):
            client = self._stripe()
            if payment_id.startswith("pi_"):
                path = f"/v1/payment_intents/{_quoted(payment_id)}"
                return _intent_payment(_call(client, "get", path, {"expand": ["latest_charge"]}))
            return _charge_payment(_call(client, "get", f"/v1/charges/{_quoted(payment_id)}"))

    def refunds(self, payment_id: str) -> tuple[Refund, ...]:
        """One list call: up to 100 refunds (Stripe's page limit; no payment of ours is refunded in 100 parts)."""
        target = "payment_intent" if payment_id.startswith("pi_") else "charge"
        with _translated_errors("list refunds"):
            response = self._stripe().raw_request("get", "/v1/refunds", **{target: payment_id, "limit": 100})
            data = response.data if isinstance(response, stripe.StripeResponse) else None
            if not isinstance(data, dict) or not isinstance(data.get("data"), list):
                raise ProviderUnavailable("the payment provider gave an unexpected answer")
            return tuple(_refund(refund, payment_id=payment_id, kind="refund") for refund in data["data"])


def _refund(refund: dict[str, Any], *, payment_id: str, kind: str) -> Refund:
    try:
        return Refund(
            id=refund["id"],
            kind=kind,
            payment_id=payment_id,
            amount=refund["amount"],
            currency=refund["currency"],
            status=refund.get("status") or "succeeded",
        )
    except KeyError:
        raise ProviderUnavailable("the payment provider gave an unexpected answer") from None


def _call(
    client: stripe.StripeClient,
    method: str,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """One Stripe API call: the answer's JSON object (see ``_request``)."""
    return _request(client, method, path, params, idempotency_key=idempotency_key)[0]


def _request(
    client: stripe.StripeClient,
    method: str,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    idempotency_key: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """One Stripe API call: the answer's JSON object (logging Stripe's request id), ``ProviderUnavailable`` if none,
    and whether Stripe replayed it (``Idempotent-Replayed``: the first answer to this key, perhaps stale now).

    ``raw_request`` (Stripe's own client: auth, encoding, errors as ``stripe.StripeError``) answers the parsed JSON;
    the typed services would also build a ``StripeObject`` tree from it, about 2 ms per answer (measured), only for
    this adapter to turn it back into a dict.
    """
    options = {} if idempotency_key is None else {"idempotency_key": idempotency_key}
    response = client.raw_request(method, path, **(params or {}), **options)
    data = response.data if isinstance(response, stripe.StripeResponse) else None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise ProviderUnavailable("the payment provider gave an unexpected answer")
    logger.info(
        "Stripe answered",
        extra={
            "stripe_request_id": response.request_id,
            "stripe_object": data.get("object"),
            "stripe_object_id": data.get("id"),
            "stripe_status": data.get("status"),
        },
    )
    headers = {name.lower(): value for name, value in (response.headers or {}).items()}
    return dict(data), headers.get("idempotent-replayed") == "true"


def _quoted(stripe_id: str) -> str:
    return quote(stripe_id, safe="")


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _charge_payment(charge: dict[str, Any]) -> Payment:
    try:
        captured = bool(charge.get("captured"))
        return Payment(
            id=charge["id"],
            object="charge",
            amount=charge["amount"],
            amount_captured=charge["amount_captured"],
            amount_refunded=charge.get("amount_refunded") or 0,
            currency=charge["currency"],
            status=charge.get("status") or "unknown",
            captured=captured,
            refunded=bool(charge.get("refunded")),
            receipt_url=charge.get("receipt_url"),
            email=_metadata(charge).get("email") or charge.get("receipt_email"),
            description=charge.get("description"),
            created=charge.get("created") or 0,
            disputed=bool(charge.get("disputed")),
        )
    except (KeyError, TypeError):
        raise ProviderUnavailable("the payment provider gave an unexpected answer") from None


def _intent_payment(intent: dict[str, Any]) -> Payment:
    try:
        latest = intent.get("latest_charge")
        charge = latest if isinstance(latest, dict) else {}
        status = intent["status"]
        requires_action = status == "requires_action"
        return Payment(
            id=intent["id"],
            object="payment_intent",
            amount=intent["amount"],
            amount_captured=intent["amount_received"],
            amount_refunded=charge.get("amount_refunded") or 0,
            currency=intent["currency"],
            status=status,
            captured=status == "succeeded",
            refunded=bool(charge.get("refunded")),
            receipt_url=charge.get("receipt_url"),
            email=_metadata(intent).get("email") or intent.get("receipt_email"),
            description=intent.get("description") or _metadata(intent).get("description"),
            created=intent.get("created") or 0,
            requires_action=requires_action,
            client_secret=intent.get("client_secret") if requires_action else None,
            cancellation_reason=intent.get("cancellation_reason"),
            disputed=bool(charge.get("disputed")),
        )
    except (KeyError, TypeError):
        raise ProviderUnavailable("the payment provider gave an unexpected answer") from None


@contextmanager
def _translated_errors(operation: str) -> Iterator[None]:
    """Turn every Stripe failure into the API's own error, logging Stripe's request id and error code."""
    try:
        yield
    except ApiError:
        raise
    except stripe.StripeError as error:
        translated = _translate(error)
        log = logger.error if translated.status >= 500 else logger.warning  # noqa: PLR2004
        log(
            "Stripe call failed",
            extra={
                "operation": operation,
                "stripe_request_id": error.request_id,
                "stripe_error_type": type(error).__name__,
                "stripe_error_code": error.code,
                "http_status": error.http_status,
                "answered_with": translated.code,
            },
        )
        raise translated from None


def _translate(error: stripe.StripeError) -> ApiError:  # noqa: PLR0911 - one branch per Stripe error class
    if isinstance(error, stripe.CardError):
        decline_code = getattr(error.error, "decline_code", None) if error.error else None
        return CardDeclined(error.user_message or "the card was declined", decline_code=decline_code)
    if isinstance(error, stripe.IdempotencyError):
        return StateConflict(
            "this Idempotency-Key was already used for a different request", code="idempotency_key_reused"
        )
    if isinstance(error, stripe.RateLimitError):
        return ProviderRateLimited("the payment provider is rate limiting requests; retry later")
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        logger.error("Stripe rejected the configured secret key", extra={"stripe_request_id": error.request_id})
        return ProviderNotConfigured("the payment provider is not configured")
    if isinstance(error, stripe.APIConnectionError):
        cause = error.__cause__
        if isinstance(cause, requests.exceptions.Timeout) and not isinstance(cause, requests.exceptions.ConnectTimeout):
            return ProviderTimeout("the payment provider did not answer in time")
        return ProviderUnavailable("the payment provider could not be reached")
    if isinstance(error, stripe.InvalidRequestError):
        if error.code == "resource_missing" or error.http_status == 404:  # noqa: PLR2004
            return UnknownPayment("no payment with this id")
        if error.code in _CONFLICT_CODES:
            return StateConflict(
                str(error.user_message or "the payment cannot be changed"), code=_CONFLICT_CODES[error.code]
            )
        if error.code in _CLIENT_ERROR_CODES and error.user_message:
            return InvalidRequest(error.user_message, code="invalid_amount")
        return InvalidRequest("the payment provider rejected the request", code="provider_rejected_request")
    return ProviderUnavailable("the payment provider failed")
