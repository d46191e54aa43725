"""Shared set-up for the payment API's sockets-off unit tests."""

from __future__ import annotations

import io
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests
import stripe
from moto import mock_aws

from lambdas.payment_api.service import PaymentService
from lambdas.payment_api.settings import STRIPE_CONNECT_TIMEOUT_SECONDS, STRIPE_READ_TIMEOUT_SECONDS
from lambdas.payment_api.stripe_provider import StripeProvider
from tests.fixtures.payment_api import LEDGER_TABLE, ApiClient, create_idempotency_table, create_ledger_table
from tests.support.stripe_stub import UNIT_STRIPE_KEY, FakeStripeHttp

IDEMPOTENCY_TABLE = "test-idempotency"
STRIPE_KEY_PARAMETER = "/test/service/payment/stripe/secretKey"  # tests/conftest.py's STRIPE_SECRET_KEY_PARAMETER


@pytest.fixture(scope="module")
def _moto_for_module() -> Iterator[tuple[Any, Any]]:
    """One moto mock per test module: moto gives each mock a fresh boto3 session, and every client then reloads
    its service model (about 0.1 s a test); ``aws`` below resets the state between tests instead."""
    with mock_aws():
        create_idempotency_table(IDEMPOTENCY_TABLE)
        create_ledger_table()
        yield boto3.client("dynamodb"), boto3.client("ssm")


@pytest.fixture
def aws(_moto_for_module: tuple[Any, Any]) -> Iterator[None]:
    """Overrides the shared ``aws`` fixture: the same moto state (empty idempotency and ledger tables, no Stripe
    key in SSM: ``ssm_wired_api`` removes the one it puts) at the start of every test, without a new mock each time."""
    dynamodb, _ = _moto_for_module
    yield
    tables = dynamodb.list_tables()["TableNames"]
    if IDEMPOTENCY_TABLE not in tables:
        create_idempotency_table(IDEMPOTENCY_TABLE)
    if LEDGER_TABLE not in tables:
        create_ledger_table()
    for table in (IDEMPOTENCY_TABLE, LEDGER_TABLE):
        for item in dynamodb.scan(TableName=table, ProjectionExpression="id")["Items"]:
            dynamodb.delete_item(TableName=table, Key={"id": item["id"]})


@pytest.fixture
def fake_stripe(monkeypatch: pytest.MonkeyPatch) -> FakeStripeHttp:
    """Stripe's HTTP transport, replaced: ``StripeProvider`` gets this client instead of a ``RequestsClient``."""
    http = FakeStripeHttp()

    def requests_client(*, timeout: Any, session: requests.Session) -> FakeStripeHttp:
        assert session.trust_env is False  # no proxy or .netrc lookups per request
        http.timeouts.append(timeout)
        return http

    monkeypatch.setattr(stripe, "RequestsClient", requests_client)
    return http


@pytest.fixture
def stripe_api_base() -> str | None:
    """The ``api_base`` ``stripe_backed_api`` is built with: Stripe's own URL (a module may override this)."""
    return None


@pytest.fixture
def stripe_backed_api(
    api_module: ModuleType,
    fake_stripe: FakeStripeHttp,
    stripe_api_base: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> ApiClient:
    """The real handler and StripeProvider (as ``payment_service`` builds it, with a stub key source and
    ``stripe_api_base``), Stripe's HTTP answered offline by ``fake_stripe``."""
    provider = StripeProvider(
        key_source=lambda: UNIT_STRIPE_KEY,
        api_base=stripe_api_base,
        connect_timeout=STRIPE_CONNECT_TIMEOUT_SECONDS,
        read_timeout=STRIPE_READ_TIMEOUT_SECONDS,
    )
    service = PaymentService(provider, api_module.payment_ledger)
    monkeypatch.setattr(api_module, "payment_service", lambda: service)
    return ApiClient(api_module)


@pytest.fixture
def ssm_wired_api(
    api_module: ModuleType, fake_stripe: FakeStripeHttp, _moto_for_module: tuple[Any, Any]
) -> Iterator[ApiClient]:
    """The real handler with all of its own wiring: the Stripe key read from (moto) SSM, Stripe's HTTP offline."""
    _, ssm = _moto_for_module
    ssm.put_parameter(Name=STRIPE_KEY_PARAMETER, Value=UNIT_STRIPE_KEY, Type="SecureString")
    yield ApiClient(api_module)
    ssm.delete_parameter(Name=STRIPE_KEY_PARAMETER)


@pytest.fixture
def powertools_log(api_module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What the handler's Powertools Logger writes (JSON lines, as CloudWatch gets them), for this test only."""
    buffer = io.StringIO()
    monkeypatch.setattr(api_module.logger.registered_handler, "stream", buffer)
    return buffer
