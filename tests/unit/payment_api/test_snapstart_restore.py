"""SnapStart: what the payment API function refreshes after Lambda restores it from a snapshot."""

from __future__ import annotations

import os

import boto3

from tests.fixtures.payment_api import ApiClient
from tests.support.snapstart import run_after_restore_hooks
from tests.support.stripe_stub import UNIT_STRIPE_KEY, FakeStripeHttp, charge_object

CHARGE_BODY = {"amount": 12500, "currency": "eur", "stripeToken": "tok_visa"}
ROTATED_KEY = "sk_test_rotated_after_the_snapshot"


def test_a_restored_environment_reads_the_key_again_and_gets_its_own_stripe_client(
    ssm_wired_api: ApiClient, fake_stripe: FakeStripeHttp
) -> None:
    # Given a warm environment that has read the key (cached for 5 minutes) and built its Stripe client
    fake_stripe.routes = {("POST", "/v1/charges"): (200, charge_object())}
    assert ssm_wired_api.post("/charge", CHARGE_BODY)[0] == 200
    # And the key is rotated in SSM while that environment sits in a snapshot
    key_parameter = os.environ["STRIPE_SECRET_KEY_PARAMETER"]
    boto3.client("ssm").put_parameter(Name=key_parameter, Value=ROTATED_KEY, Type="SecureString", Overwrite=True)
    # When Lambda restores the snapshot and runs the after-restore hooks
    run_after_restore_hooks()
    assert ssm_wired_api.post("/charge", CHARGE_BODY)[0] == 200
    # Then the restored environment sent the new key, through a Stripe HTTP client of its own
    assert [call.api_key for call in fake_stripe.calls] == [UNIT_STRIPE_KEY, ROTATED_KEY]
    assert len(fake_stripe.timeouts) == 2
