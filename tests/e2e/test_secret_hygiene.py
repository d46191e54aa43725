"""Secret hygiene with a canary Stripe key: after real traffic (charges, declines, bad input, signed captures and
refunds, bookings that succeed and fail) the key appears nowhere but in SSM — not in any log line (functions log at
DEBUG in the e2e environment), HTTP answer, error, metric, template, environment variable or execution history."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from lambdas.shared.payment_errors import PaymentError
from local_mode.environment import LocalEnvironment
from payment_stack.names import booking_stack_name, stripe_secret_key_parameter_name
from tests.e2e.conftest import CANARY_STRIPE_KEY, E2E_ENV
from tests.support.api_clients import signed_client


def exercise(env: LocalEnvironment) -> list[str]:
    """Real traffic of every kind; returns everything the clients received."""
    seen: list[str] = []

    def post(body: object, *, raw: str | None = None) -> dict[str, Any]:
        response = requests.post(
            f"{env.api_url}charge",
            data=raw if raw is not None else json.dumps(body),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        seen.append(f"{response.status_code} {dict(response.headers)} {response.text}")
        return dict(response.json())

    charge = post({"amount": 5000, "currency": "usd", "stripeToken": "pm_card_visa", "email": "c@example.com"})
    post({"amount": 5000, "currency": "usd", "stripeToken": "pm_card_chargeCustomerFail"})
    post({"amount": -1, "currency": "usd", "stripeToken": "pm_card_visa"})
    post(None, raw="{not json")
    client = signed_client(env)
    charge_id = charge["createdCharge"]["id"]
    for path, body in (
        ("capture", {"chargeId": charge_id}),
        ("refund", {"chargeId": charge_id}),
        ("capture", {"chargeId": "pi_missing"}),
    ):
        try:
            seen.append(json.dumps(client.post(path, body, idempotency_key=f"hygiene-{uuid.uuid4().hex}")))
        except PaymentError as error:
            seen.append(f"{type(error).__name__}: {error}")
    booking_stack = booking_stack_name(E2E_ENV)
    flights = env.output(booking_stack, "FlightsTableName")
    env.client("dynamodb").put_item(
        TableName=flights,
        Item={
            "id": {"S": "FL-HYGIENE"},
            "seatCapacity": {"N": "1"},
            "ticketPrice": {"N": "7000"},
            "ticketCurrency": {"S": "EUR"},
        },
    )
    sfn = env.client("stepfunctions")
    for _ in range(2):  # the second finds no seat left and compensates
        hold = post({"amount": 7000, "currency": "eur", "stripeToken": "pm_card_visa"})["createdCharge"]["id"]
        name = f"hygiene-{uuid.uuid4().hex[:12]}"
        arn = sfn.start_execution(
            stateMachineArn=env.output(booking_stack, "StateMachineArn"),
            name=name,
            input=json.dumps(
                {"outboundFlightId": "FL-HYGIENE", "customerId": "c", "chargeId": hold, "name": name, "createdAt": "t"}
            ),
        )["executionArn"]
        deadline = time.monotonic() + 90
        while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.2)
    return seen


def execution_histories(env: LocalEnvironment) -> str:
    sfn = env.client("stepfunctions")
    machine = env.output(booking_stack_name(E2E_ENV), "StateMachineArn")
    histories = []
    for execution in sfn.list_executions(stateMachineArn=machine)["executions"]:
        histories.append(json.dumps(sfn.get_execution_history(executionArn=execution["executionArn"]), default=str))
        histories.append(json.dumps(sfn.describe_execution(executionArn=execution["executionArn"]), default=str))
    return "\n".join(histories)


def test_the_stripe_key_never_leaves_ssm(local_env: LocalEnvironment) -> None:
    answers = exercise(local_env)
    time.sleep(0.5)  # let the function workers flush their last log lines
    logs = "\n".join(path.read_text(errors="replace") for path in Path(local_env.log_dir).glob("*.log"))
    # The logs hold real traffic at DEBUG level, so the check below is about something
    assert '"level":"DEBUG"' in logs
    assert '"_aws"' in logs  # EMF metrics are there too
    assert "Stripe answered" in logs
    places = {
        "HTTP answers and errors": "\n".join(answers),
        "function, moto and localstripe logs (metrics included)": logs,
        "execution histories": execution_histories(local_env),
        "synthesized templates and assets manifests": "\n".join(
            path.read_text() for path in local_env.assembly.glob("*.json")
        ),
        "function environments": json.dumps(
            [
                local_env.client("lambda").get_function_configuration(FunctionName=function["FunctionName"])
                for function in local_env.client("lambda").list_functions()["Functions"]
            ],
            default=str,
        ),
    }
    for place, text in places.items():
        assert text, f"nothing collected from {place}"
        assert CANARY_STRIPE_KEY not in text, f"the Stripe key leaked into {place}"
        assert CANARY_STRIPE_KEY[8:] not in text, f"part of the Stripe key leaked into {place}"
    # And the key is really the one the API used: it is in SSM, as a SecureString
    parameter = local_env.client("ssm").get_parameter(
        Name=stripe_secret_key_parameter_name(E2E_ENV), WithDecryption=True
    )
    assert parameter["Parameter"]["Value"] == CANARY_STRIPE_KEY
    assert parameter["Parameter"]["Type"] == "SecureString"
