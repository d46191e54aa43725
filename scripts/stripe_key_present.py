"""Does this environment have its Stripe secret key yet? Prints ``present`` or ``absent`` (exit 0 either way).

The deploy workflow runs ``make stripe-key`` only on ``absent``, so a key an operator has put (or rotated) is never
overwritten by the repository secret. The parameter is read without decryption: only its existence and type are
looked at, so neither ``kms:Decrypt`` nor the value is needed. A parameter of another type than SecureString, or any
error reaching SSM, exits 1 with a message (the workflow then stops rather than guess).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from payment_stack.environment import EnvironmentNameError, sanitise_env_name
from payment_stack.names import stripe_secret_key_parameter_name

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

PRESENT = "present"
ABSENT = "absent"


class StripeKeyStateError(Exception):
    """The parameter exists in a form the service cannot use, or SSM could not be asked."""


def stripe_key_state(env_name: str, *, ssm: SSMClient | None = None) -> str:
    """``present`` if ``/<env>/service/payment/stripe/secretKey`` is a SecureString, ``absent`` if it does not exist.

    Raises ``StripeKeyStateError`` for a parameter of another type, or when SSM cannot be asked.
    """
    name = stripe_secret_key_parameter_name(env_name)
    client = ssm or boto3.client("ssm")
    try:
        parameter = client.get_parameter(Name=name, WithDecryption=False)["Parameter"]
    except client.exceptions.ParameterNotFound:
        return ABSENT
    except (BotoCoreError, ClientError) as error:
        raise StripeKeyStateError(f"could not look up {name}: {error}") from error
    if parameter.get("Type") != "SecureString":
        raise StripeKeyStateError(
            f"{name} exists as a {parameter.get('Type')}, not a SecureString: delete it and put the key again "
            "with `make stripe-key`"
        )
    return PRESENT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", required=True, help="the environment name (sanitised like ENV= of make)")
    args = parser.parse_args(argv)
    try:
        print(stripe_key_state(sanitise_env_name(args.env)))
    except (EnvironmentNameError, StripeKeyStateError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
