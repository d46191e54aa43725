"""scripts/stripe_key_present.py: the deploy workflow puts the Stripe key only when the environment has none, so an
operator's key is never overwritten; a parameter of the wrong type stops it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.stub import Stubber

from payment_stack.names import stripe_secret_key_parameter_name
from scripts import stripe_key_present
from scripts.stripe_key_present import ABSENT, PRESENT, StripeKeyStateError, stripe_key_state

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

ENV = "feature-x"
KEY = "sk_test_operator_put_this_93ad"


def test_an_environment_without_its_key_is_absent(ssm: SSMClient, capsys: pytest.CaptureFixture[str]) -> None:
    assert stripe_key_present.main(["--env", ENV]) == 0
    assert capsys.readouterr().out == f"{ABSENT}\n"


def test_a_securestring_key_is_present_and_never_printed(ssm: SSMClient, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the key an operator put (the branch name is sanitised as make does: feature/x → feature-x)
    ssm.put_parameter(Name=stripe_secret_key_parameter_name(ENV), Value=KEY, Type="SecureString")
    assert stripe_key_present.main(["--env", "feature/x"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{PRESENT}\n"
    assert KEY not in out + err


def test_a_parameter_of_another_type_stops_the_workflow(ssm: SSMClient, capsys: pytest.CaptureFixture[str]) -> None:
    ssm.put_parameter(Name=stripe_secret_key_parameter_name(ENV), Value=KEY, Type="String")
    assert stripe_key_present.main(["--env", ENV]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "not a SecureString" in err
    assert KEY not in err


def test_an_ssm_error_is_not_taken_for_absence() -> None:
    # Given a role that may not read the parameter: the workflow must stop, not put a key over an existing one
    client = boto3.client("ssm")
    with Stubber(client) as stubber:
        stubber.add_client_error("get_parameter", service_error_code="AccessDeniedException", http_status_code=400)
        with pytest.raises(StripeKeyStateError, match="AccessDeniedException"):
            stripe_key_state(ENV, ssm=client)


def test_the_lookup_asks_for_no_decryption() -> None:
    client = boto3.client("ssm")
    with Stubber(client) as stubber:
        stubber.add_response(
            "get_parameter",
            {
                "Parameter": {
                    "Name": stripe_secret_key_parameter_name(ENV),
                    "Type": "SecureString",
                    "Value": "AQICAH...",
                }
            },
            {"Name": stripe_secret_key_parameter_name(ENV), "WithDecryption": False},
        )
        assert stripe_key_state(ENV, ssm=client) == PRESENT
        stubber.assert_no_pending_responses()
