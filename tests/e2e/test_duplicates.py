"""Every money-moving operation replayed three times, as clients and Step Functions retries do, moves money once.
Counted at localstripe, which itself ignores idempotency keys and would happily refund twice."""

from __future__ import annotations

import json
import uuid
from typing import Any

import requests

from local_mode.environment import LOCAL_STRIPE_KEY, LocalEnvironment
from payment_stack.names import payment_stack_name
from tests.e2e.conftest import E2E_ENV
from tests.support.api_clients import signed_client

REPLAYS = 3


def stripe_list(env: LocalEnvironment, kind: str, **params: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{env.stripe_url}/v1/{kind}", params={"limit": "100", **params}, auth=(LOCAL_STRIPE_KEY, ""), timeout=10
    )
    response.raise_for_status()
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def intent(env: LocalEnvironment, intent_id: str) -> dict[str, Any]:
    response = requests.get(
        f"{env.stripe_url}/v1/payment_intents/{intent_id}",
        params={"expand[]": "latest_charge"},
        auth=(LOCAL_STRIPE_KEY, ""),
        timeout=10,
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def charge_thrice(env: LocalEnvironment, amount: int) -> str:
    key = f"checkout-{uuid.uuid4().hex}"
    before = {item["id"] for item in stripe_list(env, "payment_intents")}
    answers = [
        requests.post(
            f"{env.api_url}charge",
            json={"amount": amount, "currency": "eur", "stripeToken": "pm_card_visa"},
            headers={"Idempotency-Key": key},
            timeout=30,
        )
        for _ in range(REPLAYS)
    ]
    assert [answer.status_code for answer in answers] == [200] * REPLAYS
    ids = {answer.json()["createdCharge"]["id"] for answer in answers}
    assert len(ids) == 1
    created = {item["id"] for item in stripe_list(env, "payment_intents")} - before
    assert created == ids  # one hold, not three
    return str(ids.pop())


def test_charge_capture_and_refund_replayed_move_money_once(local_env: LocalEnvironment) -> None:
    charge_id = charge_thrice(local_env, 4100)
    client = signed_client(local_env)
    captures = [
        client.post("capture", {"chargeId": charge_id}, idempotency_key=f"cap-{charge_id}") for _ in range(REPLAYS)
    ]
    assert captures[0] == captures[1] == captures[2]
    assert intent(local_env, charge_id)["status"] == "succeeded"
    refunds = [
        client.post("refund", {"chargeId": charge_id, "amount": 1000}, idempotency_key=f"ref-{charge_id}")
        for _ in range(REPLAYS)
    ]
    assert refunds[0] == refunds[1] == refunds[2]
    stripe_refunds = stripe_list(local_env, "refunds", payment_intent=charge_id)
    assert [refund["amount"] for refund in stripe_refunds] == [1000]


def test_collect_and_refund_functions_invoked_three_times_move_money_once(local_env: LocalEnvironment) -> None:
    charge_id = charge_thrice(local_env, 5200)
    lambda_client = local_env.client("lambda")
    state = {
        "outboundFlightId": "fl-dup",
        "customerId": "c",
        "chargeId": charge_id,
        "name": "dup",
        "createdAt": "t",
        "fare": {"amount": 5200, "currency": "EUR"},
    }

    def invoke(output_key: str) -> list[Any]:
        arn = local_env.output(payment_stack_name(E2E_ENV), output_key)
        results = []
        for _ in range(REPLAYS):
            answer = lambda_client.invoke(FunctionName=arn, Payload=json.dumps(state).encode())
            assert not answer.get("FunctionError"), answer["Payload"].read()
            results.append(json.loads(answer["Payload"].read()))
        return results

    collected = invoke("CollectFunctionArn")
    assert collected[0] == collected[1] == collected[2] == {"receiptUrl": None, "price": 5200}
    assert intent(local_env, charge_id)["status"] == "succeeded"
    refunded = invoke("RefundFunctionArn")
    assert refunded[0] == refunded[1] == refunded[2]
    assert len(stripe_list(local_env, "refunds", payment_intent=charge_id)) == 1
    assert intent(local_env, charge_id)["latest_charge"]["amount_refunded"] == 5200
