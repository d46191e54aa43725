#!/usr/bin/env python3
"""CDK entry point: one payment stack for the environment given by ``-c env=NAME``, ``AWS_BRANCH`` or git."""

import sys

from aws_cdk import App

from payment_stack.app_builder import build_app
from payment_stack.config import ConfigError
from payment_stack.environment import EnvironmentNameError


def main() -> None:
    app = App()
    try:
        build_app(app)
    except (EnvironmentNameError, ConfigError) as error:
        sys.exit(f"error: {error}")
    app.synth()


if __name__ == "__main__":
    main()
