"""Verifies a Stripe webhook delivery: the ``Stripe-Signature`` header (the stripe SDK's own check) and the body.

What is refused, always with a 400 that names no check: a body over ``MAX_WEBHOOK_BODY_BYTES``, a missing or garbled
header, no ``v1`` signature made with one of our secrets, a timestamp older or newer than ``TOLERANCE_SECONDS``, and
then a signed body that is not a Stripe event object. During a secret rotation the parameter holds two secrets: a
delivery signed with either passes (Stripe itself sends one ``v1`` per live secret, which the SDK tries each of).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import stripe
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters

from lambdas.payment_api.errors import WebhookNotConfigured, WebhookRejected, WebhookSignatureInvalid

logger = Logger(child=True)

# Stripe's default tolerance; a delivery is signed when it is sent, so an honest one is seconds old.
TOLERANCE_SECONDS = 300
# Stripe events are a few kilobytes; the largest (expanded objects) stay far below this.
MAX_WEBHOOK_BODY_BYTES = 64 * 1024
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every Stripe signing secret, not a secret
_REFUSED = "the webhook signature is not valid"


def verified_event(payload: str, signature_header: str | None, secrets: Sequence[str], *, now: float) -> dict[str, Any]:
    """The Stripe event a delivery carries, once its signature and timestamp are checked against ``secrets``.

    Raises ``WebhookSignatureInvalid`` (bad or missing signature, stale or future timestamp), ``WebhookRejected``
    (oversize, not JSON, not an event object).
    """
    if len(payload.encode(errors="replace")) > MAX_WEBHOOK_BODY_BYTES:
        raise WebhookRejected(f"the webhook body is larger than {MAX_WEBHOOK_BODY_BYTES} bytes")
    if not signature_header:
        raise WebhookSignatureInvalid(_REFUSED)
    if not any(_signed_with(payload, signature_header, secret) for secret in secrets):
        raise WebhookSignatureInvalid(_REFUSED)
    # The SDK refuses old timestamps only; a timestamp from the future is as suspect (a clock Stripe does not have).
    if _timestamp(signature_header) > now + TOLERANCE_SECONDS:
        raise WebhookSignatureInvalid(_REFUSED)
    return _event_object(payload)


def _signed_with(payload: str, header: str, secret: str) -> bool:
    try:
        stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=TOLERANCE_SECONDS)
    except (stripe.SignatureVerificationError, UnicodeError):  # text that is not UTF-8 was never signed by Stripe
        return False
    return True


def _timestamp(header: str) -> int:
    """The header's ``t=`` (present and an integer: the SDK's check already required both)."""
    for item in header.split(","):
        name, _, value = item.partition("=")
        if name.strip() == "t":
            return int(value)
    raise WebhookSignatureInvalid(_REFUSED)


def _event_object(payload: str) -> dict[str, Any]:
    try:
        event = json.loads(payload)
    except ValueError:
        raise WebhookRejected("the webhook body is not JSON") from None
    if not isinstance(event, dict) or event.get("object") != "event":
        raise WebhookRejected("the webhook body is not a Stripe event")
    data = event.get("data")
    valid = (
        isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("created"), int)
        and isinstance(data, dict)
        and isinstance(data.get("object"), dict)
    )
    if not valid:
        raise WebhookRejected("the webhook event lacks its id, type, created time or object")
    return event


def ssm_secrets_reader(
    parameter_name: str, *, max_age_seconds: int, provider: parameters.SSMProvider
) -> Callable[[], tuple[str, ...]]:
    """A function returning the endpoint's signing secrets (one, or two during a rotation: ``whsec_new,whsec_old``),
    cached by ``provider`` for ``max_age_seconds``; ``WebhookNotConfigured`` (and an error log) when the SecureString
    is missing, unreadable or holds no ``whsec_`` secret."""

    def read_secrets() -> tuple[str, ...]:
        try:
            value = provider.get(parameter_name, decrypt=True, max_age=max_age_seconds)
        except parameters.exceptions.GetParameterError as error:
            logger.error(  # noqa: TRY400 - an operator's task, not a bug: one clear line without a stack trace
                "Stripe webhook secret is not readable: put it in place with `make stripe-webhook-secret`",
                extra={"parameter_name": parameter_name, "error_type": type(error.__cause__ or error).__name__},
            )
            raise WebhookNotConfigured("webhooks are not configured") from None
        secrets = tuple(part.strip() for part in str(value or "").split(",") if part.strip())
        if not secrets or not all(secret.startswith(SECRET_PREFIX) for secret in secrets):
            logger.error(
                "Stripe webhook secret parameter holds no whsec_ secret", extra={"parameter_name": parameter_name}
            )
            raise WebhookNotConfigured("webhooks are not configured")
        return secrets

    return read_secrets
