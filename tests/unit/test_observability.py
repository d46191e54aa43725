"""The libraries X-Ray patches in each function are ones the X-Ray SDK supports (a typo would fail every cold
start; tests/integration/test_bundling.py imports each handler with the Tracer on, from its real bundle)."""

from __future__ import annotations

from aws_xray_sdk.core.patcher import SUPPORTED_MODULES

from lambdas.shared.observability import STRIPE_TRACED_MODULES


def test_every_traced_module_is_one_the_xray_sdk_patches() -> None:
    assert set(STRIPE_TRACED_MODULES) <= set(SUPPORTED_MODULES)
