"""Builds the CDK app's stacks for the environment the synth is for (shared by ``app.py`` and the tests)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import App, Environment

from payment_stack.booking.stack import BookingStack
from payment_stack.compliance import enable_compliance_checks
from payment_stack.config import load_config
from payment_stack.environment import ENV_CONTEXT_KEY, resolve_env_name
from payment_stack.payment.stack import PaymentStack


@dataclass(frozen=True)
class AppStacks:
    """The stacks of one environment: ``Payment-<env>`` and ``Booking-<env>`` (deployed after it)."""

    payment: PaymentStack
    booking: BookingStack


def build_stacks(app: App, *, environ: Mapping[str, str] = os.environ) -> AppStacks:
    """Add ``Payment-<env>`` and ``Booking-<env>`` to ``app``, with the cdk-nag packs checking every synth.

    Raises ``EnvironmentNameError`` or ``ConfigError`` with a clear message. A synth of ``app`` fails on any
    finding of the AwsSolutions or PCI DSS 3.2.1 packs not accepted in ``payment_stack.suppressions``.
    """
    env_name = resolve_env_name(context_value=app.node.try_get_context(ENV_CONTEXT_KEY), environ=environ)
    config = load_config(env_name=env_name, context=app.node.try_get_context)
    deploy_env = Environment(account=environ.get("CDK_DEFAULT_ACCOUNT"), region=environ.get("CDK_DEFAULT_REGION"))
    payment = PaymentStack(app, config.stack_name, config=config, env=deploy_env)
    booking = BookingStack(app, config.booking_stack_name, config=config, env=deploy_env)
    # The booking workflow reads the Collect/Refund ARNs from the SSM parameters the payment stack creates.
    booking.add_stack_dependency(payment, "Booking reads the Collect and Refund ARNs from Payment's SSM parameters")
    enable_compliance_checks(app, payment=payment, booking=booking)
    return AppStacks(payment=payment, booking=booking)


def build_app(app: App, *, environ: Mapping[str, str] = os.environ) -> PaymentStack:
    """Add both stacks of the environment to ``app`` (``build_stacks``) and return ``Payment-<env>``."""
    return build_stacks(app, environ=environ).payment
