"""Register this environment's Stripe webhook endpoint, or bring it up to date: idempotent, safe to run again.

The endpoint is the deployed API's base URL (SSM `/<env>/service/payment/api/url`) + `webhooks/stripe`, it receives
exactly the event types the API function handles, shaped by the Stripe SDK's API version. The Stripe secret key is
$STRIPE_SECRET_KEY when set, else the environment's SecureString `/<env>/service/payment/stripe/secretKey`. A new
endpoint's signing secret (Stripe shows it only once) goes straight to the SecureString
`/<env>/service/payment/stripe/webhookSecret`; no secret is ever printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import boto3
import stripe
from botocore.exceptions import BotoCoreError, ClientError

from lambdas.payment_api.webhook_events import WEBHOOK_EVENT_TYPES
from payment_stack.environment import EnvironmentNameError, resolve_env_name
from payment_stack.names import (
    api_url_parameter_name,
    stripe_secret_key_parameter_name,
    stripe_webhook_secret_parameter_name,
)

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient
    from stripe.params import WebhookEndpointCreateParams, WebhookEndpointUpdateParams

KEY_VARIABLE = "STRIPE_SECRET_KEY"
WEBHOOK_PATH = "webhooks/stripe"  # relative to the API base URL, which ends in `/`
DESCRIPTION_PREFIX = "serverless-airline payment"
LIST_PAGE_SIZE = 100  # Stripe's maximum: most accounts have a handful of endpoints, one page
RECOVERY_HINT = (
    "roll the endpoint's signing secret in the Stripe Dashboard (Developers > Webhooks), then store it with "
    "`STRIPE_WEBHOOK_SECRET=whsec_... make stripe-webhook-secret`"
)


class SetupError(Exception):
    """Something this command needs is not there yet (the deployed API, the Stripe key): the message says how."""


@dataclass(frozen=True)
class WebhookTarget:
    """What the environment's endpoint must look like, and where its signing secret lives."""

    url: str
    event_types: tuple[str, ...]
    description: str
    secret_parameter: str


def make_stripe_client(api_key: str) -> stripe.StripeClient:
    """A Stripe client for ``api_key`` on api.stripe.com (the seam tests replace)."""
    return stripe.StripeClient(api_key)


