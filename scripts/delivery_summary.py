"""The deploy workflow's job summary: an environment's API URL (read from SSM) and the SSM parameter names.

    python -m scripts.delivery_summary --env feature-x --stripe-key present >> "$GITHUB_STEP_SUMMARY"

Prints Markdown on stdout. Only the API URL is read (``ssm:GetParameter`` on ``/<env>/service/payment/api/url``,
a String); every other line is a name from ``payment_stack.names``, never a value, so no secret can reach the
summary. A URL that cannot be read is shown as such (and warned about on stderr) without failing: the summary runs
after the deployment, which has succeeded or failed on its own.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from payment_stack.environment import EnvironmentNameError, sanitise_env_name
from payment_stack.names import (
    API_ROUTES,
    BOOKING_FUNCTIONS,
    api_route_url_parameter_name,
    api_url_parameter_name,
    booking_stack_name,
    event_bus_parameter_name,
    function_parameter_name,
    payment_stack_name,
    stripe_secret_key_parameter_name,
    stripe_webhook_secret_parameter_name,
)

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

STRIPE_KEY_NOTES = {
    "put": "put from the repository secret by this run",
    "present": "already there, left as it was",
}


def read_api_url(env_name: str, *, ssm: SSMClient | None = None) -> tuple[str | None, str | None]:
    """``(url, None)``, or ``(None, why)`` when the parameter is missing or cannot be read."""
    name = api_url_parameter_name(env_name)
    client = ssm or boto3.client("ssm")
    try:
        return client.get_parameter(Name=name)["Parameter"]["Value"], None
    except client.exceptions.ParameterNotFound:
        return None, f"not found: `{name}` does not exist"
    except ClientError as error:
        return None, f"could not be read ({error.response.get('Error', {}).get('Code', 'error')})"
    except BotoCoreError as error:
        return None, f"could not be read ({type(error).__name__})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def parameter_rows(env_name: str) -> list[tuple[str, str]]:
    """``(what, SSM parameter name)`` of every parameter of ``env_name``, as ``payment_stack.names`` defines them."""
    rows = [("API base URL", api_url_parameter_name(env_name))]
    rows += [(f"`{route}` URL", api_route_url_parameter_name(env_name, route)) for route in API_ROUTES]
    rows += [
        (f"{function.capitalize()} function ARN", function_parameter_name(env_name, function))
        for function in BOOKING_FUNCTIONS
    ]
    rows += [
        ("Payment event bus name", event_bus_parameter_name(env_name)),
        ("Stripe secret key (SecureString)", stripe_secret_key_parameter_name(env_name)),
        ("Stripe webhook signing secret (SecureString)", stripe_webhook_secret_parameter_name(env_name)),
    ]
    return rows


def summary(env_name: str, *, api_url: str | None, problem: str | None = None, stripe_key: str | None = None) -> str:
    """The Markdown summary of ``env_name``'s deployment."""
    url = f"<{_cell(api_url)}>" if api_url else f"({_cell(problem or 'unknown')})"
    lines = [
        f"## Payment environment `{env_name}`",
        "",
        "| | |",
        "| --- | --- |",
        f"| API URL | {url} |",
        f"| Stacks | `{payment_stack_name(env_name)}`, `{booking_stack_name(env_name)}` |",
    ]
    if stripe_key is not None:
        lines.append(f"| Stripe secret key | {STRIPE_KEY_NOTES[stripe_key]} |")
    lines += ["", "### SSM parameters", "", "| what | name |", "| --- | --- |"]
    lines += [f"| {what} | `{name}` |" for what, name in parameter_rows(env_name)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None, *, ssm: SSMClient | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, help="the environment name (sanitised like ENV= of make)")
    parser.add_argument("--stripe-key", choices=sorted(STRIPE_KEY_NOTES), help="what this run did with the key")
    args = parser.parse_args(argv)
    try:
        env_name = sanitise_env_name(args.env)
    except EnvironmentNameError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    api_url, problem = read_api_url(env_name, ssm=ssm)
    if problem:
        print(f"warning: the API URL of {env_name}: {problem}", file=sys.stderr)
    sys.stdout.write(summary(env_name, api_url=api_url, problem=problem, stripe_key=args.stripe_key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
