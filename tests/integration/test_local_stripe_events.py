"""Hand-made Stripe events for local mode: their shape, their signature, and localstripe's own webhook registration."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from local_mode import send_event
from local_mode.environment import LOCAL_STRIPE_KEY, LOCAL_WEBHOOK_SECRET, register_webhook
from local_mode.stripe_events import EVENT_TYPES, EventInputError, build_event, signed_headers
from tests.support import localstripe
from tests.support.local_moto import wait_until

NOW = 1_800_000_000
# As localstripe answers them: a hold of 5000 captured for 3000 (the remainder recorded as a refund), refunded 1000.
CHARGE = {
    "id": "ch_abc",
    "object": "charge",
    "amount": 5000,
    "amount_refunded": 2000,
    "captured": True,
    "refunded": False,
    "currency": "eur",
    "payment_intent": "pi_abc",
    "status": "succeeded",
    "created": NOW - 3600,
    "metadata": {"email": "jane@example.com"},
}
INTENT = {"id": "pi_abc", "object": "payment_intent", "amount": 5000, "currency": "eur", "status": "succeeded"}
REFUND = {
    "id": "re_abc",
    "object": "refund",
    "amount": 1000,
    "currency": "eur",
    "charge": "ch_abc",
    "status": "succeeded",
}


OBJECT_OF = {
    "charge.expired": "charge",
    "payment_intent.canceled": "payment_intent",
    "charge.captured": "charge",
    "payment_intent.succeeded": "payment_intent",
    "charge.refunded": "charge",
    "refund.failed": "refund",
    "charge.refund.updated": "refund",
    "refund.updated": "refund",
    "charge.dispute.created": "dispute",
    "charge.dispute.updated": "dispute",
    "charge.dispute.closed": "dispute",
    "radar.early_fraud_warning.created": "radar.early_fraud_warning",
}


def event(event_type: str, **options: Any) -> dict[str, Any]:
    return build_event(event_type, CHARGE, intent=INTENT, refund=REFUND, now=NOW, **options)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_type_has_stripes_envelope(event_type: str) -> None:
    built = event(event_type)
    assert built["id"].startswith("evt_")
    assert built["type"] == event_type
    assert (built["object"], built["livemode"], built["created"]) == ("event", False, NOW)
    assert built["api_version"] == stripe.api_version
    assert (built["pending_webhooks"], built["request"]) == (1, {"id": None, "idempotency_key": None})
    assert set(built["data"]) == {"object"}
    assert built["data"]["object"]["object"] == OBJECT_OF[event_type]


def test_the_types_are_the_contracts() -> None:
    webhook_events = pytest.importorskip("lambdas.payment_api.webhook_events")
    assert set(EVENT_TYPES) == set(webhook_events.WEBHOOK_EVENT_TYPES)


def test_an_expired_hold_is_uncaptured_and_refunded_in_full() -> None:
    hold = {**CHARGE, "captured": False, "amount_refunded": 0}
    charge = build_event("charge.expired", hold, now=NOW)["data"]["object"]
    assert {key: charge[key] for key in ("id", "object", "payment_intent", "amount", "currency", "status")} == {
        "id": "ch_abc",
        "object": "charge",
        "payment_intent": "pi_abc",
        "amount": 5000,
        "currency": "eur",
        "status": "succeeded",
    }
    assert (charge["captured"], charge["amount_captured"], charge["amount_refunded"], charge["refunded"]) == (
        False,
        0,
        5000,
        True,
    )


def test_captured_and_refunded_charges_carry_the_captured_amount_or_the_one_asked_for() -> None:
    captured = event("charge.captured")["data"]["object"]
    assert (captured["captured"], captured["amount_captured"], captured["amount_refunded"]) == (True, 3000, 0)
    refunded = event("charge.refunded")["data"]["object"]
    assert (refunded["amount_captured"], refunded["amount_refunded"], refunded["refunded"]) == (3000, 3000, True)
    partly = event("charge.refunded", amount=1200)["data"]["object"]
    assert (partly["amount_refunded"], partly["refunded"]) == (1200, False)


def test_payment_intent_events() -> None:
    canceled = event("payment_intent.canceled")["data"]["object"]
    assert (canceled["id"], canceled["object"], canceled["status"], canceled["cancellation_reason"]) == (
        "pi_abc",
        "payment_intent",
        "canceled",
        "automatic",
    )
    assert (canceled["amount"], canceled["amount_received"], canceled["amount_capturable"]) == (5000, 0, 0)
    assert (canceled["currency"], canceled["latest_charge"]) == ("eur", "ch_abc")
    succeeded = event("payment_intent.succeeded")["data"]["object"]
    assert (succeeded["status"], succeeded["amount_received"], succeeded["cancellation_reason"]) == (
        "succeeded",
        3000,
        None,
    )
    with pytest.raises(EventInputError, match="needs a PaymentIntent"):
        build_event("payment_intent.canceled", {**CHARGE, "payment_intent": None})


@pytest.mark.parametrize("event_type", ["refund.failed", "refund.updated", "charge.refund.updated"])
def test_refund_events_carry_a_failed_refund(event_type: str) -> None:
    refund = event(event_type)["data"]["object"]
    assert refund == {
        "id": "re_abc",
        "object": "refund",
        "amount": 1000,
        "currency": "eur",
        "charge": "ch_abc",
        "payment_intent": "pi_abc",
        "status": "failed",
        "failure_reason": "lost_or_stolen_card",
        "created": NOW,
        "metadata": {},
    }
    with pytest.raises(EventInputError, match="needs a refund"):
        build_event(event_type, CHARGE, intent=INTENT)


def test_dispute_events_follow_one_dispute_through_its_statuses() -> None:
    disputes = [event(t)["data"]["object"] for t in ("charge.dispute.created", "charge.dispute.updated")]
    disputes.append(event("charge.dispute.closed")["data"]["object"])
    won = event("charge.dispute.closed", outcome="won", amount=2000)["data"]["object"]
    assert {dispute["id"] for dispute in [*disputes, won]} == {"dp_abc"}
    assert [dispute["status"] for dispute in [*disputes, won]] == ["needs_response", "under_review", "lost", "won"]
    created = disputes[0]
    assert (created["object"], created["charge"], created["payment_intent"], created["reason"]) == (
        "dispute",
        "ch_abc",
        "pi_abc",
        "fraudulent",
    )
    assert (created["amount"], won["amount"], created["currency"]) == (3000, 2000, "eur")
    assert created["evidence_details"] == {
        "due_by": NOW + 7 * 86400,
        "has_evidence": False,
        "past_due": False,
        "submission_count": 0,
    }
    assert created["created"] == NOW


def test_an_early_fraud_warning() -> None:
    warning = event("radar.early_fraud_warning.created")["data"]["object"]
    assert warning == {
        "id": "issfr_abc",
        "object": "radar.early_fraud_warning",
        "charge": "ch_abc",
        "payment_intent": "pi_abc",
        "fraud_type": "made_with_stolen_card",
        "actionable": True,
        "created": NOW,
        "livemode": False,
    }


def test_unknown_types_and_outcomes_are_refused() -> None:
    with pytest.raises(EventInputError, match="unsupported event type"):
        build_event("customer.created", CHARGE)
    with pytest.raises(EventInputError, match="outcome"):
        build_event("charge.dispute.closed", CHARGE, outcome="maybe")


def test_the_signature_is_one_stripe_accepts() -> None:
    payload = json.dumps(event("charge.dispute.created"))
    headers = signed_headers(payload, LOCAL_WEBHOOK_SECRET)
    assert stripe.WebhookSignature.verify_header(payload, headers["Stripe-Signature"], LOCAL_WEBHOOK_SECRET)
    parsed = stripe.Webhook.construct_event(payload, headers["Stripe-Signature"], LOCAL_WEBHOOK_SECRET)
    assert parsed["type"] == "charge.dispute.created"
    ten_minutes_ago = int(time.time()) - 600
    old = signed_headers(payload, LOCAL_WEBHOOK_SECRET, timestamp=ten_minutes_ago)["Stripe-Signature"]
    assert old.startswith(f"t={ten_minutes_ago},v1=")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, old, LOCAL_WEBHOOK_SECRET, tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, headers["Stripe-Signature"], "whsec_other")


class Receiver:
    """Stands for the API's webhook route: keeps each POST's headers and body, answers 200."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append((dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"received": true}')

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/Prod/webhooks/stripe"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]

    def hand_made(self) -> list[tuple[dict[str, str], bytes]]:
        """What ``make local-event`` sent (not localstripe's own ``payment_intent.succeeded``, which a webhook an
        earlier test registered on the shared localstripe may bring)."""
        return [(h, body) for h, body in self.received if json.loads(body)["type"] != "payment_intent.succeeded"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


def stripe_post(localstripe_url: str, path: str, data: dict[str, Any]) -> dict[str, Any]:
    response = localstripe.post(localstripe_url, path, data, key=LOCAL_STRIPE_KEY)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def captured_intent(localstripe_url: str, amount: int, captured: int) -> dict[str, Any]:
    intent = stripe_post(
        localstripe_url,
        "payment_intents",
        {
            "amount": amount,
            "currency": "eur",
            "payment_method": "pm_card_visa",
            "capture_method": "manual",
            "confirm": "true",
        },
    )
    return stripe_post(localstripe_url, f"payment_intents/{intent['id']}/capture", {"amount_to_capture": captured})


def test_localstripe_delivers_the_registered_types_signed_with_the_local_secret(
    localstripe_url: str, receiver: Receiver
) -> None:
    register_webhook(localstripe_url, url=receiver.url, secret=LOCAL_WEBHOOK_SECRET)
    # A customer (customer.created is not one of the service's types) and a capture (payment_intent.succeeded is)
    stripe_post(localstripe_url, "customers", {"email": "jane@example.com"})
    intent = captured_intent(localstripe_url, 5000, 5000)
    wait_until(lambda: any(e["data"]["object"]["id"] == intent["id"] for e in receiver.events()), what="the webhook")
    assert {e["type"] for e in receiver.events()} == {"payment_intent.succeeded"}
    headers, body = receiver.received[-1]
    assert stripe.WebhookSignature.verify_header(body.decode(), headers["Stripe-Signature"], LOCAL_WEBHOOK_SECRET)


def test_make_local_event_posts_a_signed_event_built_from_localstripes_payment(
    localstripe_url: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a PaymentIntent captured for 3000 of 5000 at localstripe, then refunded 2000 (refund re_...; the released
    # remainder is no refund, as at Stripe)
    intent = captured_intent(localstripe_url, 5000, 3000)
    stripe_post(localstripe_url, "refunds", {"payment_intent": intent["id"], "amount": 2000})
    monkeypatch.setenv("STRIPE_PORT", localstripe_url.rsplit(":", 1)[1])
    monkeypatch.setenv("API_PORT", str(receiver.port))
    # When a failed refund and a dispute are sent for it
    assert send_event.main(["--type", "refund.failed", "--payment", intent["id"]]) == 0
    assert send_event.main(["--type", "charge.dispute.created", "--payment", intent["id"], "--amount", "2500"]) == 0
    # Then both arrive signed with the local secret, about the PaymentIntent's charge and its latest refund
    sent = receiver.hand_made()
    for headers, body in sent:
        assert stripe.WebhookSignature.verify_header(body.decode(), headers["Stripe-Signature"], LOCAL_WEBHOOK_SECRET)
    refund, dispute = (json.loads(body)["data"]["object"] for _, body in sent)
    charge_id = intent["latest_charge"]["id"]
    assert (refund["id"][:3], refund["charge"], refund["payment_intent"], refund["amount"]) == (
        "re_",
        charge_id,
        intent["id"],
        2000,
    )
    assert (dispute["id"], dispute["charge"], dispute["amount"]) == (f"dp_{charge_id[3:]}", charge_id, 2500)
    assert '200 {"received": true}' in capsys.readouterr().out
    # And an unknown payment is an error, not a request
    assert send_event.main(["--type", "charge.captured", "--payment", "ch_unknown"]) == 2
    assert len(receiver.hand_made()) == 2
