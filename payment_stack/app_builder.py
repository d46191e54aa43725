"""Builds the CDK app's stacks for the environment the synth is for (shared by ``app.py`` and the tests)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from aws_cdk import App, Environment

from payment_stack.config import load_config
from payment_stack.environment import ENV_CONTEXT_KEY, resolve_env_name
from payment_stack.payment_service_stack import PaymentStack


def build_app(app: App, *, environ: Mapping[str, str] = os.environ) -> PaymentStack:
    """Add ``Payment-<env>`` to ``app``. Raises ``EnvironmentNameError`` or ``ConfigError`` with a clear message."""
    env_name = resolve_env_name(context_value=app.node.try_get_context(ENV_CONTEXT_KEY), environ=environ)
    config = load_config(env_name=env_name, context=app.node.try_get_context)
    deploy_env = Environment(account=environ.get("CDK_DEFAULT_ACCOUNT"), region=environ.get("CDK_DEFAULT_REGION"))
    return PaymentStack(app, config.stack_name, config=config, env=deploy_env)
