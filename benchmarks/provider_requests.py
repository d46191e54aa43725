"""Stripe requests per payment API operation: the real handler in a fresh process against the stub (run by ``run.py``).

``python -m benchmarks.provider_requests --stub-url URL --aws-url URL --output FILE`` with the API's Lambda-like
environment. It imports the handler and invokes it, each invocation with its own idempotency key and an unsampled
trace header, for one payment's life as the booking saga drives it:

- ``charge``: ``POST /charge`` with a PaymentMethod (``pm_``: a manual-capture PaymentIntent, confirmed at once),
  which records the hold in the ledger;
- ``capture``: ``POST /capture`` of that recorded hold, as Collect sends it (fare, currency, booking);
- ``refund``: ``POST /refund`` of that recorded capture, as Refund sends it;
- ``release``: ``POST /refund`` of a second recorded hold (made by another ``/charge``, not counted again);
- ``capture_backfill``: ``POST /capture`` of a PaymentIntent the ledger has no record of (information: it is read
  from Stripe and back-filled first, so two requests are expected).

Each count is the requests the stub (as Stripe) served between just before and just after the invocation, read
from its ``/__stats``; the AWS calls of the same invocation (``X-Amz-Target`` counted by ``aws_server``) come along
as information. Writes ``{"operations": {name: {"stripe": [...], "aws": {...}}}}`` to FILE; exits non-zero when an
invocation does not succeed (the count of an error path would mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.invoke import FARE, LambdaContext, api_event, booking_state, capture_body, get_json

OPERATIONS = ("charge", "capture", "refund", "release", "capture_backfill")
# An operation's envelope in the API's 200 answer.
_ENVELOPES = {"charge": "createdCharge", "capture": "capturedCharge", "refund": "createdRefund"}


class Counter:
    def __init__(self, module: ModuleType, stub_url: str, aws_url: str) -> None:
        self.module = module
        self.stub_url = stub_url
        self.aws_url = aws_url
        self.run_id = os.urandom(3).hex()
        self.operations: dict[str, dict[str, Any]] = {}

    def call(self, route: str, body: dict[str, Any], *, counted_as: str | None = None) -> dict[str, Any]:
        """Invoke ``POST /<route>`` once; its answer's envelope. Counted under ``counted_as`` when given."""
        event = api_event(route, body, f"bench-provider-{self.run_id}-{uuid.uuid4().hex[:12]}")
        context = LambdaContext(
            function_name=os.environ["AWS_LAMBDA_FUNCTION_NAME"],
            memory_limit_in_mb=int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]),
        )
        os.environ["_X_AMZN_TRACE_ID"] = f"Root=1-{os.urandom(4).hex()}-{os.urandom(12).hex()};Sampled=0"
        stripe_before = self._stripe_requests()
        aws_before = self._aws_calls()
        answer = self.module.handler(event, context)
        stripe_after = self._stripe_requests()
        aws_after = self._aws_calls()
        envelope = _ENVELOPES[route]
        succeeded = isinstance(answer, dict) and answer.get("statusCode") == 200
        result = json.loads(answer.get("body") or "{}").get(envelope) if succeeded else None
        if not succeeded or not isinstance(result, dict):
            raise RuntimeError(f"POST /{route} ({counted_as or 'setup'}) did not succeed: {answer!r}")
        if counted_as is not None:
            aws = {
                target.split(".")[-1]: count - aws_before.get(target, 0)
                for target, count in aws_after.items()
                if count > aws_before.get(target, 0)
            }
            self.operations[counted_as] = {"stripe": stripe_after[len(stripe_before) :], "aws": aws}
        return result

    def _stripe_requests(self) -> list[str]:
        requests: list[str] = get_json(f"{self.stub_url}/__stats")["requests"]
        return requests

    def _aws_calls(self) -> dict[str, int]:
        calls: dict[str, int] = get_json(f"{self.aws_url}/__bench/stats")["calls"]
        return calls


def _charge_body() -> dict[str, Any]:
    return {"amount": FARE["amount"], "currency": FARE["currency"], "stripeToken": "pm_card_visa"}


def _refund_body(charge_id: str, run_id: str) -> dict[str, Any]:
    """What Refund sends (``lambdas/shared/payment_task.py``): no amount, the booking."""
    booking = booking_state(0, run_id)
    return {
        "chargeId": charge_id,
        "bookingId": booking["bookingId"],
        "customerId": booking["customerId"],
        "execution": booking["name"],
    }


def count_requests(counter: Counter) -> None:
    call, run_id = counter.call, counter.run_id
    hold = call("charge", _charge_body(), counted_as="charge")["id"]
    call("capture", capture_body(hold, 0, run_id), counted_as="capture")
    call("refund", _refund_body(hold, run_id), counted_as="refund")
    second_hold = call("charge", _charge_body())["id"]
    released = call("refund", _refund_body(second_hold, run_id), counted_as="release")
    if released.get("kind") != "hold_released":
        raise RuntimeError(f"the /refund of a recorded hold was not a release: {released!r}")
    unknown = f"pi_BenchUnrecorded{run_id}"
    call("capture", capture_body(unknown, 0, run_id), counted_as="capture_backfill")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stub-url", required=True)
    parser.add_argument("--aws-url", required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)

    from lambdas.payment_api import handler  # noqa: PLC0415 - only here, with the Lambda-like environment set

    counter = Counter(handler, args.stub_url, args.aws_url)
    count_requests(counter)
    args.output.write_text(json.dumps({"operations": counter.operations}))


if __name__ == "__main__":
    main()
