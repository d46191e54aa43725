"""The SSM parameters other systems read, as local mode publishes them: the functions' ARNs for the Booking service,
and the API's URLs (base and per route, the old stack's names) holding the local front's real addresses."""

from __future__ import annotations

import requests

from local_mode.environment import LocalEnvironment
from payment_stack.names import (
    API_ROUTES,
    api_route_url_parameter_name,
    api_url_parameter_name,
    function_parameter_name,
)
from tests.e2e.conftest import E2E_ENV


def parameter(env: LocalEnvironment, name: str) -> str:
    return str(env.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])


def test_every_url_parameter_holds_the_real_local_url(local_env: LocalEnvironment) -> None:
    # Given local mode running / Then the base URL parameter is the local front's, not an address moto made up
    assert parameter(local_env, api_url_parameter_name(E2E_ENV)) == local_env.api_url
    # And each route's parameter is that URL plus the route
    for route in API_ROUTES:
        assert parameter(local_env, api_route_url_parameter_name(E2E_ENV, route)) == f"{local_env.api_url}{route}"


def test_the_charge_url_from_ssm_takes_the_old_front_ends_request(local_env: LocalEnvironment) -> None:
    # Given the URL the old front-end's build read from /<env>/service/payment/api/charge/url
    url = parameter(local_env, api_route_url_parameter_name(E2E_ENV, "charge"))
    # When the old front-end's exact request is posted there
    answer = requests.post(
        url,
        json={
            "amount": 12500,
            "currency": "eur",
            "stripeToken": "pm_card_visa",
            "description": "Payment by jo@example.com",
            "email": "jo@example.com",
        },
        timeout=30,
    )
    # Then it is a hold, answered as the old app did
    assert answer.status_code == 200, answer.text
    assert answer.json()["createdCharge"]["id"].startswith("pi_")


def test_the_function_parameters_name_deployed_functions(local_env: LocalEnvironment) -> None:
    # Given the ARNs the Booking service reads / Then each names a function local mode deployed
    deployed = {f["FunctionArn"] for f in local_env.client("lambda").list_functions()["Functions"]}
    for function in ("collect", "refund"):
        assert parameter(local_env, function_parameter_name(E2E_ENV, function)) in deployed
