"""Builds the payment service's adapters the same way for the API function and the hold sweeper."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.parameters import SSMProvider

from lambdas.payment_api.dynamodb_ledger import DynamoDBLedger
from lambdas.payment_api.settings import (
    SECRET_KEY_CACHE_SECONDS,
    STRIPE_CONNECT_TIMEOUT_SECONDS,
    STRIPE_READ_TIMEOUT_SECONDS,
    LedgerSettings,
)
from lambdas.payment_api.stripe_key import ssm_key_reader
from lambdas.payment_api.stripe_provider import StripeProvider

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def stripe_provider(*, key_parameter: str, key_parameters: SSMProvider, api_base: str | None) -> StripeProvider:
    """Stripe with the key read from its SecureString (cached 5 minutes by ``key_parameters``) and bounded timeouts."""
    return StripeProvider(
        key_source=ssm_key_reader(key_parameter, max_age_seconds=SECRET_KEY_CACHE_SECONDS, provider=key_parameters),
        api_base=api_base,
        connect_timeout=STRIPE_CONNECT_TIMEOUT_SECONDS,
        read_timeout=STRIPE_READ_TIMEOUT_SECONDS,
    )


def dynamodb_ledger(settings: LedgerSettings, *, client: DynamoDBClient) -> DynamoDBLedger:
    return DynamoDBLedger(table_name=settings.table_name, holds_index_name=settings.holds_index_name, client=client)
