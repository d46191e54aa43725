"""The bad-request corpus (tests/data/bad_requests.json) over HTTP against local mode: every case gets its
documented 4xx status and code as JSON, none gets a 5xx, and not one reaches Stripe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from local_mode.environment import LOCAL_STRIPE_KEY, LocalEnvironment

CORPUS = json.loads((Path(__file__).resolve().parents[1] / "data" / "bad_requests.json").read_text())["cases"]


def stripe_object_count(env: LocalEnvironment) -> int:
    total = 0
    for kind in ("charges", "payment_intents", "refunds"):
        response = requests.get(
            f"{env.stripe_url}/v1/{kind}", params={"limit": 100}, auth=(LOCAL_STRIPE_KEY, ""), timeout=10
        )
        response.raise_for_status()
        total += len(response.json()["data"])
    return total


def send(env: LocalEnvironment, case: dict[str, Any]) -> requests.Response:
    body = (
        case["raw_body"]
        if case["raw_body"] is not None
        else (None if case["body"] is None else json.dumps(case["body"]))
    )
    headers = {"Content-Type": case["content_type"], **case["headers"]}
    return requests.request(
        case["method"],
        f"{env.api_url.rstrip('/')}{case['path']}",
        data=body.encode("utf-8", "surrogatepass") if body is not None else None,
        headers=headers,
        timeout=30,
    )


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 50
    assert len({case["name"] for case in CORPUS}) == len(CORPUS)
    assert {case["status"] for case in CORPUS} >= {400, 403, 413, 415}


@pytest.fixture(scope="module")
def answers(local_env: LocalEnvironment) -> dict[str, tuple[int, Any]]:
    before = stripe_object_count(local_env)
    results = {}
    for case in CORPUS:
        response = send(local_env, case)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        results[case["name"]] = (response.status_code, body)
    results["__stripe_objects_created__"] = (stripe_object_count(local_env) - before, None)
    return results


@pytest.mark.parametrize("case", CORPUS, ids=[case["name"] for case in CORPUS])
def test_each_bad_request_gets_its_documented_answer(case: dict[str, Any], answers: dict[str, tuple[int, Any]]) -> None:
    status, body = answers[case["name"]]
    assert status < 500, f"{case['name']}: {status} {body}"
    assert status == case["status"], f"{case['name']}: {status} {body}"
    assert isinstance(body, dict), f"{case['name']}: not a JSON object: {body!r}"
    assert body["code"] == case["code"], f"{case['name']}: {body}"
    assert body["message"]


def test_no_bad_request_reached_stripe(answers: dict[str, tuple[int, Any]]) -> None:
    assert answers["__stripe_objects_created__"][0] == 0
