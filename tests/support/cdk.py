"""Building the CDK app in tests the way the CDK CLI does: with cdk.json's context, optionally without bundling."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from aws_cdk import App, CfnElement, Stack
from constructs import IConstruct

from payment_stack.app_builder import build_app
from payment_stack.payment.stack import PaymentStack

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CDK_JSON_CONTEXT: dict[str, Any] = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
DEFAULT_ENV = "feature-x"  # a branch environment: cdk.json's defaults, nothing prod-only


def make_app(*, bundling: bool = False, outdir: str | None = None, **context: Any) -> App:
    """An App with cdk.json's context plus ``context``; bundling is skipped unless asked for (it needs PyPI)."""
    merged = {**CDK_JSON_CONTEXT, **context}
    if not bundling:
        merged["aws:cdk:bundling-stacks"] = []
    return App(context=merged, outdir=outdir)


def payment_stack_for(env: str = DEFAULT_ENV, **context: Any) -> PaymentStack:
    """``Payment-<env>`` as the app builds it from cdk.json's context plus ``context`` (bundling skipped), with no
    variables read from the test's environment."""
    return build_app(make_app(env=env, **context), environ={})


def logical_id(construct: IConstruct) -> str:
    """The logical id its stack gives the CloudFormation resource of ``construct`` (its default child)."""
    return Stack.of(construct).get_logical_id(cast(CfnElement, construct.node.default_child))
