"""Store the Stripe webhook signing secret from $STRIPE_WEBHOOK_SECRET as `/<env>/service/payment/stripe/webhookSecret`
(SecureString).

One `whsec_...` secret, or during a rotation two separated by a comma (`whsec_new,whsec_old`): the API function
accepts a signature made with either. The value is read from the environment only, so it never appears on a command
line, in shell history or in output.
"""

import argparse
import os
import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from payment_stack.environment import EnvironmentNameError, resolve_env_name
from payment_stack.names import stripe_webhook_secret_parameter_name

SECRET_VARIABLE = "STRIPE_WEBHOOK_SECRET"  # noqa: S105 - the variable's name, not a secret
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every Stripe signing secret, not a secret
MAX_SECRETS = 2  # the current secret and, while Stripe still signs with it, the one being rolled


class WebhookSecretError(ValueError):
    """The value is not one or two webhook signing secrets; the message never contains the value."""


def normalised_secrets(raw: str) -> str:
    """The SSM value for ``raw``: its secrets without surrounding spaces, joined by ``,`` (``whsec_a,whsec_b``).

    Raises ``WebhookSecretError`` when ``raw`` is empty, holds more than ``MAX_SECRETS`` secrets, an empty one, one
    not starting with ``whsec_`` or the same secret twice.
    """
    secrets = [part.strip() for part in raw.split(",")]
    if secrets == [""]:
        raise WebhookSecretError(f"set {SECRET_VARIABLE} to the webhook signing secret (it is never printed)")
    if len(secrets) > MAX_SECRETS:
        raise WebhookSecretError(
            f"{SECRET_VARIABLE} holds {len(secrets)} secrets; give one, or two (new,old) during a rotation"
        )
    for position, secret in enumerate(secrets, start=1):
        if not secret.startswith(SECRET_PREFIX) or secret == SECRET_PREFIX:
            raise WebhookSecretError(
                f"secret {position} of {SECRET_VARIABLE} does not look like a Stripe webhook signing secret "
                f"({SECRET_PREFIX}...)"
            )
    if len(set(secrets)) != len(secrets):
        raise WebhookSecretError(f"{SECRET_VARIABLE} holds the same secret twice")
    return ",".join(secrets)


def _redacted(message: str, value: str) -> str:
    """``message`` with the value and each of its secrets masked: AWS validation errors may quote what was sent."""
    for secret in (value, *value.split(",")):
        message = message.replace(secret, "***")
    return message


def main(argv: list[str] | None = None) -> int:
    """Exit code 0 when stored, 2 for a missing or malformed secret or environment name, 1 when AWS fails."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", help="environment name (default: AWS_BRANCH, then the git branch)")
    args = parser.parse_args(argv)
    try:
        value = normalised_secrets(os.environ.get(SECRET_VARIABLE, ""))
        name = stripe_webhook_secret_parameter_name(resolve_env_name(context_value=args.env, environ=os.environ))
    except (WebhookSecretError, EnvironmentNameError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        version = boto3.client("ssm").put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
    except (BotoCoreError, ClientError) as error:
        print(f"error: could not store the webhook secret: {_redacted(str(error), value)}", file=sys.stderr)
        return 1
    count = value.count(",") + 1
    print(f"stored {count} webhook signing secret{'s' if count > 1 else ''} at {name} (version {version['Version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
