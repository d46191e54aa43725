"""The ``Payment-<env>`` stack: composes the payment service's constructs for one environment."""

from __future__ import annotations

from aws_cdk import Environment, Stack, Tags
from constructs import Construct

from payment_stack.config import PaymentConfig


class PaymentStack(Stack):
    """Everything one environment of the payment service deploys, configured only through ``config``."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: PaymentConfig, env: Environment | None = None
    ) -> None:
        super().__init__(scope, construct_id, stack_name=config.stack_name, tags=service_tags(config), env=env)
        for key, value in service_tags(config).items():
            Tags.of(self).add(key, value)
        self.config = config


def service_tags(config: PaymentConfig) -> dict[str, str]:
    return {"service": "payment", "env": config.env_name}
