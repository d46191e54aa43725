"""Fixtures shared by the unit tests: SSM under moto (the scripts' tests) and the payment stack (the CDK assertion
tests)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from moto import mock_aws

if TYPE_CHECKING:
    from aws_cdk.assertions import Template
    from mypy_boto3_ssm import SSMClient

    from payment_stack.payment.stack import PaymentStack


@pytest.fixture
def ssm() -> Iterator[SSMClient]:
    """An SSM client, its calls answered by moto for the test's duration."""
    with mock_aws():
        yield boto3.client("ssm")


# The CDK is imported by the two fixtures that use it: importing it here would add over a second (and a Node.js
# process) to every unit test run, the runtime's tests included.
@pytest.fixture(scope="module")
def stack() -> PaymentStack:
    """``Payment-feature-x`` with cdk.json's defaults, built once per test module (a module needing another
    environment or context builds its own with ``tests.support.cdk.payment_stack_for``)."""
    from tests.support.cdk import payment_stack_for  # noqa: PLC0415 - see above

    return payment_stack_for()


@pytest.fixture(scope="module")
def template(stack: PaymentStack) -> Template:
    """The template of ``stack``."""
    from aws_cdk.assertions import Template  # noqa: PLC0415 - see above

    return Template.from_stack(stack)
