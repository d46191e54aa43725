#!/usr/bin/env python3
"""CDK entry point of ``PaymentDelivery`` (GitHub's OIDC provider and the workflows' roles), once per account:

    cdk --app ".venv/bin/python delivery_app.py" deploy -c repo=owner/name [-c defaultBranch=main]
        [-c existingOidcProvider=true]

or ``make deploy-delivery REPO=owner/name``. Separate from ``app.py``: the service's stacks are per environment.
"""

import sys

from aws_cdk import App

from payment_stack.delivery.stack import DeliveryConfigError, build_delivery


def main() -> None:
    app = App()
    try:
        build_delivery(app)
    except DeliveryConfigError as error:
        sys.exit(f"error: {error}")
    app.synth()


if __name__ == "__main__":
    main()
