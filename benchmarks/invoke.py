"""One function's first and warm invocations in a fresh process, as in a Lambda container (run by ``run.py``).

``python -m benchmarks.invoke <function> --invocations N --run-id ID --stub-url URL --aws-url URL --output FILE``
with the function's Lambda-like environment. It imports the handler (the init), invokes it once (the first
invocation), then ``N`` times more (warm), each with its own event and idempotency key so every invocation does the
real work, and an unsampled X-Ray trace header as Lambda sets one per invocation. The payment API's invocations are
``POST /capture`` of ``payment_id(run_id, index)`` as Collect sends it (fare, booking); the parent has recorded
each of those payments in the ledger as an authorised hold beforehand (``ledger_records``), so each capture takes
the normal path: ledger GetItem, one Stripe call, ledger UpdateItem (no back-fill). Each invocation's cost is its
wall time minus the time blocked on sockets (``netclock``): the stub servers' work and the loopback round trips.
Logs and EMF metrics go to stdout as in Lambda (the parent discards them). Writes a JSON summary to FILE.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.netclock import CLOCK

FARE_AMOUNT = 12500  # what benchmarks.stub_server holds per payment
FARE = {"amount": FARE_AMOUNT, "currency": "eur"}  # the booking's fare, as Reserve Flight reads it


def _hex(size: int) -> str:
    return os.urandom(size).hex()


@dataclass
class LambdaContext:
    """What the Lambda runtime passes as ``context`` (the attributes Powertools reads)."""

    function_name: str
    memory_limit_in_mb: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{os.environ['AWS_REGION']}:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 12_000


def payment_id(run_id: str, index: int) -> str:
    """The charge captured (API) or named in the booking state (Collect, Refund) by invocation ``index``."""
    return f"ch_Bench{run_id}{index:06d}"


def capture_body(charge_id: str, index: int, run_id: str) -> dict[str, Any]:
    """What Collect sends to ``/capture`` (``lambdas/shared/payment_task.py``): the fare and the booking."""
    booking = booking_state(index, run_id)
    return {
        "chargeId": charge_id,
        "amount": FARE["amount"],
        "currency": FARE["currency"],
        "bookingId": booking["bookingId"],
        "customerId": booking["customerId"],
        "execution": booking["name"],
    }


def api_event(route: str, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    """``POST /<route>`` as API Gateway's REST proxy integration sends it, signed caller, the given idempotency key."""
    headers = {
        "Accept": "*/*",
        "Authorization": "AWS4-HMAC-SHA256 Credential=ASIABENCH/20260101/eu-west-1/execute-api/aws4_request, ...",
        "Content-Type": "application/json",
        "Host": "abcdef1234.execute-api.eu-west-1.amazonaws.com",
        "Idempotency-Key": idempotency_key,
        "User-Agent": "python-requests/2.34.2",
        "X-Amz-Date": "20260101T000000Z",
        "X-Amz-Security-Token": "benchmark-fake-session-token",
        "X-Amzn-Trace-Id": f"Root=1-{_hex(4)}-{_hex(12)}",
        "X-Forwarded-For": "127.0.0.1",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    request_id = str(uuid.uuid4())
    return {
        "resource": f"/{route}",
        "path": f"/{route}",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "abc123",
            "resourcePath": f"/{route}",
            "httpMethod": "POST",
            "extendedRequestId": request_id,
            "requestTime": "01/Jan/2026:00:00:00 +0000",
            "path": f"/Prod/{route}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "Prod",
            "domainPrefix": "abcdef1234",
            "requestTimeEpoch": 1_767_225_600_000,
            "requestId": request_id,
            "identity": {
                "sourceIp": "127.0.0.1",
                "userAgent": "python-requests/2.34.2",
                "accountId": "123456789012",
                "caller": "AROABENCH:payment-collect-bench",
                "userArn": "arn:aws:sts::123456789012:assumed-role/collect/payment-collect-bench",
            },
            "domainName": "abcdef1234.execute-api.eu-west-1.amazonaws.com",
            "apiId": "abcdef1234",
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def booking_state(index: int, run_id: str) -> dict[str, Any]:
    """The booking state machine's state when it runs Collect or Refund (with the fare Reserve Flight read)."""
    return {
        "outboundFlightId": "FL-1001",
        "customerId": f"cus-{index}",
        "chargeId": payment_id(run_id, index),
        "fare": dict(FARE),
        "name": f"booking-{run_id}-{index}",
        "createdAt": "2026-01-01T10:00:00Z",
        "bookingId": f"booking-{run_id}-{index}",
        "seatReservation": {},
        "bookingReservation": {},
    }


def check_answer(function: str, answer: Any) -> None:
    """Every invocation must succeed, otherwise the numbers would time an error path."""
    if function == "payment_api":
        ok = isinstance(answer, dict) and answer.get("statusCode") == 200
        captured = json.loads(answer.get("body") or "{}").get("capturedCharge") if ok else None
        ok = isinstance(captured, dict) and captured.get("amount_captured") == FARE_AMOUNT
    elif function == "collect":
        ok = isinstance(answer, dict) and answer.get("price") == FARE_AMOUNT
    else:
        ok = isinstance(answer, dict) and str(answer.get("refundId", "")).startswith("re_")
    if not ok:
        raise RuntimeError(f"{function} did not succeed: {answer!r}")


class Invoker:
    def __init__(self, function: str, module: ModuleType, run_id: str) -> None:
        self.function = function
        self.module = module
        self.run_id = run_id
        self.context_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.memory = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])

    def event(self, index: int) -> dict[str, Any]:
        if self.function != "payment_api":
            return booking_state(index, self.run_id)
        charge_id = payment_id(self.run_id, index)
        return api_event("capture", capture_body(charge_id, index, self.run_id), f"bench-{self.run_id}-{index}")

    def invoke(self, index: int) -> tuple[int, int]:
        """(wall ns, network ns) of one invocation."""
        event = self.event(index)
        context = LambdaContext(function_name=self.context_name, memory_limit_in_mb=self.memory)
        # Lambda sets a new trace header per invocation; Sampled=0, so the X-Ray SDK runs but sends nothing.
        os.environ["_X_AMZN_TRACE_ID"] = f"Root=1-{_hex(4)}-{_hex(12)};Parent={_hex(8)};Sampled=0"
        net_before = CLOCK.total_ns
        started = time.perf_counter_ns()
        answer = self.module.handler(event, context)
        wall = time.perf_counter_ns() - started
        net = CLOCK.total_ns - net_before
        check_answer(self.function, answer)
        return wall, net


