"""What Stripe does on its own, end to end on local mode: localstripe's own webhooks and hand-signed Stripe events
reach the ledger, the payment event bus (read from its SQS tap) and the alarm metrics, each fact exactly once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from local_mode.environment import LocalEnvironment
from local_mode.send_event import Localstripe, payment_objects
from local_mode.stripe_events import build_event, signed_headers
from tests.support.api_clients import payment_record, signed_client
from tests.support.saga import STRIPE_AUTH, Saga, booking_input


def eventually(check: Callable[[], bool], *, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.2)


def deliver(env: LocalEnvironment, event: dict[str, Any]) -> tuple[int, Any]:
    payload = json.dumps(event)
    response = requests.post(
        env.webhook_url, data=payload.encode(), headers=signed_headers(payload, env.webhook_secret), timeout=30
    )
    return response.status_code, response.json()


def stripe_event(env: LocalEnvironment, event_type: str, payment_id: str, **options: Any) -> dict[str, Any]:
    charge, intent, refund = payment_objects(Localstripe(env.stripe_url), payment_id, refund_id=None)
    return build_event(event_type, charge, intent=intent, refund=refund, **options)


# Bus events received while looking for another payment's: kept for the test that asks for them.
_unclaimed: list[dict[str, Any]] = []


def bus_events_of(
    env: LocalEnvironment, payment_id: str, *, at_least: int, wait_seconds: float = 20
) -> list[dict[str, Any]]:
    """The bus events of ``payment_id`` not taken yet, waiting for ``at_least`` of them, then a little more so that a
    duplicate would have arrived too."""

    def take(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        _unclaimed.extend(event for event in events if event["detail"]["paymentId"] != payment_id)
        return [event for event in events if event["detail"]["paymentId"] == payment_id]

    mine = [event for event in _unclaimed if event["detail"]["paymentId"] == payment_id]
    _unclaimed[:] = [event for event in _unclaimed if event["detail"]["paymentId"] != payment_id]
    deadline = time.monotonic() + wait_seconds
    while len(mine) < at_least and time.monotonic() < deadline:
        mine += take(env.bus_events(wait_seconds=1, at_least=1))
    mine += take(env.bus_events(wait_seconds=2, at_least=100))
    return sorted(mine, key=lambda event: event["detail"]["recordedAt"])


def metric_count(env: LocalEnvironment, name: str) -> int:
    """How often a function published ``name`` (EMF lines in the functions' logs)."""
    text = "\n".join(path.read_text(errors="replace") for path in Path(env.log_dir).glob("*.log"))
    return text.count(f'"{name}":[1.0]')


def confirmed_booking(saga: Saga) -> str:
    flight, charge = saga.add_flight(seats=2), saga.hold()
    description = saga.run(booking_input(flight, charge))
    assert description["status"] == "SUCCEEDED", description
    return charge


def test_a_capture_made_at_stripe_reaches_the_ledger_and_the_bus_by_localstripes_own_webhook(saga: Saga) -> None:
    env = saga.env
    # Given a hold made through the API (its Payment Authorized event on the bus)
    payment_id = saga.hold()
    assert [e["detail-type"] for e in bus_events_of(env, payment_id, at_least=1)] == ["Payment Authorized"]
    # When it is captured at Stripe directly (as in the Dashboard): localstripe sends payment_intent.succeeded
    response = requests.post(f"{env.stripe_url}/v1/payment_intents/{payment_id}/capture", auth=STRIPE_AUTH, timeout=30)
    assert response.status_code == 200, response.text
    # Then the ledger records the capture from the webhook
    eventually(lambda: payment_record(env, payment_id)["status"] == "captured")
    record = payment_record(env, payment_id)
    assert record["capturedAmount"] == record["authorizedAmount"]
    assert record["history"][-1]["source"] == "webhook"
    # And the bus gets its event once
    captured = bus_events_of(env, payment_id, at_least=1)
    assert [(e["detail-type"], e["detail"]["source"]) for e in captured] == [("Payment Captured", "webhook")]


def test_a_signed_dispute_reaches_the_ledger_the_bus_and_the_alarm_metric_once_despite_redeliveries(
    saga: Saga,
) -> None:
    env = saga.env
    payment_id = confirmed_booking(saga)
    before = bus_events_of(env, payment_id, at_least=2)
    assert [e["detail-type"] for e in before] == ["Payment Authorized", "Payment Captured"]
    opened_before = metric_count(env, "DisputeOpened")
    # When Stripe delivers the dispute three times (a redelivery and a replay)
    dispute = stripe_event(env, "charge.dispute.created", payment_id)
    answers = [deliver(env, dispute) for _ in range(3)]
    assert [answer for _, answer in answers] == [
        {"received": True, "outcome": "applied"},
        {"received": True, "outcome": "already_recorded"},
        {"received": True, "outcome": "already_recorded"},
    ]
    # Then the ledger says disputed, with the dispute
    record = payment_record(env, payment_id)
    assert record["status"] == "disputed"
    assert record["dispute"]["status"] == "needs_response"
    assert record["dispute"]["evidenceDueBy"] is not None
    # And the bus got one Payment Disputed event, naming the booking
    disputed = bus_events_of(env, payment_id, at_least=1)
    assert [e["detail-type"] for e in disputed] == ["Payment Disputed"]
    assert disputed[0]["detail"]["bookingId"] == record["booking"]["bookingId"]
    assert disputed[0]["detail"]["dispute"]["id"] == record["dispute"]["id"]
    # And the publisher counted one dispute opened (the alarm's metric)
    eventually(lambda: metric_count(env, "DisputeOpened") == opened_before + 1)
    # And when it is closed, its outcome is recorded and published, still once per transition
    closed = stripe_event(env, "charge.dispute.closed", payment_id, outcome="won")
    assert deliver(env, closed) == (200, {"received": True, "outcome": "applied"})
    assert deliver(env, closed) == (200, {"received": True, "outcome": "already_recorded"})
    assert payment_record(env, payment_id)["dispute"]["outcome"] == "won"
    after = bus_events_of(env, payment_id, at_least=1)
    assert [e["detail-type"] for e in after] == ["Dispute Closed"]
    every_event_id = [e["detail"]["eventId"] for e in before + disputed + after]
    assert len(every_event_id) == len(set(every_event_id)) == len(payment_record(env, payment_id)["history"])


def test_an_expiry_of_a_confirmed_bookings_payment_raises_the_uncollected_booking_alarm(saga: Saga) -> None:
    env = saga.env
    payment_id = confirmed_booking(saga)
    before = payment_record(env, payment_id)
    alarms_before = metric_count(env, "HoldExpiredForBooking")
    # When Stripe says the booking's hold expired
    assert deliver(env, stripe_event(env, "charge.expired", payment_id)) == (
        200,
        {"received": True, "outcome": "out_of_order"},
    )
    # Then the ledger keeps the capture, and the alarm's metric is published
    assert payment_record(env, payment_id)["history"] == before["history"]
    eventually(lambda: metric_count(env, "HoldExpiredForBooking") == alarms_before + 1)


def test_an_expired_hold_and_a_failed_refund_are_recorded_and_published(saga: Saga) -> None:
    env = saga.env
    hold = saga.hold()
    assert deliver(env, stripe_event(env, "payment_intent.canceled", hold))[1]["outcome"] == "applied"
    assert payment_record(env, hold)["status"] == "expired"
    # A refund that fails at the bank: the money is owed again
    payment_id = confirmed_booking(saga)
    refunded = signed_client(env).post("refund", {"chargeId": payment_id}, idempotency_key=f"e2e-{payment_id}")
    assert refunded["createdRefund"]["status"] == "succeeded", refunded
    failed = stripe_event(env, "refund.failed", payment_id)
    assert deliver(env, failed)[1]["outcome"] == "applied"
    record = payment_record(env, payment_id)
    assert (record["status"], record["refundedAmount"]) == ("refund_failed", 0)
    types = [e["detail-type"] for e in bus_events_of(env, hold, at_least=2)]
    assert types == ["Payment Authorized", "Hold Expired"]
    assert "Refund Failed" in [e["detail-type"] for e in bus_events_of(env, payment_id, at_least=4)]
