"""Store the Stripe secret key from $STRIPE_SECRET_KEY as `/<env>/service/payment/stripe/secretKey` (SecureString).

The key is read from the environment only, so it never appears on a command line, in shell history or in output.
"""

import argparse
import os
import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from payment_stack.environment import EnvironmentNameError, resolve_env_name
from payment_stack.names import stripe_secret_key_parameter_name

KEY_VARIABLE = "STRIPE_SECRET_KEY"
KEY_PREFIXES = ("sk_live_", "sk_test_", "rk_live_", "rk_test_")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", help="environment name (default: AWS_BRANCH, then the git branch)")
    args = parser.parse_args(argv)
    key = os.environ.get(KEY_VARIABLE, "").strip()
    if not key:
        print(f"error: set {KEY_VARIABLE} to the Stripe secret key (it is never printed)", file=sys.stderr)
        return 2
    if not key.startswith(KEY_PREFIXES):
        print(f"error: {KEY_VARIABLE} does not look like a Stripe secret or restricted key", file=sys.stderr)
        return 2
    try:
        name = stripe_secret_key_parameter_name(resolve_env_name(context_value=args.env, environ=os.environ))
        version = boto3.client("ssm").put_parameter(Name=name, Value=key, Type="SecureString", Overwrite=True)
    except EnvironmentNameError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"error: could not store the key: {error}", file=sys.stderr)
        return 1
    print(f"stored the Stripe key at {name} (version {version['Version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
