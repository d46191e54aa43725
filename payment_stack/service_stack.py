"""What every stack of one environment of the payment service starts with: its name, its tags and its ``config``."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnOutput, Environment, Stack, Tags
from constructs import Construct

from payment_stack.config import PaymentConfig


class ServiceStack(Stack):
    """A stack of the environment ``config`` is for, named ``stack_name`` and tagged with ``tags``: the stack itself
    and every taggable resource in its template. Exposes ``config``; ``add_outputs`` adds the stack's outputs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PaymentConfig,
        stack_name: str,
        tags: Mapping[str, str],
        env: Environment | None,
    ) -> None:
        super().__init__(scope, construct_id, stack_name=stack_name, tags=dict(tags), env=env)
        for key, value in tags.items():
            Tags.of(self).add(key, value)
        self.config = config

    def add_outputs(self, outputs: Mapping[str, tuple[str, str]]) -> None:
        """One ``CfnOutput`` per entry of ``outputs``: output id -> (value, description)."""
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)


def service_tags(config: PaymentConfig) -> dict[str, str]:
    """The tags of every resource of the environment's stacks (``Booking-<env>`` adds ``component``)."""
    return {"service": "payment", "env": config.env_name}
