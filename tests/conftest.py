"""Test tiers by folder: tests/unit (sockets off), tests/integration, tests/e2e. Every test belongs to one tier."""

from __future__ import annotations

import os
from pathlib import Path

# The X-Ray SDK (loaded by the payment functions' Powertools Tracer) opens its UDP emitter socket on first import:
# importing it here, while sockets are still allowed, lets sockets-off unit tests import the handlers.
import aws_xray_sdk.core  # noqa: F401
import pytest

# Safe defaults for every test: fake AWS credentials (nothing can reach a real account), Powertools as in Lambda
# without X-Ray, and the functions' configuration.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "POWERTOOLS_SERVICE_NAME": "payment",
        "POWERTOOLS_METRICS_NAMESPACE": "ServerlessAirline",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "STRIPE_SECRET_KEY_PARAMETER": "/test/service/payment/stripe/secretKey",
        "STRIPE_WEBHOOK_SECRET_PARAMETER": "/test/service/payment/stripe/webhookSecret",
        "PAYMENT_EVENT_BUS_NAME": "payment-test",
        "CORS_ALLOWED_ORIGINS": "http://127.0.0.1:8080,https://shop.example",
        "MAX_CHARGE_AMOUNTS": '{"eur": 1000000, "jpy": 100000000, "usd": 1000000}',
        "IDEMPOTENCY_TABLE_NAME": "test-idempotency",
        "LEDGER_TABLE_NAME": "test-ledger",
        "LEDGER_HOLDS_INDEX_NAME": "holds-by-age",
        "ABANDONED_HOLD_MINUTES": "30",
        # Collect and Refund build their client at import (init), from this; tests point it elsewhere as needed.
        "PAYMENT_API_URL": "https://payment-api.test/Prod/",
    }
)
for variable in ("AWS_PROFILE", "STRIPE_API_BASE"):
    os.environ.pop(variable, None)

pytest_plugins = ["tests.fixtures.payment_api"]

TESTS_ROOT = Path(__file__).resolve().parent
TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        relative = Path(str(item.path)).resolve().relative_to(TESTS_ROOT)
        tier = relative.parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: tests live under tests/{{{','.join(TIERS)}}}/")
        item.add_marker(getattr(pytest.mark, tier))
        if tier == "unit":
            item.add_marker(pytest.mark.disable_socket)
