"""scripts/delivery_summary.py: the deploy job's summary shows the API URL read from (moto) SSM and every SSM
parameter name of the environment, and never a parameter's value other than the URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.stub import Stubber

from payment_stack.names import (
    api_route_url_parameter_name,
    api_url_parameter_name,
    event_bus_parameter_name,
    function_parameter_name,
    stripe_secret_key_parameter_name,
    stripe_webhook_secret_parameter_name,
)
from scripts import delivery_summary

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

ENV = "feature-x"
API_URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/Prod/"
STRIPE_KEY = "sk_test_never_in_a_summary_51f0"


def run(capsys: pytest.CaptureFixture[str], *argv: str, ssm: SSMClient | None = None) -> tuple[int, str, str]:
    code = delivery_summary.main(list(argv), ssm=ssm)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_summary_shows_the_api_url_and_every_parameter_name(
    ssm: SSMClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a deployed environment (its URL parameter) that also holds its Stripe key
    ssm.put_parameter(Name=api_url_parameter_name(ENV), Value=API_URL, Type="String")
    ssm.put_parameter(Name=stripe_secret_key_parameter_name(ENV), Value=STRIPE_KEY, Type="SecureString")
    # When the summary is made
    code, out, err = run(capsys, "--env", ENV, "--stripe-key", "present")
    # Then it names the environment, links the URL and lists every parameter by name, never the key's value
    assert (code, err) == (0, "")
    assert out.startswith(f"## Payment environment `{ENV}`\n")
    assert f"| API URL | <{API_URL}> |" in out
    assert "`Payment-feature-x`, `Booking-feature-x`" in out
    assert "already there, left as it was" in out
    names = [
        api_url_parameter_name(ENV),
        *(api_route_url_parameter_name(ENV, route) for route in ("charge", "capture", "refund")),
        function_parameter_name(ENV, "collect"),
        function_parameter_name(ENV, "refund"),
        event_bus_parameter_name(ENV),
        stripe_secret_key_parameter_name(ENV),
        stripe_webhook_secret_parameter_name(ENV),
    ]
    for name in names:
        assert f"`{name}` |" in out
    assert STRIPE_KEY not in out


def test_a_missing_url_is_shown_and_warned_about_without_failing(
    ssm: SSMClient, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--env", ENV, "--stripe-key", "put")
    assert code == 0
    assert f"| API URL | (not found: `{api_url_parameter_name(ENV)}` does not exist) |" in out
    assert "put from the repository secret by this run" in out
    assert err.startswith(f"warning: the API URL of {ENV}: not found")


def test_a_url_that_cannot_be_read_is_shown_with_the_error_code(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a role that may not read the parameter (AccessDenied from SSM)
    client = boto3.client("ssm")
    with Stubber(client) as stubber:
        stubber.add_client_error("get_parameter", service_error_code="AccessDeniedException", http_status_code=400)
        code, out, err = run(capsys, "--env", ENV, ssm=client)
    assert code == 0
    assert "| API URL | (could not be read (AccessDeniedException)) |" in out
    assert "AccessDeniedException" in err


def test_the_environment_name_is_sanitised_like_make_does(ssm: SSMClient, capsys: pytest.CaptureFixture[str]) -> None:
    ssm.put_parameter(Name=api_url_parameter_name(ENV), Value=API_URL, Type="String")
    code, out, _ = run(capsys, "--env", "feature/x")
    assert code == 0
    assert f"<{API_URL}>" in out


def test_an_unusable_name_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--env", "///")
    assert (code, out) == (2, "")
    assert err.startswith("error: ")


def test_table_cells_cannot_be_broken_by_a_value() -> None:
    text = delivery_summary.summary(ENV, api_url="https://x/a|b\nc")
    assert "| API URL | <https://x/a\\|b c> |" in text
