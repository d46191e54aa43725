#!/usr/bin/env python3
"""CDK entry point: ``Payment-<env>`` and ``Booking-<env>`` for the environment (``-c env=NAME``, AWS_BRANCH, git)."""

import sys

from aws_cdk import App

from payment_stack.app_builder import build_stacks
from payment_stack.config import ConfigError
from payment_stack.environment import EnvironmentNameError


def main() -> None:
    app = App()
    try:
        build_stacks(app)
    except (EnvironmentNameError, ConfigError) as error:
        sys.exit(f"error: {error}")
    app.synth()


if __name__ == "__main__":
    main()
