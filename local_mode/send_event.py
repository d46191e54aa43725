"""``make local-event TYPE=<type> PAYMENT=<ch_/pi_ id> [AMOUNT=<n>]``: a signed Stripe event to the running local mode.

Reads the payment from the running localstripe (a PaymentIntent's charge is its ``latest_charge``), builds the event
(``local_mode.stripe_events``), signs it with local mode's webhook secret and posts it to the API's webhook route,
as Stripe would. Prints the answer's status and body; exits 0 for a 2xx answer, 1 for any other answer, 2 when the
event cannot be built or sent. Ports come from the environment as for ``make local`` (API_PORT, STRIPE_PORT).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import requests

from local_mode.environment import LOCAL_STRIPE_KEY, LOCAL_WEBHOOK_SECRET, LocalPorts
from local_mode.stripe_events import DISPUTE_OUTCOMES, EVENT_TYPES, EventInputError, build_event, signed_headers

TIMEOUT_SECONDS = 30


class Localstripe:
    """GET requests to the running localstripe with local mode's key; ``EventInputError`` for an unknown object."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._headers = {"Authorization": f"Bearer {LOCAL_STRIPE_KEY}"}

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = requests.get(f"{self._url}/v1/{path}", params=params, headers=self._headers, timeout=10)
        if response.status_code == 404:  # noqa: PLR2004
            raise EventInputError(f"localstripe has no {path} (is this local mode's payment?)")
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer


def payment_objects(
    stripe: Localstripe, payment_id: str, *, refund_id: str | None
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    """(charge, PaymentIntent or None, refund or None) of the payment, as localstripe holds them."""
    intent: dict[str, Any] | None = None
    if payment_id.startswith("pi_"):
        intent = stripe.get(f"payment_intents/{payment_id}")
        latest = intent.get("latest_charge")
        if not latest:
            raise EventInputError(f"{payment_id} has no charge yet (it was never confirmed)")
        charge = latest if isinstance(latest, dict) else stripe.get(f"charges/{latest}")
    elif payment_id.startswith("ch_"):
        charge = stripe.get(f"charges/{payment_id}")
        if charge.get("payment_intent"):
            intent = stripe.get(f"payment_intents/{charge['payment_intent']}")
    else:
        raise EventInputError(f"PAYMENT is a charge (ch_...) or PaymentIntent (pi_...) id, not {payment_id!r}")
    if refund_id is not None:
        refund: dict[str, Any] | None = stripe.get(f"refunds/{refund_id}")
    else:
        refunds = stripe.get("refunds", {"charge": charge["id"], "limit": 100})["data"]
        # The latest one; among refunds of the same second, the last listed.
        refund = (
            max(enumerate(refunds), key=lambda item: (item[1].get("created") or 0, item[0]))[1] if refunds else None
        )
    return charge, intent, refund


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--type", required=True, choices=EVENT_TYPES, help="the Stripe event type")
    parser.add_argument("--payment", required=True, help="the payment's id (ch_... or pi_...)")
    parser.add_argument("--amount", type=int, help="the amount the event moves (default: see stripe_events.py)")
    parser.add_argument("--refund", help="the refund a refund.* event is about (default: the charge's latest)")
    parser.add_argument("--outcome", choices=DISPUTE_OUTCOMES, default="lost", help="a closed dispute's outcome")
    args = parser.parse_args(argv)
    ports = LocalPorts.from_environ(os.environ)
    stripe = Localstripe(f"http://127.0.0.1:{ports.stripe}")
    webhook_url = f"http://127.0.0.1:{ports.api}/Prod/webhooks/stripe"
    try:
        charge, intent, refund = payment_objects(stripe, args.payment.strip(), refund_id=args.refund)
        event = build_event(args.type, charge, intent=intent, refund=refund, amount=args.amount, outcome=args.outcome)
        payload = json.dumps(event)
        print(f"POST {webhook_url}  {event['type']} {event['id']} ({event['data']['object']['id']})", flush=True)
        response = requests.post(
            webhook_url,
            data=payload.encode(),
            headers=signed_headers(payload, LOCAL_WEBHOOK_SECRET),
            timeout=TIMEOUT_SECONDS,
        )
    except EventInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except requests.RequestException as error:
        print(f"error: {error} (is local mode running? make local)", file=sys.stderr)
        return 2
    print(f"{response.status_code} {response.text}")
    return 0 if response.ok else 1


if __name__ == "__main__":
    sys.exit(main())