def get_json(url: str) -> Any:
    import urllib.request  # noqa: PLC0415 - only after the first invocation, so it cannot warm the cold path

    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - a fixed 127.0.0.1 URL
        return json.load(response)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("function", choices=["payment_api", "collect", "refund"])
    parser.add_argument("--invocations", type=int, required=True)
    parser.add_argument("--connection-window", type=int, default=100)
    parser.add_argument("--run-id", required=True, help="names the payments (payment_id): the parent recorded them")
    parser.add_argument("--stub-url", required=True)
    parser.add_argument("--aws-url", required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)

    CLOCK.install()
    started = time.perf_counter_ns()
    module = importlib.import_module(f"lambdas.{args.function}.handler")
    import_ns = time.perf_counter_ns() - started
    invoker = Invoker(args.function, module, args.run_id)

    first_wall, first_net = invoker.invoke(0)
    snapshots: dict[str, Any] = {
        "stub_after_first": get_json(f"{args.stub_url}/__stats")["ports"],
        "aws_after_first": get_json(f"{args.aws_url}/__bench/stats")["calls"],
    }
    warm: list[tuple[int, int]] = []
    window = min(args.connection_window, args.invocations)
    warm_started = time.monotonic()
    for index in range(1, args.invocations + 1):
        warm.append(invoker.invoke(index))
        if index == window:
            snapshots["stub_after_window"] = get_json(f"{args.stub_url}/__stats")["ports"]
    warm_seconds = time.monotonic() - warm_started
    snapshots["stub_after_warm"] = get_json(f"{args.stub_url}/__stats")["ports"]
    snapshots["aws_after_warm"] = get_json(f"{args.aws_url}/__bench/stats")["calls"]
    summary = {
        "function": args.function,
        "import_ms": import_ns / 1e6,
        "first_wall_ms": first_wall / 1e6,
        "first_net_ms": first_net / 1e6,
        "warm_wall_ms": [wall / 1e6 for wall, _ in warm],
        "warm_net_ms": [net / 1e6 for _, net in warm],
        "warm_seconds": warm_seconds,
        "connection_window": window,
        **snapshots,
    }
    args.output.write_text(json.dumps(summary))


if __name__ == "__main__":
    main()
