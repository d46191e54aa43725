"""The local servers a benchmark run needs, as child processes on 127.0.0.1, always stopped on the way out."""

from __future__ import annotations

import json
import select
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from benchmarks.functions import IDEMPOTENCY_TABLE, PROJECT_ROOT, REGION, STRIPE_KEY_PARAMETER, STRIPE_TEST_KEY, python
from benchmarks.ledger_records import create_ledger_table, dynamodb_client

START_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class LocalServers:
    stub_url: str  # Stripe and the payment API (benchmarks.stub_server)
    aws_url: str  # moto (benchmarks.aws_server)

    def aws_calls(self) -> dict[str, int]:
        calls: dict[str, int] = get_json(f"{self.aws_url}/__bench/stats")["calls"]
        return calls

    def stub_requests(self) -> list[str]:
        """``"METHOD path"`` of every request the stub served so far, in order."""
        requests: list[str] = get_json(f"{self.stub_url}/__stats")["requests"]
        return requests


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own 127.0.0.1 servers
        return json.load(response)


@contextmanager
def _server(module: str) -> Iterator[str]:
    """Start ``python -m <module>``, read the port it printed, yield its URL; terminate it afterwards."""
    process = subprocess.Popen(
        [python(), "-m", module],
        cwd=PROJECT_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_SECONDS)
        line = process.stdout.readline().strip() if ready else ""  # the port it bound; EOF if it died
        if not line.isdigit():
            raise RuntimeError(f"{module} did not start (exit code {process.poll()})")
        yield f"http://127.0.0.1:{line}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _seed_aws(aws_url: str) -> None:
    """What exists in the account before the functions run: the Stripe key, the idempotency and ledger tables."""
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
    ssm = boto3.client("ssm", endpoint_url=aws_url, **credentials)  # type: ignore[call-overload]
    ssm.put_parameter(Name=STRIPE_KEY_PARAMETER, Value=STRIPE_TEST_KEY, Type="SecureString")
    dynamodb = dynamodb_client(aws_url)
    create_ledger_table(dynamodb)
    dynamodb.create_table(
        TableName=IDEMPOTENCY_TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@contextmanager
def local_servers() -> Iterator[LocalServers]:
    with ExitStack() as stack:
        stub_url = stack.enter_context(_server("benchmarks.stub_server"))
        aws_url = stack.enter_context(_server("benchmarks.aws_server"))
        _seed_aws(aws_url)
        yield LocalServers(stub_url=stub_url, aws_url=aws_url)