def main(
    argv: Sequence[str] | None = None,
    *,
    stripe_client_factory: Callable[[str], stripe.StripeClient] = make_stripe_client,
    ssm: SSMClient | None = None,
) -> int:
    """Exit code 0 when the endpoint is registered and up to date, 2 when the environment is not ready for it (no
    environment name, API not deployed, no Stripe key), 1 when Stripe or AWS fails or the new secret is not stored."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", help="environment name (default: AWS_BRANCH, then the git branch)")
    args = parser.parse_args(argv)
    try:
        env = resolve_env_name(context_value=args.env, environ=os.environ)
        ssm = ssm or boto3.client("ssm")
        base_url = _parameter_value(
            ssm,
            api_url_parameter_name(env),
            decrypt=False,
            hint=f"deploy the environment first (make deploy ENV={env})",
        )
        target = WebhookTarget(
            url=base_url + WEBHOOK_PATH,
            event_types=tuple(WEBHOOK_EVENT_TYPES),
            description=f"{DESCRIPTION_PREFIX} {env}",
            secret_parameter=stripe_webhook_secret_parameter_name(env),
        )
        api_key = os.environ.get(KEY_VARIABLE, "").strip() or _parameter_value(
            ssm,
            stripe_secret_key_parameter_name(env),
            decrypt=True,
            hint=f"set {KEY_VARIABLE}, or store the key with `make stripe-key ENV={env}`",
        )
        return _register(stripe_client_factory(api_key).v1.webhook_endpoints, ssm, target)
    except (EnvironmentNameError, SetupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except stripe.StripeError as error:
        print(f"error: Stripe refused the request: {error.user_message or error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:
        print(f"error: AWS refused the request: {error}", file=sys.stderr)
        return 1


def _parameter_value(ssm: SSMClient, name: str, *, decrypt: bool, hint: str) -> str:
    """The value of the SSM parameter ``name``; ``SetupError`` (with ``hint``) when it does not exist."""
    try:
        return ssm.get_parameter(Name=name, WithDecryption=decrypt)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        raise SetupError(f"{name} does not exist: {hint}") from None


def _register(endpoints: stripe.WebhookEndpointService, ssm: SSMClient, target: WebhookTarget) -> int:
    # Stripe cannot filter endpoints by URL: read them all (auto-paging) and match exactly.
    matching = [
        endpoint
        for endpoint in endpoints.list({"limit": LIST_PAGE_SIZE}).auto_paging_iter()
        if endpoint.url == target.url
    ]
    if not matching:
        return _create(endpoints, ssm, target)
    endpoint, *duplicates = matching
    for duplicate in duplicates:
        print(
            f"warning: endpoint {duplicate.id} also receives {target.url} and was left as it is; delete it in the "
            f"Stripe Dashboard: each event reaches the API once per endpoint",
            file=sys.stderr,
        )
    changes, params = _changes(endpoint, target)
    if changes:
        # cast: Stripe types event names as a closed set of literals; the handled types are plain strings.
        endpoint = endpoints.update(endpoint.id, cast("WebhookEndpointUpdateParams", params))
        state = f"updated ({', '.join(changes)})"
    else:
        state = "up to date"
    if endpoint.api_version != stripe.api_version:
        print(
            f"warning: endpoint {endpoint.id} sends events of API version {endpoint.api_version or 'account default'}"
            f", not {stripe.api_version} (the Stripe SDK's, which the service parses), and Stripe cannot change an "
            f"endpoint's version: delete the endpoint in the Stripe Dashboard and run `make stripe-webhook` again "
            f"(it creates a new one and stores its new signing secret)",
            file=sys.stderr,
        )
    _warn_unless_secret_stored(ssm, target.secret_parameter)
    print(f"webhook endpoint {endpoint.id} for {target.url}: {state}")
    _print_summary(target, endpoint.api_version)
    return 0


def _changes(endpoint: stripe.WebhookEndpoint, target: WebhookTarget) -> tuple[list[str], dict[str, Any]]:
    """What differs from ``target`` (for the operator) and the update parameters; no changes: ``([], {})``.

    Only what Stripe lets an update change is compared: event types, description, disabled status (the API version
    is fixed when an endpoint is created).
    """
    changes = []
    if set(endpoint.enabled_events) != set(target.event_types):
        changes.append("event types")
    if endpoint.description != target.description:
        changes.append("description")
    disabled = endpoint.status == "disabled"
    if disabled:
        changes.append("enabled again")
    if not changes:
        return [], {}
    # Always the whole target, not only what differs: an update leaves the endpoint exactly as a new one would be.
    params: dict[str, Any] = {"enabled_events": list(target.event_types), "description": target.description}
    if disabled:
        params["disabled"] = False
    return changes, params


def _create(endpoints: stripe.WebhookEndpointService, ssm: SSMClient, target: WebhookTarget) -> int:
    params: dict[str, Any] = {
        "url": target.url,
        "enabled_events": list(target.event_types),
        "api_version": stripe.api_version,
        "description": target.description,
    }
    endpoint = endpoints.create(cast("WebhookEndpointCreateParams", params))
    print(f"webhook endpoint {endpoint.id} for {target.url}: created")
    # Stripe returns the signing secret on creation only: if it is not stored now, the only way back is a new one.
    secret = endpoint.secret
    if not secret:
        print(
            f"error: Stripe returned no signing secret for the new endpoint {endpoint.id}; {RECOVERY_HINT}",
            file=sys.stderr,
        )
        return 1
    try:
        version = ssm.put_parameter(Name=target.secret_parameter, Value=secret, Type="SecureString", Overwrite=True)[
            "Version"
        ]
    except (BotoCoreError, ClientError) as error:
        reason = str(error).replace(secret, "***")
        print(
            f"error: the endpoint {endpoint.id} was created, but its signing secret could not be stored at "
            f"{target.secret_parameter} ({reason}), so the API will reject its events: {RECOVERY_HINT}",
            file=sys.stderr,
        )
        return 1
    print(f"stored its signing secret at {target.secret_parameter} (version {version})")
    _print_summary(target, endpoint.api_version)
    return 0


def _warn_unless_secret_stored(ssm: SSMClient, name: str) -> None:
    """An existing endpoint's secret cannot be read back from Stripe: warn when the API has none to verify with."""
    try:
        ssm.get_parameter(Name=name, WithDecryption=False)
    except ssm.exceptions.ParameterNotFound:
        print(
            f"warning: {name} does not exist, so the API rejects every event from this endpoint: {RECOVERY_HINT}",
            file=sys.stderr,
        )


def _print_summary(target: WebhookTarget, api_version: str | None) -> None:
    print(f"  {len(target.event_types)} event types, API version {api_version or 'account default'}")
    print(f"  signing secret: SSM SecureString {target.secret_parameter} (never printed)")


if __name__ == "__main__":
    sys.exit(main())
